import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { acknowledge, inCompliancePacks } from './acknowledge';

/** Properties of a {@link FraudStateTable} or {@link FraudResultsTable}. */
export interface FraudTableProps {
  /** Key encrypting the table (and its stream). */
  readonly encryptionKey: kms.IKey;
  /** What happens to the table when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/** The sparse index of open windows: hash `openShard` (the owner shard key), range `end` (window end, epoch ms). */
export const FRAUD_OPEN_INDEX = 'open';

/** Data-key use on a table's CMK: `Table.grant` grants no key actions, and without them every call is denied. */
const TABLE_KEY_ACTIONS = ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'];

/**
 * The FraudPipeline's state: one table holding window items (`w#…`), alert outbox items (`a#…`),
 * shard watermarks (`s#…`) and the shard registry (`shards`), keyed by the string `pk`, with TTL on
 * `expiresAt`, a NEW_IMAGE stream the publisher drains, and the sparse GSI `open` (windows still open,
 * per owner shard, by end). On-demand capacity, KMS, point-in-time recovery.
 */
export class FraudStateTable extends Construct {
  /** The table. */
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: FraudTableProps) {
    super(scope, id);
    // Table (not TableV2): a TableV2 with a customer key cannot synthesize in a region-agnostic stack.
    this.table = new dynamodb.Table(this, 'Resource', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: 'expiresAt',
      stream: dynamodb.StreamViewType.NEW_IMAGE,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.encryptionKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    // Sparse: only open windows carry `openShard`, so a shard's Query lists exactly its open windows.
    this.table.addGlobalSecondaryIndex({
      indexName: FRAUD_OPEN_INDEX,
      partitionKey: { name: 'openShard', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'end', type: dynamodb.AttributeType.NUMBER },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
    acknowledge(this.table, inCompliancePacks('DynamoDBInBackupPlan',
      'Point-in-time recovery is on; the table holds window state that expires by TTL days after its window closes (final results are in the results table), which an AWS Backup plan would only copy. Add it to your organisation\'s backup plan if policy requires it.', ['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321']));
  }

  /**
   * The scorer: batched reads (BatchGetItem), conditional writes in transactions (TransactWriteItems is
   * authorized per action: PutItem, UpdateItem, ConditionCheckItem), the registry's UpdateItem, and a
   * Query of the `open` index for the windows its watermark closes.
   */
  public grantScorer(grantee: iam.IGrantable): void {
    this.grantItems(grantee, 'dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem');
    this.grantOpenIndexQuery(grantee);
  }

  /** The closer: reads the registry and shard items, queries the `open` index, and ticks and closes in transactions. */
  public grantCloser(grantee: iam.IGrantable): void {
    this.grantItems(grantee, 'dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem');
    this.grantOpenIndexQuery(grantee);
  }

  /** The publisher: marks an alert delivered (UpdateItem on `deliveredAt`). Its stream read is granted by its event source. */
  public grantPublisher(grantee: iam.IGrantable): void {
    this.grantItems(grantee, 'dynamodb:UpdateItem');
  }

  /** Item actions on the table itself (Table.grant would add every index too) and the key's data-key use. */
  private grantItems(grantee: iam.IGrantable, ...actions: string[]): void {
    iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [this.table.tableArn] });
    this.table.encryptionKey?.grant(grantee, ...TABLE_KEY_ACTIONS);
  }

  private grantOpenIndexQuery(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:Query'], resourceArns: [`${this.table.tableArn}/index/${FRAUD_OPEN_INDEX}`] });
  }
}

/**
 * One final row per customer and window: hash `customer_id` (S), range `window` (S,
 * `<window_start>/<window_end>`), written once by the publisher. On-demand, KMS, point-in-time recovery.
 */
export class FraudResultsTable extends Construct {
  /** The table. */
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: FraudTableProps) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Resource', {
      partitionKey: { name: 'customer_id', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'window', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.encryptionKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    acknowledge(this.table, inCompliancePacks('DynamoDBInBackupPlan',
      'Point-in-time recovery is on (35 days). The results can be recomputed by replaying the source events into a fresh pipeline; add the table to your organisation\'s backup plan if policy requires longer retention.', ['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321']));
  }

  /** The publisher: PutItem, conditional on the row not existing yet. */
  public grantPublisher(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:PutItem'], resourceArns: [this.table.tableArn] });
    this.table.encryptionKey?.grant(grantee, ...TABLE_KEY_ACTIONS);
  }
}
