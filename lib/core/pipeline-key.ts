import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/** Properties of a {@link PipelineKey}. */
export interface PipelineKeyProps {
  /** Use this key instead of creating one. It must let CloudWatch Logs use it for log groups. @default - a customer-managed key with rotation */
  readonly key?: kms.IKey;
  /** Description of a created key. @default - 'cdk-streaming-pipelines data key' */
  readonly description?: string;
}

/**
 * The customer-managed key a pipeline encrypts its stream, buckets and log groups with.
 * A created key rotates yearly and lets CloudWatch Logs in this account and region use it.
 */
export class PipelineKey extends Construct {
  /** The key (created or given). */
  public readonly key: kms.IKey;

  constructor(scope: Construct, id: string, props: PipelineKeyProps = {}) {
    super(scope, id);
    if (props.key) {
      this.key = props.key;
      return;
    }
    const stack = Stack.of(this);
    const key = new kms.Key(this, 'Resource', {
      enableKeyRotation: true,
      description: props.description ?? 'cdk-streaming-pipelines data key',
    });
    // Log groups encrypt through the CloudWatch Logs service principal, scoped to this account's log groups.
    key.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: {
        ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:*` },
      },
    }));
    this.key = key;
  }
}
