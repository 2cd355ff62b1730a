import * as path from 'path';
import { Duration, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import {
  BundledFunction, ConsumerOrdering, EventTimeFormat, IdempotencyTable, IngestStream, ObjectLockMode, ReplayArchive,
  StreamConsumer, StreamingLake, TimeGranularity,
} from '../../lib';
import { newApp } from '../support/nag';

/**
 * test/python/app.py, line for line in TypeScript: the Python user's template must be the
 * TypeScript user's template. Change both together.
 */
export function pythonAppTwin(): Stack {
  const stack = new Stack(newApp(), 'PythonClickstream');
  const lake = new StreamingLake(stack, 'Lake', {
    schema: [
      { name: 'event_id', type: glue.Schema.STRING },
      { name: 'event_time', type: glue.Schema.STRING },
      { name: 'customer_id', type: glue.Schema.BIG_INT },
      { name: 'region', type: glue.Schema.STRING },
      { name: 'tenant', type: glue.Schema.STRING },
      { name: 'amount', type: glue.Schema.decimal(12, 2) },
      { name: 'device', type: glue.Schema.struct([{ name: 'os', type: glue.Schema.STRING }]) },
    ],
    eventTime: { field: 'event_time', format: EventTimeFormat.ISO_8601_UTC, granularity: TimeGranularity.HOUR },
    partitionKeys: [{ field: 'region', values: ['us', 'eu', 'apac'] }, { field: 'tenant' }],
    throughput: { recordsPerSecond: 2000, averageRecordBytes: 800 },
    retention: Duration.days(7),
    rawArchive: false,
  });
  const backfill = new IngestStream(stack, 'BackfillStream', { encryptionKey: lake.encryptionKey, retention: Duration.days(1) });
  new ReplayArchive(stack, 'Archive', {
    stream: lake.stream,
    encryptionKey: lake.encryptionKey,
    objectLock: { retention: Duration.days(2555), mode: ObjectLockMode.COMPLIANCE },
    replayTargets: [backfill.stream],
    writeShare: 0.25,
    monitor: lake.monitor,
  });
  const totals = new dynamodb.Table(stack, 'Totals', {
    partitionKey: { name: 'customerId', type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
    encryptionKey: lake.encryptionKey,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
  });
  const idempotency = new IdempotencyTable(stack, 'Idempotency', { encryptionKey: lake.encryptionKey });
  const fn = new BundledFunction(stack, 'CustomerTotalsFunction', {
    handler: 'customer-totals',
    code: lambda.Code.fromAsset(path.join(__dirname, '..', '..', 'assets', 'examples', 'customer-totals')),
    environment: { TOTALS_TABLE: totals.tableName, IDEMPOTENCY_TABLE: idempotency.table.tableName },
    encryptionKey: lake.encryptionKey,
    synchronousInvoker: 'A Lambda event-source mapping invokes this function synchronously.',
  }).function;
  totals.grant(fn, 'dynamodb:UpdateItem');
  lake.encryptionKey.grant(fn, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey');
  idempotency.grantStore(fn);
  const consumer = new StreamConsumer(stack, 'CustomerTotals', {
    function: fn, stream: lake.stream!, encryptionKey: lake.encryptionKey, ordering: ConsumerOrdering.PER_KEY,
  });
  lake.monitor.addConsumer('CustomerTotals', {
    function: fn, maxRecordAge: consumer.maxRecordAge,
    failureBucket: consumer.failureBucket, eventSourceMappingId: consumer.eventSource.eventSourceMappingId,
  });
  return stack;
}
