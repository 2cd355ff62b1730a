import { type CfnResource, CustomResource, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as msk from 'aws-cdk-lib/aws-msk';
import type * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, type IConstruct } from 'constructs';
import { propError } from './errors';
import { KafkaClusterType, type IKafkaCluster } from './kafka-refs';
import { PipelineKey } from './pipeline-key';
import { pollingProvider } from './provider-framework';
import { BundledFunction } from '../handlers/bundled-function';

/** Id of the singleton under the cluster construct. */
const SINGLETON_ID = 'MultiVpcIamConnectivity';
/** MSK applies the change in up to an hour; the cluster may first finish another operation. */
const TOTAL_TIMEOUT = Duration.hours(2);
const QUERY_INTERVAL = Duration.minutes(1);
/** Multi-VPC private connectivity needs Apache Kafka 2.7.1 or later. */
const MIN_KAFKA = [2, 7, 1];

/** Properties of a {@link KafkaMultiVpcConnectivity}. */
export interface KafkaMultiVpcConnectivityProps {
  /** The MSK Provisioned cluster. */
  readonly cluster: IKafkaCluster;
  /**
   * Key for the handlers' log groups and environment. A key of another stack than the cluster's is not
   * used (the cluster's stack would reference the reader's, which depends on it): one is created.
   */
  readonly encryptionKey: kms.IKey;
}

/**
 * Turns on multi-VPC private connectivity for IAM on an MSK Provisioned cluster once it exists: a
 * custom resource (CDK Provider framework, polling up to 2 h) calling `UpdateConnectivity` with the
 * cluster's CurrentVersion and waiting until the cluster is ACTIVE with it. MSK refuses the setting
 * at cluster creation (cloudformation-coverage-roadmap #1775), and Firehose's private MSK source needs
 * it. Idempotent (an enabled cluster is left alone); a delete leaves connectivity on. It also lets
 * Firehose create its VPC connection through the cluster policy. One per cluster: use {@link of}.
 *
 * The template's cluster never says multi-VPC: a later stack update that sets the cluster's
 * `ConnectivityInfo` could turn it off again under the delivery streams.
 */
export class KafkaMultiVpcConnectivity extends Construct {
  /**
   * The cluster's one instance, created under the cluster construct on first use (with the first
   * caller's key). Throws a prop error naming `propName` if the cluster cannot have multi-VPC connectivity.
   */
  public static of(scope: IConstruct, propName: string, props: KafkaMultiVpcConnectivityProps): KafkaMultiVpcConnectivity {
    KafkaMultiVpcConnectivity.validate(scope, propName, props.cluster);
    const existing = props.cluster.node.tryFindChild(SINGLETON_ID);
    if (existing instanceof KafkaMultiVpcConnectivity) return existing;
    // Under the cluster: one per cluster however many lakes read it.
    return new KafkaMultiVpcConnectivity(props.cluster as unknown as Construct, SINGLETON_ID, props);
  }

  /** What multi-VPC private connectivity requires of the cluster, checked at synth (the CR checks the live cluster too). */
  public static validate(scope: IConstruct, propName: string, cluster: IKafkaCluster): void {
    if (cluster.clusterType === KafkaClusterType.SERVERLESS) {
      throw propError(scope, propName, 'is on an MSK Serverless cluster: Firehose reads MSK privately over multi-VPC private connectivity, which is turned on with UpdateConnectivity, an MSK Provisioned API. Use a Provisioned (Standard or Express) cluster');
    }
    const type = cluster.brokerInstanceType;
    if (type !== undefined && type.startsWith('kafka.t3.')) {
      throw propError(scope, propName, `is on a cluster of ${type} brokers: multi-VPC private connectivity, which Firehose's private MSK source needs, does not support t3 brokers`);
    }
    const version = /^(\d+)\.(\d+)\.(\d+|x)/.exec(cluster.kafkaVersion ?? '');
    if (version) {
      const [maj, min, patch] = [Number(version[1]), Number(version[2]), version[3] === 'x' ? Infinity : Number(version[3])];
      const older = maj !== MIN_KAFKA[0] ? maj < MIN_KAFKA[0] : min !== MIN_KAFKA[1] ? min < MIN_KAFKA[1] : patch < MIN_KAFKA[2];
      if (older) throw propError(scope, propName, `is on Kafka ${cluster.kafkaVersion}: multi-VPC private connectivity needs Apache Kafka 2.7.1 or later`);
    }
  }

  /** The custom resource: depend on it to run after the cluster has IAM multi-VPC connectivity. */
  public readonly resource: CustomResource;
  /** The Provider framework (its functions and waiter state machine). */
  public readonly provider: cr.Provider;

  private constructor(scope: Construct, id: string, props: KafkaMultiVpcConnectivityProps) {
    super(scope, id);
    const { cluster } = props;
    const encryptionKey = Stack.of(props.encryptionKey) === Stack.of(this)
      ? props.encryptionKey
      : new PipelineKey(this, 'Key', { description: 'cdk-streaming-pipelines MSK connectivity custom resource' }).key;
    const handler = (name: string, mode: string) => {
      const fn = new BundledFunction(this, name, {
        handler: 'kafka-connectivity',
        environment: { MODE: mode },
        encryptionKey,
        timeout: Duration.minutes(1),
        synchronousInvoker: 'The CDK Provider framework invokes this function synchronously and fails the custom resource on an error.',
      }).function;
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['kafka:DescribeClusterV2', 'kafka:UpdateConnectivity'], resources: [cluster.clusterArn] }));
      return fn;
    };
    const onEvent = handler('OnEvent', 'onEvent');
    const isComplete = handler('IsComplete', 'isComplete');
    this.provider = pollingProvider(this, 'Provider', { onEvent, isComplete, encryptionKey, queryInterval: QUERY_INTERVAL, totalTimeout: TOTAL_TIMEOUT });
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: this.provider.serviceToken,
      resourceType: 'Custom::KafkaMultiVpcIamConnectivity',
      properties: { ClusterArn: cluster.clusterArn },
    });
    // Firehose creates its own VPC connection to the cluster (writing-with-msk: "grants Firehose service
    // principal the permission to invoke the Amazon MSK CreateVpcConnection API operation"). No
    // aws:SourceArn condition: AWS documents none for it, and naming a delivery stream here would make the
    // policy depend on the streams that depend on it. CreateVpcConnection gives no data access: reading
    // still needs kafka-cluster:* on the Firehose role, which only this account can grant.
    cluster.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('firehose.amazonaws.com')],
      actions: ['kafka:CreateVpcConnection'],
      resources: [cluster.clusterArn],
    }));
  }

  /**
   * Makes `resource` (a delivery stream reading the cluster) wait for the connectivity and for the
   * cluster's resource policy, wherever under the cluster construct it is rendered.
   */
  public addDependent(resource: CfnResource): void {
    resource.node.addDependency(this.resource);
    for (const child of this.node.scope!.node.findAll()) {
      if (child instanceof msk.CfnClusterPolicy) resource.node.addDependency(child);
    }
  }
}
