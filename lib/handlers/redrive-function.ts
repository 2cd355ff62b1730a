import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { BundledFunction } from './bundled-function';
import { acknowledge, wildcardUnder } from '../core/acknowledge';

/** Properties of a {@link RedriveFunction}. */
export interface RedriveFunctionProps {
  /** The stream the failed records are put back into. */
  readonly stream: kinesis.IStream;
  /**
   * The stream the failed batches were read from, read back for metadata-only failure records.
   * @default `stream`
   */
  readonly sourceStream?: kinesis.IStream;
  /** The S3 on-failure destination holding the failed batches. */
  readonly failureBucket: s3.IBucket;
  /** Key for the log group and environment. */
  readonly encryptionKey: kms.IKey;
  /** Concurrent PutRecords calls. @default 4 */
  readonly putConcurrency?: number;
}

/**
 * The bundled redrive handler, for operators: invoke it with
 * `{"bucket": "<failure bucket>", "prefix": "aws/lambda/"}` (or `"keys": [...]`)
 * and it re-puts the records of every failed batch not yet redriven through
 * the PutRecords packer, then tags each fully re-put object `redrive-status=reput`.
 *
 * It is not wired to the bucket's notifications on purpose: a record that
 * fails again would land in a new object and loop.
 */
export class RedriveFunction extends Construct {
  /** The function. */
  public readonly function: lambda.IFunction;

  constructor(scope: Construct, id: string, props: RedriveFunctionProps) {
    super(scope, id);
    const fn = new BundledFunction(this, 'Function', {
      handler: 'redrive',
      environment: {
        STREAM_ARN: props.stream.streamArn,
        PUT_CONCURRENCY: String(props.putConcurrency ?? 4),
      },
      encryptionKey: props.encryptionKey,
      // Large failure prefixes take a while; an interrupted run resumes from the untagged objects.
      timeout: Duration.minutes(15),
      synchronousInvoker: 'Operators invoke this function directly and read the summary it returns; it is not wired to asynchronous events.',
    }).function;
    // Exactly the calls lambda/redrive/index.ts makes: list, read and tag the failed batches...
    const bucket = props.failureBucket;
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:GetObjectTagging', 's3:PutObjectTagging'], resources: [bucket.arnForObjects('*')] }));
    bucket.encryptionKey?.grant(fn, 'kms:Decrypt');
    // ...re-put records, and read them back from their source stream for metadata-only failure records.
    const source = props.sourceStream ?? props.stream;
    if (source === props.stream) {
      props.stream.grant(fn, 'kinesis:PutRecords', 'kinesis:GetShardIterator', 'kinesis:GetRecords');
      props.stream.encryptionKey?.grant(fn, 'kms:GenerateDataKey', 'kms:Decrypt');
    } else {
      props.stream.grant(fn, 'kinesis:PutRecords');
      props.stream.encryptionKey?.grant(fn, 'kms:GenerateDataKey');
      source.grant(fn, 'kinesis:GetShardIterator', 'kinesis:GetRecords');
      source.encryptionKey?.grant(fn, 'kms:Decrypt');
    }
    const objects = wildcardUnder(this, bucket.bucketArn, '/*');
    if (objects) {
      acknowledge(fn.role!, {
        [objects]: 'The redrive reads and tags every failed-batch object Lambda wrote under keys it generates; the failure bucket holds nothing else.',
      });
    }
    this.function = fn;
  }
}
