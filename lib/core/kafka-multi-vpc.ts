import { CfnResource, CustomResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as msk from 'aws-cdk-lib/aws-msk';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, type IConstruct } from 'constructs';
import { acknowledge, INLINE_GRANT_POLICY, inCompliancePacks, wildcardResourceFindings } from './acknowledge';
import { ignoreCfnLint } from './cfn-lint';
import { propError } from './errors';
import { KafkaClusterType, type IKafkaCluster } from './kafka-refs';
import { PipelineKey } from './pipeline-key';
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
    const frameworkLogs = new logs.LogGroup(this, 'ProviderLogs', { encryptionKey, retention: logs.RetentionDays.ONE_YEAR, removalPolicy: RemovalPolicy.RETAIN });
    this.provider = new cr.Provider(this, 'Provider', {
      onEventHandler: onEvent,
      isCompleteHandler: isComplete,
      queryInterval: QUERY_INTERVAL,
      totalTimeout: TOTAL_TIMEOUT,
      logGroup: frameworkLogs,
      providerFunctionEnvEncryption: encryptionKey,
      // aws-cdk-lib leaves the waiter unlogged unless told otherwise.
      disableWaiterStateMachineLogging: false,
      waiterStateMachineLogOptions: { destination: frameworkLogs, level: sfn.LogLevel.ALL },
    });
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
    this.acknowledgeFindings();
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

  private acknowledgeFindings(): void {
    const framework = 'Function of the CDK Provider framework (aws-cdk-lib), deployed and versioned with aws-cdk-lib; it only relays custom-resource events to this construct\'s handlers.';
    for (const child of this.provider.node.findAll()) {
      if (child instanceof CfnResource && child.cfnResourceType === 'AWS::Lambda::Function') {
        ignoreCfnLint(child, 'W3005', 'aws-cdk-lib makes the framework function depend on its role and default policy.');
        acknowledge(child, {
          'AwsSolutions-L1': framework,
          'Serverless-LambdaLatestVersion': framework,
          'Serverless-LambdaTracing': framework,
          'Serverless-LambdaDefaultMemorySize': `${framework} aws-cdk-lib sizes it; it only relays one event at a time.`,
          'Serverless-LambdaDLQ': framework,
          'Serverless-LambdaAsyncFailureDestination': `${framework} CloudFormation waits for its answer; a failure fails the resource.`,
          ...inCompliancePacks('LambdaInsideVPC', `${framework} It calls only AWS APIs (Lambda, Step Functions, CloudFormation's response URL).`),
          ...inCompliancePacks('LambdaDLQ', framework, ['HIPAA.Security', 'NIST.800.53.R5']),
          ...inCompliancePacks('LambdaConcurrency', framework, ['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321']),
        });
      }
      if (child instanceof iam.Role) {
        acknowledge(child, {
          ...inCompliancePacks('IAMNoInlinePolicy', INLINE_GRANT_POLICY),
          'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]': `${framework} aws-cdk-lib attaches this policy to it for its logs.`,
          ...wildcardResourceFindings(child, (child.node.tryFindChild('DefaultPolicy') as iam.Policy | undefined)?.document, 'The Provider framework invokes this construct\'s handlers and their versions, and polls its own waiter state machine executions; aws-cdk-lib generates these grants.'),
        });
      }
      if (child instanceof CfnResource && child.cfnResourceType === 'AWS::StepFunctions::StateMachine') {
        ignoreCfnLint(child, 'W3005', 'aws-cdk-lib makes the waiter state machine depend on its role and default policy.');
        acknowledge(child, {
          'AwsSolutions-SF2': 'The waiter state machine of the CDK Provider framework only loops isComplete calls; X-Ray traces of it would show no application work.',
          'Serverless-StepFunctionStateMachineXray': 'The waiter state machine of the CDK Provider framework only loops isComplete calls; X-Ray traces of it would show no application work.',
        });
      }
    }
  }
}
