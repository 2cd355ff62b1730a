import { Duration, Stack } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { BundledFunction } from './bundled-function';
import { propError } from '../core/errors';
import type { PartitionSpec } from '../core/partition-spec';

/** Lambda caps a function's environment variables at 4 KB in total; a larger set fails at deploy. */
export const MAX_LAMBDA_ENVIRONMENT_BYTES = 4096;

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
    this.checkEnvironmentSize();
  }

  /** The enum lists travel in PARTITION_VALUES, so long enums can overflow Lambda's 4 KB environment. */
  private checkEnvironmentSize(): void {
    const cfn = this.function.node.defaultChild as lambda.CfnFunction;
    const variables: { [key: string]: unknown } = Stack.of(this).resolve(cfn.environment)?.variables ?? {};
    // Names plus values: the least Lambda counts.
    const bytes = (key: string) => Buffer.byteLength(key) + (typeof variables[key] === 'string' ? Buffer.byteLength(variables[key] as string) : 0);
    const total = Object.keys(variables).reduce((sum, key) => sum + bytes(key), 0);
    if (total > MAX_LAMBDA_ENVIRONMENT_BYTES) {
      throw propError(this, 'partitions', `give the transform handler a ${total}-byte environment, over Lambda's 4 KB limit; PARTITION_VALUES (the enum values) takes ${bytes('PARTITION_VALUES')} bytes: list fewer or shorter enum \`values\`, or drop them (the key is then projected as injected)`);
    }
  }
}
