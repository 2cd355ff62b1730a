import { App, Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { exampleSchema } from '../bin/examples';
import { namePropsAs } from '../lib/core/errors';
import { MAX_INTEGRATIONS_PER_TARGET, RedshiftAutoCopy } from '../lib/core/redshift-auto-copy';
import { StreamingLake } from '../lib/streaming-lake/streaming-lake';
import { newApp } from './support/nag';
import { StubRedshiftWarehouse } from './support/redshift-warehouse-stub';

const env = { region: 'eu-west-1', account: '111122223333' };
const lakeOf = (scope: Construct, id: string, extra: object = {}) =>
  new StreamingLake(scope, id, { schema: exampleSchema, eventTime: { field: 'event_time' }, rawArchive: false, ...extra });

/**
 * A stand-in for a lake where only the limit is under test: what RedshiftAutoCopy reads of a lake
 * (bucket, key, Glue columns, data prefix), without building 51 Firehose pipelines.
 */
function bareLake(scope: Construct, id: string): StreamingLake {
  const c = new Construct(scope, id);
  const encryptionKey = new kms.Key(c, 'Key');
  const bucket = new s3.Bucket(c, 'Bucket', { encryptionKey });
  return { bucket, encryptionKey, table: { columns: exampleSchema }, partitions: { dataPrefix: 'data/' }, node: c.node } as unknown as StreamingLake;
}

describe('RedshiftAutoCopy synth-time rules', () => {
  let app: App;
  let stack: Stack;
  let lake: StreamingLake;
  let warehouse: StubRedshiftWarehouse;
  let n = 0;
  const copy = (props: object) => () => new RedshiftAutoCopy(stack, `Copy${n++}`, { warehouse, lake, table: 'events', ...props });
  beforeAll(() => {
    app = newApp();
    stack = new Stack(app, 'Rules', { env });
    lake = lakeOf(stack, 'Lake');
    warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
  });

  test('`table` must be a lowercase Redshift identifier', () => {
    expect(copy({ table: 'My-Table' })).toThrow(/`table` \('My-Table'\) must start with a lowercase letter or underscore/);
    expect(copy({ table: 'x"; drop table users; --' })).toThrow(/`table` \('x"; drop table users; --'\) must start with a lowercase letter/);
  });

  test('`schema` must be a lowercase Redshift identifier', () => {
    expect(copy({ schema: 'Sales' })).toThrow(/`schema` \('Sales'\) must start with a lowercase letter or underscore and hold only/);
    expect(copy({ schema: 's'.repeat(128) })).toThrow(/`schema` \('s{128}'\) must be at most 127 bytes/);
  });

  test('`jobName` allows no hyphens', () => {
    expect(copy({ jobName: 'events-load' })).toThrow(/`jobName` \('events-load'\) COPY JOB names allow no hyphens; must start with a lowercase letter/);
    expect(copy({ jobName: 'Events' })).toThrow(/`jobName` \('Events'\) must start with a lowercase letter/);
  });

  test('two auto-copies of one lake into one warehouse are refused (one integration per bucket and target)', () => {
    copy({ table: 'first' })();
    expect(copy({ table: 'second' })).toThrow(/`lake` \('Rules\/Lake\/Curated\/Resource'\) already loads into this warehouse through Rules\/Copy\d+: an S3 event integration is one per bucket and target/);
    // Another warehouse is another target.
    const other = new StubRedshiftWarehouse(stack, 'Other');
    expect(() => new RedshiftAutoCopy(stack, 'IntoOther', { warehouse: other, lake, table: 'first' })).not.toThrow();
  });

  test('a COPY JOB name is unique in a warehouse', () => {
    const second = lakeOf(stack, 'Second');
    const third = lakeOf(stack, 'Third');
    new RedshiftAutoCopy(stack, 'Orders', { warehouse, lake: second, table: 'orders' });
    expect(() => new RedshiftAutoCopy(stack, 'Orders2', { warehouse, lake: third, table: 'orders', schema: 'public' }))
      .toThrow(/`table` gives the COPY JOB name 'orders_autocopy', which Rules\/Orders already uses in this warehouse; set `jobName`/);
    expect(() => new RedshiftAutoCopy(stack, 'Orders3', { warehouse, lake: third, table: 'orders2', jobName: 'orders_autocopy' }))
      .toThrow(/`jobName` gives the COPY JOB name 'orders_autocopy', which Rules\/Orders already uses/);
  });

  test('a warehouse in another Region than the auto-copy is refused', () => {
    const there = new Stack(app, 'Elsewhere', { env: { region: 'us-east-1', account: env.account } });
    const far = new StubRedshiftWarehouse(there, 'Warehouse');
    expect(() => new RedshiftAutoCopy(stack, 'Far', { warehouse: far, lake, table: 'events' }))
      .toThrow(/`warehouse` is in Region us-east-1, this auto-copy's stack in eu-west-1; an S3 event integration needs the bucket, the integration and the warehouse in one Region/);
  });
});

describe('RedshiftAutoCopy: the lake\'s bucket', () => {
  const build = (bucket: (s: Stack) => s3.IBucket, context?: { [key: string]: unknown }) => () => {
    const stack = new Stack(newApp(context), 'Bucket', { env });
    new RedshiftAutoCopy(stack, 'Copy', { warehouse: new StubRedshiftWarehouse(stack, 'Warehouse'), lake: lakeOf(stack, 'Lake', { bucket: bucket(stack) }), table: 'events' });
  };

  test('a bucket name with a dot is refused', () => {
    expect(build((s) => s3.Bucket.fromBucketName(s, 'B', 'my.curated.bucket')))
      .toThrow(/`lake.bucket` \('my.curated.bucket'\) has a dot in its name; S3 event integrations refuse such buckets/);
  });

  test('a bucket in another Region is refused', () => {
    expect(build((s) => s3.Bucket.fromBucketAttributes(s, 'B', { bucketName: 'curated', region: 'us-west-2' })))
      .toThrow(/`lake.bucket` is in Region us-west-2, this auto-copy's stack in eu-west-1/);
  });

  test('a bucket in another account is refused', () => {
    expect(build((s) => s3.Bucket.fromBucketAttributes(s, 'B', { bucketName: 'curated', account: '444455556666' })))
      .toThrow(/`lake.bucket` is in account 444455556666, this auto-copy's stack in 111122223333/);
  });

  test('an imported bucket whose policy the app cannot change is refused', () => {
    expect(build((s) => s3.Bucket.fromBucketName(s, 'B', 'curated')))
      .toThrow(/`lake.bucket` \('curated'\) is an imported bucket whose policy this app cannot change; .*redshift.amazonaws.com s3:GetBucketNotification, s3:PutBucketNotification and s3:GetBucketLocation/);
  });
});

describe('RedshiftAutoCopy: CDK bucket notifications on the lake\'s bucket', () => {
  const synthWith = (context?: { [key: string]: unknown }) => () => {
    const app = newApp(context);
    const stack = new Stack(app, 'Notified', { env });
    const lake = lakeOf(stack, 'Lake');
    new RedshiftAutoCopy(stack, 'Copy', { warehouse: new StubRedshiftWarehouse(stack, 'Warehouse'), lake, table: 'events' });
    // Added after the auto-copy: the check runs at synth.
    lake.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(new sqs.Queue(stack, 'Queue')), { prefix: 'data/' });
    app.synth();
  };

  test('are refused when CDK manages them (its handler replaces the whole configuration, Redshift\'s included)', () => {
    expect(synthWith()).toThrow(/`lake` has CDK bucket notifications \(addEventNotification or EventBridge, Notified\/Lake\/Curated\/Resource\/Notifications\): CDK manages that bucket's notifications and puts its whole notification configuration on every update and on delete, removing the one Redshift's S3 event integration adds/);
  });

  test('are refused when unmanaged too: the integration needs no other ObjectCreated notification', () => {
    expect(synthWith({ '@aws-cdk/aws-s3:keepNotificationInImportedBucket': true }))
      .toThrow(/`lake` has CDK bucket notifications .*: an S3 event integration needs the bucket to have no other ObjectCreated notification/);
  });
});

test('a lake column with no Redshift type is refused, naming the column and the lake\'s prop as the parent names it', () => {
  const stack = new Stack(newApp(), 'Columns', { env });
  const schema = [...exampleSchema, { name: 'choice', type: { inputString: 'uniontype<int,string>', isPrimitive: false } as glue.Type }];
  const lake = lakeOf(stack, 'Lake', { schema });
  const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
  expect(() => new RedshiftAutoCopy(stack, 'Copy', { warehouse, lake, table: 'events' }))
    .toThrow(new RegExp(`\`lake.schema\\[${exampleSchema.length}\\].type\` \\(column 'choice', Glue type 'uniontype<int,string>'\\) has no Redshift type a Parquet COPY can load into`));
  // An L3 passing its own prop on as `lake` gets its own name in the error.
  const parent = new Construct(stack, 'Parent');
  namePropsAs(parent, 'Copy', { lake: 'sources.lake' });
  expect(() => new RedshiftAutoCopy(parent, 'Copy', { warehouse, lake, table: 'events' })).toThrow(/`sources.lake.schema\[15\].type` \(column 'choice'/);
});

test(`at most ${MAX_INTEGRATIONS_PER_TARGET} auto-copies (S3 event integrations) per warehouse`, () => {
  const stack = new Stack(newApp(), 'Many', { env });
  const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
  for (let i = 0; i < MAX_INTEGRATIONS_PER_TARGET; i++) {
    new RedshiftAutoCopy(stack, `Copy${i}`, { warehouse, lake: bareLake(stack, `Lake${i}`), table: `t${i}` });
  }
  expect(() => new RedshiftAutoCopy(stack, 'OneTooMany', { warehouse, lake: bareLake(stack, 'Last'), table: 'last' }))
    .toThrow(/`warehouse` already has 50 auto-copies; Redshift allows at most 50 S3 event integrations per target/);
});
