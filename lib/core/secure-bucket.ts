import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, inCompliancePacks } from './acknowledge';
import { propError } from './errors';

/** When objects move to cheaper tiers and expire. */
export interface LifecycleOptions {
  /** Move current objects to S3 Standard-IA after this long (at least 30 days). @default Duration.days(30) */
  readonly infrequentAccessAfter?: Duration;
  /** Move current objects to Glacier Instant Retrieval after this long. @default Duration.days(90) */
  readonly archiveAfter?: Duration;
  /** Delete current objects after this long. @default - never */
  readonly expireAfter?: Duration;
  /** Delete overwritten or deleted (noncurrent) versions after this long. @default Duration.days(30) */
  readonly noncurrentVersionsExpireAfter?: Duration;
}

/** S3 Object Lock modes. */
export enum ObjectLockMode {
  /** Users with `s3:BypassGovernanceRetention` can still delete or shorten retention. */
  GOVERNANCE = 'GOVERNANCE',
  /** Nobody, the root user included, can delete a locked version or shorten its retention until it expires. */
  COMPLIANCE = 'COMPLIANCE',
}

/** Properties of a {@link SecureBucket}. */
export interface SecureBucketProps {
  /** KMS key for default encryption. */
  readonly encryptionKey: kms.IKey;
  /** Bucket receiving this bucket's server access logs. */
  readonly accessLogs: s3.IBucket;
  /** Prefix of this bucket's access logs in `accessLogs`. */
  readonly accessLogsPrefix: string;
  /** Tiering and expiry. @default - see LifecycleOptions */
  readonly lifecycle?: LifecycleOptions;
  /** What happens to the data when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Write-once retention in S3 Object Lock (mode `objectLockMode`): object
   * versions cannot be overwritten or deleted for this long.
   * @default - no Object Lock
   */
  readonly objectLockRetention?: Duration;
  /** Object Lock mode of `objectLockRetention`. @default ObjectLockMode.GOVERNANCE */
  readonly objectLockMode?: ObjectLockMode;
  /** Name of the lifecycle prop in the L3, for error messages. @default 'lifecycle' */
  readonly lifecyclePropName?: string;
}

/** Incomplete multipart uploads are invisible but billed; abort them. */
export const ABORT_INCOMPLETE_UPLOADS_AFTER = Duration.days(7);

/**
 * A data bucket a security reviewer accepts: KMS by default, TLS only, all public
 * access blocked, versioned, access-logged, tiered, and retained by default.
 */
export class SecureBucket extends Construct {
  /** The bucket. */
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: SecureBucketProps) {
    super(scope, id);
    const lc = props.lifecycle ?? {};
    SecureBucket.validateLifecycle(this, lc, props.lifecyclePropName ?? 'lifecycle', props.objectLockRetention);
    const ia = lc.infrequentAccessAfter ?? Duration.days(30);
    const archive = lc.archiveAfter ?? Duration.days(90);
    if (props.objectLockMode !== undefined && !props.objectLockRetention) {
      throw propError(this, 'objectLockMode', 'needs objectLockRetention (the retention period of the lock)');
    }
    this.bucket = new s3.Bucket(this, 'Resource', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: props.encryptionKey,
      bucketKeyEnabled: true,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      objectLockEnabled: props.objectLockRetention ? true : undefined,
      objectLockDefaultRetention: props.objectLockRetention
        ? (props.objectLockMode === ObjectLockMode.COMPLIANCE ? s3.ObjectLockRetention.compliance : s3.ObjectLockRetention.governance)(props.objectLockRetention)
        : undefined,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: props.accessLogsPrefix,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      lifecycleRules: [{
        id: 'tiering-and-expiry',
        abortIncompleteMultipartUploadAfter: ABORT_INCOMPLETE_UPLOADS_AFTER,
        noncurrentVersionExpiration: lc.noncurrentVersionsExpireAfter ?? Duration.days(30),
        expiration: lc.expireAfter,
        transitions: [
          { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: ia },
          { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: archive },
        ],
      }],
    });
    acknowledge(this.bucket, inCompliancePacks('S3BucketReplicationEnabled',
      'Versioned, KMS-encrypted, retained data bucket in one region. Cross-region replication is a disaster-recovery decision that needs a destination bucket and key in another region, which this region-agnostic construct cannot own.'));
  }

  /**
   * Checks the lifecycle rules' order and minimums, naming the prop `name` the user set (L3s call it
   * to report their own prop names).
   */
  public static validateLifecycle(scope: Construct, lc: LifecycleOptions, name: string, objectLockRetention?: Duration): void {
    const ia = lc.infrequentAccessAfter ?? Duration.days(30);
    const archive = lc.archiveAfter ?? Duration.days(90);
    if (ia.toDays() < 30) throw propError(scope, `${name}.infrequentAccessAfter`, `(${ia.toDays()} days) must be at least 30 days, S3's minimum for Standard-IA`);
    if (archive.toDays() <= ia.toDays()) throw propError(scope, `${name}.archiveAfter`, `(${archive.toDays()} days) must come after infrequentAccessAfter (${ia.toDays()} days)`);
    if (objectLockRetention && lc.expireAfter && lc.expireAfter.toDays() < objectLockRetention.toDays()) {
      throw propError(scope, `${name}.expireAfter`, `(${lc.expireAfter.toDays()} days) is shorter than the Object Lock retention (${objectLockRetention.toDays()} days)`);
    }
    if (lc.expireAfter && lc.expireAfter.toDays() <= archive.toDays()) {
      throw propError(scope, `${name}.expireAfter`, `(${lc.expireAfter.toDays()} days) must come after archiveAfter (${archive.toDays()} days)`);
    }
  }
}