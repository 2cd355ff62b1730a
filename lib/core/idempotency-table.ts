import { RemovalPolicy, ValidationError } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { acknowledge, inCompliancePacks } from './acknowledge';

/** Properties of an {@link IdempotencyTable}. */
export interface IdempotencyTableProps {
  /** Key encrypting the table. */
  readonly encryptionKey: kms.IKey;
  /** What happens to the table when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/** The environment variable the runtime's `batchHandler` reads the table name from. */
export const IDEMPOTENCY_TABLE_ENV = 'IDEMPOTENCY_TABLE';

/** Names the runtime's DynamoDB store expects. */
export const IDEMPOTENCY_PARTITION_KEY = 'pk';
export const IDEMPOTENCY_TTL_ATTRIBUTE = 'expiresAt';

/**
 * The DynamoDB table behind the runtime's batched idempotency store: `pk` (S),
 * TTL on `expiresAt`, on-demand capacity, KMS, point-in-time recovery.
 */
export class IdempotencyTable extends Construct {
  /** The table. */
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: IdempotencyTableProps) {
    super(scope, id);
    // Table (not TableV2): a TableV2 with a customer key cannot synthesize in a region-agnostic stack.
    this.table = new dynamodb.Table(this, 'Resource', {
      partitionKey: { name: IDEMPOTENCY_PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: IDEMPOTENCY_TTL_ATTRIBUTE,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.encryptionKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    acknowledge(this.table, inCompliancePacks('DynamoDBInBackupPlan',
      'Point-in-time recovery is on; the table holds short-lived idempotency keys that expire by TTL, which an AWS Backup plan would only copy. Add the table to your organisation\'s backup plan if policy requires it.', ['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321']));
  }

  /**
   * Grants what the store needs: conditional writes in transactions, batched reads, deletes, and the
   * table key's data-key use (`Table.grant` grants no key actions; without them every call is denied).
   * A Lambda function also gets `IDEMPOTENCY_TABLE` set to the table's name, which the runtime's
   * `batchHandler` reads when `idempotency.tableName` is not given.
   */
  public grantStore(grantee: iam.IGrantable): void {
    if (grantee instanceof lambda.Function) this.wireEnvironment(grantee);
    this.table.grant(grantee, 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:BatchGetItem', 'dynamodb:GetItem');
    this.table.encryptionKey?.grant(grantee, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey');
  }

  private wireEnvironment(fn: lambda.Function): void {
    // One variable names one table: a second table on the same function must be named in code.
    const wired = WIRED.get(fn);
    if (wired !== undefined && wired !== this) {
      throw new ValidationError('StreamingPipelinesIdempotencyTableConflict' as never, `grantStore: ${fn.node.path} already reads ${IDEMPOTENCY_TABLE_ENV} from ${wired.node.path}; a function using two idempotency tables must pass idempotency.tableName for each`, this);
    }
    WIRED.set(fn, this);
    fn.addEnvironment(IDEMPOTENCY_TABLE_ENV, this.table.tableName);
  }
}

const WIRED = new WeakMap<lambda.Function, IdempotencyTable>();
