import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';
import { acknowledge, inCompliancePacks } from './acknowledge';

/** Properties of an {@link AccessLogBucket}. */
export interface AccessLogBucketProps {
  /** Delete access logs after this long. @default Duration.days(365) */
  readonly retention?: Duration;
}

/**
 * The bucket that receives S3 server access logs of a pipeline's data buckets.
 * S3 log delivery only writes to SSE-S3 buckets, and a log bucket logging to
 * itself would loop, so those two findings are acknowledged here.
 */
export class AccessLogBucket extends Construct {
  /** The bucket. */
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: AccessLogBucketProps = {}) {
    super(scope, id);
    // Log delivery through a bucket policy scoped to the source buckets, not the legacy ACL,
    // whatever the consumer app's feature flags: the bucket enforces bucket-owner object ownership.
    this.node.setContext(cxapi.S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);
    this.bucket = new s3.Bucket(this, 'Resource', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{
        id: 'expire-access-logs',
        expiration: props.retention ?? Duration.days(365),
        noncurrentVersionExpiration: Duration.days(30),
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      }],
    });
    const selfLog = 'This bucket is the server access log destination; logging it to itself would create a write loop, and a second log bucket would only move the finding.';
    const sseS3 = 'S3 server access log delivery supports only SSE-S3 on the destination bucket; SSE-KMS would make log delivery fail. The bucket is TLS-only with all public access blocked.';
    acknowledge(this.bucket, {
      'AwsSolutions-S1': selfLog,
      ...inCompliancePacks('S3BucketLoggingEnabled', selfLog),
      ...inCompliancePacks('S3DefaultEncryptionKMS', sseS3),
      ...inCompliancePacks('S3BucketReplicationEnabled', 'Access logs are audit copies of requests, not primary data; replicating them cross-region is left to the account-level logging strategy.'),
    });
  }
}
