import { AspectPriority, Aspects, Token, type IAspect } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { acknowledge, wildcardUnder } from './acknowledge';

/**
 * Makes an event-source mapping publish its `EventCount` metrics, keeping any it already publishes.
 * Their `OnFailureDestinationDeliveredEventCount` is what the failed-batches alarm of an S3
 * destination counts: S3's own `PutRequests` also counts the redrive's PutObjectTagging calls.
 */
class PublishEventCounts implements IAspect {
  public visit(node: IConstruct): void {
    if (!(node instanceof lambda.CfnEventSourceMapping)) return;
    const config = node.metricsConfig;
    if (config !== undefined && Token.isUnresolved(config)) return;
    const metrics = (config as lambda.CfnEventSourceMapping.MetricsConfigProperty | undefined)?.metrics ?? [];
    if (!metrics.includes(lambda.MetricType.EVENT_COUNT)) node.metricsConfig = { metrics: [...metrics, lambda.MetricType.EVENT_COUNT] };
  }
}

/**
 * An S3 on-failure destination granting the function exactly what Lambda's
 * docs list for it: `s3:PutObject` on the objects, `s3:ListBucket` on the
 * bucket and `kms:GenerateDataKey` on its key. CDK's `S3OnFailureDestination`
 * grants read, write and delete on the whole bucket. The mapping publishes its
 * `EventCount` metrics, which the monitor's failed-batches alarm counts.
 */
export class S3FailureDestination implements lambda.IEventSourceDlq {
  constructor(private readonly bucket: s3.IBucket) {}

  public bind(target: lambda.IEventSourceMapping, targetHandler: lambda.IFunction): lambda.DlqDestinationConfig {
    // The mapping's resource is created after this bind, so it is changed at synth.
    Aspects.of(target).add(new PublishEventCounts(), { priority: AspectPriority.MUTATING });
    targetHandler.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects('*')] }));
    targetHandler.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }));
    this.bucket.encryptionKey?.grant(targetHandler, 'kms:GenerateDataKey');
    const objects = wildcardUnder(this.bucket, this.bucket.bucketArn, '/*');
    if (objects && targetHandler.role) {
      acknowledge(targetHandler.role, {
        [objects]: 'Lambda writes each failed batch to an object key it generates (aws/lambda/<mapping>/<shard>/<date>/...); PutObject on the failure bucket\'s objects is the narrowest grant that allows it.',
      });
    }
    return { destination: this.bucket.bucketArn };
  }
}

/**
 * An SQS on-failure destination granting `sqs:SendMessage` on the queue and,
 * for a KMS queue, `kms:Decrypt` and `kms:GenerateDataKey` on its key, as
 * Lambda's docs list them; CDK's `SqsDlq` adds GetQueueAttributes, GetQueueUrl
 * and the key's wildcard actions.
 */
export class SqsFailureDestination implements lambda.IEventSourceDlq {
  constructor(private readonly queue: sqs.IQueue) {}

  public bind(_target: lambda.IEventSourceMapping, targetHandler: lambda.IFunction): lambda.DlqDestinationConfig {
    targetHandler.addToRolePolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.queue.queueArn] }));
    this.queue.encryptionMasterKey?.grant(targetHandler, 'kms:Decrypt', 'kms:GenerateDataKey');
    return { destination: this.queue.queueArn };
  }
}
