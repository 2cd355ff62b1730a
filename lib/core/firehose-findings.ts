import type * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { acknowledge, INLINE_GRANT_POLICY, inCompliancePacks, wildcardFindings } from './acknowledge';

/** What a Firehose delivery stream (Kinesis source, S3 destination) writes to and invokes. */
export interface FirehoseFindingsScope {
  /** Buckets the destination role writes (data and backup). */
  readonly buckets: s3.IBucket[];
  /** The processor function, if any. */
  readonly processor?: lambda.IFunction;
  /** Extra findings on the destination role, e.g. the Glue schema read of a Parquet conversion. */
  readonly extra?: { [id: string]: string };
  /** Why the delivery stream has no server-side encryption. @default - the Kinesis-source reason */
  readonly noSseReason?: string;
}

/**
 * Acknowledges what the Firehose L2 grants its own roles (Kinesis source, S3
 * destination), each finding on its exact role. Shared by every delivery stream
 * the library builds (through s3DeliveryStream, which drops the L2's unused CIDR mapping).
 */
export function acknowledgeFirehoseFindings(scope: Construct, delivery: firehose.DeliveryStream, what: FirehoseFindingsScope): void {
  acknowledge(delivery, {
    'AwsSolutions-KDF1': what.noSseReason ?? 'Firehose does not allow server-side encryption on a delivery stream whose source is a Kinesis data stream (CDK rejects it). Records are encrypted at rest by the source stream\'s KMS key and written to S3 with SSE-KMS under the pipeline key.',
  });
  const sourceRole = delivery.node.tryFindChild('Service Role');
  if (sourceRole) acknowledge(sourceRole, inCompliancePacks('IAMNoInlinePolicy', INLINE_GRANT_POLICY));
  const role = delivery.node.tryFindChild('S3 Destination Role');
  if (role) {
    const grant = 'Added by the Firehose L2\'s read-write grant on the pipeline\'s own bucket only; Firehose needs bucket location, listing, object reads and multipart abort to write and resume multipart uploads, and the grant cannot be narrowed without forking the L2.';
    const objects = 'Firehose writes objects under partitions known only per record; the wildcard covers objects of this one bucket.';
    acknowledge(role, {
      ...inCompliancePacks('IAMNoInlinePolicy', INLINE_GRANT_POLICY),
      'AwsSolutions-IAM5[Action::s3:GetObject*]': grant,
      'AwsSolutions-IAM5[Action::s3:GetBucket*]': grant,
      'AwsSolutions-IAM5[Action::s3:List*]': grant,
      'AwsSolutions-IAM5[Action::s3:Abort*]': grant,
      'AwsSolutions-IAM5[Action::s3:DeleteObject*]': `${grant} The buckets are versioned, so a delete only adds a recoverable delete marker.`,
      'AwsSolutions-IAM5[Action::kms:ReEncrypt*]': 'Firehose writes objects with SSE-KMS under the pipeline key; the KMS actions are scoped to that one key ARN.',
      'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]': 'Firehose writes objects with SSE-KMS under the pipeline key; the KMS actions are scoped to that one key ARN.',
      ...what.extra,
      ...wildcardFindings(scope, [
        ...what.buckets.map((b): [string, string, string] => [b.bucketArn, '/*', objects]),
        [what.processor?.functionArn, ':*', 'lambda:InvokeFunction on the processor function and its versions only.'],
      ]),
    });
  }
}
