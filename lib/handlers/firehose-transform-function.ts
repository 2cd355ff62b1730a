import { Duration } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { BundledFunction } from './bundled-function';
import type { PartitionSpec } from '../core/partition-spec';

/** Properties of a {@link FirehoseTransformFunction}. */
export interface FirehoseTransformFunctionProps {
  /** The partition layout the handler computes keys for. */
  readonly partitions: PartitionSpec;
  /** Key for the log group and environment. */
  readonly encryptionKey: kms.IKey;
  /** Top-level column → dotted payload path, copied to the top level for the Parquet schema. @default - none */
  readonly flatten?: { [column: string]: string };
}

/**
 * The bundled Firehose transformation handler: event time normalized to UTC,
 * partition keys in `metadata.partitionKeys`, failed records returned as
 * `ProcessingFailed` (they land in the error prefix, never dropped).
 */
export class FirehoseTransformFunction extends Construct {
  /** The function. */
  public readonly function: lambda.IFunction;

  constructor(scope: Construct, id: string, props: FirehoseTransformFunctionProps) {
    super(scope, id);
    this.function = new BundledFunction(this, 'Function', {
      handler: 'firehose-transform',
      environment: props.partitions.handlerEnvironment(props.flatten ?? {}),
      encryptionKey: props.encryptionKey,
      // Firehose waits up to 5 minutes per invocation; 1 MiB batches finish in well under a minute.
      timeout: Duration.minutes(1),
      synchronousInvoker: 'Firehose invokes this function synchronously and routes failed records to the error prefix itself.',
    }).function;
  }
}
