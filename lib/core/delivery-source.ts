import type * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as kfh from 'aws-cdk-lib/aws-kinesisfirehose';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { acknowledge, wildcardResourceFindings } from './acknowledge';
import { propError } from './errors';
import { KafkaMultiVpcConnectivity } from './kafka-multi-vpc';
import type { IKafkaTopic } from './kafka-refs';

/** Firehose's "earliest offset" start position (MSKSourceConfiguration.ReadFromTimestamp). */
export const EARLIEST = '1970-01-01T00:00:00Z';

/**
 * Firehose reading one MSK topic over private (multi-VPC) connectivity with IAM. The Firehose L2 only
 * knows Kinesis sources: `_bind` supplies `MSKSourceConfiguration`, and {@link DeliverySource.finish}
 * sets `DeliveryStreamType: MSKAsSource`, which the L2 hard-codes to `KinesisStreamAsSource`.
 */
class KafkaTopicSource implements firehose.ISource {
  constructor(private readonly topic: IKafkaTopic) {}

  /** What Firehose's role needs to read the topic (Firehose "Grant Firehose access to your private Amazon MSK cluster"). */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    const cluster = this.topic.cluster;
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['kafka:GetBootstrapBrokers', 'kafka:DescribeCluster', 'kafka:DescribeClusterV2', 'kafka-cluster:Connect'],
      resourceArns: [cluster.clusterArn],
    });
    // Firehose picks its own consumer group id, so the group ARN can only be a wildcard under this cluster.
    iam.Grant.addToPrincipal({ grantee, actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'], resourceArns: [cluster.groupArn('*')] });
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:DescribeTopicDynamicConfiguration', 'kafka-cluster:ReadData'],
      resourceArns: [this.topic.topicArn],
    });
  }

  /** @internal */
  public _bind(_scope: Construct, roleArn?: string): { mskSourceConfiguration: kfh.CfnDeliveryStream.MSKSourceConfigurationProperty } {
    return {
      mskSourceConfiguration: {
        mskClusterArn: this.topic.cluster.clusterArn,
        topicName: this.topic.topicName,
        authenticationConfiguration: { roleArn: roleArn!, connectivity: 'PRIVATE' },
        // Firehose otherwise starts at the time it becomes active: records produced before, including
        // during the hour multi-VPC connectivity takes, would be in neither zone. Epoch = the earliest offset.
        readFromTimestamp: EARLIEST,
      },
    };
  }
}

/** The source of a delivery stream: a Kinesis stream or an MSK topic (exactly one). */
export interface DeliverySourceProps {
  readonly stream?: kinesis.IStream;
  readonly topic?: IKafkaTopic;
  /** Key of the connectivity custom resource's functions, when the source is a topic. */
  readonly encryptionKey: kms.IKey;
}

/** A delivery stream's source, and what the stream needs once created. */
export class DeliverySource {
  /** The L2 source. */
  public readonly source: firehose.ISource;
  /** The topic, when the source is MSK. */
  public readonly topic?: IKafkaTopic;
  private readonly connectivity?: KafkaMultiVpcConnectivity;

  constructor(scope: Construct, props: DeliverySourceProps) {
    if ((props.stream === undefined) === (props.topic === undefined)) {
      throw propError(scope, 'stream', `and \`topic\` are exclusive and one is required (${props.stream ? 'both are' : 'neither is'} given): a delivery reads a Kinesis stream or an MSK topic`);
    }
    this.topic = props.topic;
    if (props.topic) {
      this.connectivity = KafkaMultiVpcConnectivity.of(scope, 'topic', { cluster: props.topic.cluster, encryptionKey: props.encryptionKey });
      this.source = new KafkaTopicSource(props.topic);
    } else {
      this.source = new kfh.KinesisStreamSource(props.stream!);
    }
  }

  /** Reason of the AwsSolutions-KDF1 acknowledgement (no server-side encryption on the delivery stream). */
  public get noSseReason(): string {
    return this.topic
      ? 'Firehose allows server-side encryption only on Direct PUT delivery streams; this one reads an MSK topic, whose cluster encrypts records at rest with its KMS key, and writes them to S3 with SSE-KMS under the pipeline key.'
      : 'Firehose does not allow server-side encryption on a delivery stream whose source is a Kinesis data stream (CDK rejects it). Records are encrypted at rest by the source stream\'s KMS key and written to S3 with SSE-KMS under the pipeline key.';
  }

  /** Makes an MSK-sourced stream `MSKAsSource`, waiting for multi-VPC connectivity and the cluster policy. */
  public finish(deliveryStream: firehose.DeliveryStream): void {
    if (!this.topic) return;
    const cfn = deliveryStream.node.defaultChild as kfh.CfnDeliveryStream;
    cfn.deliveryStreamType = 'MSKAsSource';
    this.connectivity!.addDependent(cfn);
    const role = deliveryStream.node.tryFindChild('Service Role');
    if (role) {
      // The id cdk-nag gives the group wildcard, however the cluster ARN is tokenized.
      const groups = new iam.PolicyDocument({ statements: [new iam.PolicyStatement({ actions: ['kafka-cluster:DescribeGroup'], resources: [this.topic.cluster.groupArn('*')] })] });
      acknowledge(role, wildcardResourceFindings(deliveryStream, groups, 'Firehose reads the topic as a consumer group whose id Firehose chooses and does not expose, so kafka-cluster:DescribeGroup/AlterGroup can only name the groups of this one cluster (group/<cluster>/<uuid>/*).'));
    }
  }
}
