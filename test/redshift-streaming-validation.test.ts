import { type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import { RedshiftStreamingIngestion, type RedshiftStreamingIngestionProps } from '../lib';
import { acknowledge } from '../lib/core/acknowledge';
import { KafkaClusterType } from '../lib/core/kafka-refs';
import { StubKafkaCluster, StubKafkaTopic } from './support/kafka-cluster-stub';
import { fixtureVpc } from './support/kafka-fixture-vpc';
import { expectNagClean, newApp } from './support/nag';
import { StubRedshiftWarehouse } from './support/redshift-warehouse-stub';

interface Fixture { stack: Stack; warehouse: StubRedshiftWarehouse; stream: kinesis.Stream; topic: StubKafkaTopic }

function fixture(): Fixture {
  const stack = new Stack(newApp(), 'TestStack');
  const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
  const stream = new kinesis.Stream(stack, 'Orders', { encryption: kinesis.StreamEncryption.MANAGED });
  const cluster = new StubKafkaCluster(stack, 'Cluster', { vpc: warehouse.vpc });
  const topic = new StubKafkaTopic(stack, 'Topic', cluster, 'orders');
  return { stack, warehouse, stream, topic };
}

/** Builds one ingestion with `props` over the fixture's stream and returns the thrown message. */
function errorOf(props: (f: Fixture) => Partial<RedshiftStreamingIngestionProps>, before?: (f: Fixture) => void): string {
  const f = fixture();
  before?.(f);
  try {
    new RedshiftStreamingIngestion(f.stack, 'Ingest', { warehouse: f.warehouse, stream: f.stream, view: 'orders', ...props(f) });
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a prop error');
}

describe('RedshiftStreamingIngestion validation', () => {
  test('refuses both a stream and a topic', () => {
    expect(errorOf((f) => ({ topic: f.topic }))).toBe('`topic` must not be given with `stream`: one block ingests one source');
  });

  test('refuses neither a stream nor a topic', () => {
    expect(errorOf(() => ({ stream: undefined }))).toBe('`stream` or `topic` must be given: the source to ingest');
  });

  test('refuses a view that is not a lowercase identifier', () => {
    expect(errorOf(() => ({ view: 'Orders-View' }))).toMatch(/^`view` \('Orders-View'\) must start with a lowercase letter or underscore/);
  });

  test('refuses an external schema that is not an identifier', () => {
    expect(errorOf(() => ({ schema: 'kds"; DROP TABLE x; --' }))).toMatch(/^`schema` \('kds"; DROP TABLE x; --'\) must start with a lowercase letter/);
  });

  test('refuses a viewSchema or typedView that is not an identifier', () => {
    expect(errorOf(() => ({ viewSchema: '' }))).toBe('`viewSchema` (\'\') must not be empty');
    expect(errorOf(() => ({ typedView: 'a'.repeat(128) }))).toMatch(/^`typedView` \('a+'\) must be at most 127 bytes/);
  });

  test('refuses an external schema that is the views\' schema or public', () => {
    expect(errorOf(() => ({ schema: 'public' }))).toBe('`schema` (\'public\') must be a schema of its own: it maps the stream and is dropped with the view, so it cannot be `viewSchema` or public');
    expect(errorOf(() => ({ schema: 'analytics', viewSchema: 'analytics' }))).toMatch(/^`schema` \('analytics'\) must be a schema of its own/);
  });

  test('refuses a typed view named like the materialized view', () => {
    expect(errorOf(() => ({ typedView: 'orders' }))).toBe('`typedView` (\'orders\') must differ from `view`, the materialized view\'s name');
  });

  test('derives the schema and typed view names within the identifier limit', () => {
    const f = fixture();
    const view = `v${'x'.repeat(126)}`;
    const ingestion = new RedshiftStreamingIngestion(f.stack, 'Ingest', { warehouse: f.warehouse, stream: f.stream, view, fields: [{ name: 'a', path: 'a', type: glue.Schema.INTEGER }] });
    expect(ingestion.typedViewName).toHaveLength(127);
    expect(ingestion.typedViewName!.endsWith('_typed')).toBe(true);
  });

  test('refuses a field name that is not an identifier', () => {
    expect(errorOf(() => ({ fields: [{ name: 'Total', path: 'total', type: glue.Schema.DOUBLE }] })))
      .toMatch(/^`fields\[0\]\.name` \('Total'\) must start with a lowercase letter or underscore/);
  });

  test('refuses duplicate field names', () => {
    expect(errorOf(() => ({
      fields: [{ name: 'total', path: 'a', type: glue.Schema.DOUBLE }, { name: 'total', path: 'b', type: glue.Schema.DOUBLE }],
    }))).toBe('`fields[1].name` (\'total\') is already a column of the view (approximate_arrival_timestamp, partition_key, shard_id, sequence_number, refresh_time, payload, raw_data, total and the fields before it)');
  });

  test('refuses a field named like a column the view already has', () => {
    expect(errorOf(() => ({ fields: [{ name: 'payload', path: 'p', type: glue.Schema.STRING }] }))).toMatch(/^`fields\[0\]\.name` \('payload'\) is already a column of the view/);
  });

  test('quotes hostile JSON keys instead of refusing them', () => {
    const f = fixture();
    const ingestion = new RedshiftStreamingIngestion(f.stack, 'Ingest', {
      warehouse: f.warehouse, stream: f.stream, view: 'orders', fields: [{ name: 'w', path: 'we"ird; DROP TABLE x;--.Key', type: glue.Schema.BIG_INT }],
    });
    const id = f.stack.getLogicalId(ingestion.typedView!.node.findChild('Resource').node.defaultChild as CfnElement);
    const typed = Template.fromStack(f.stack).toJSON().Resources[id].Properties.Create[0].Sql;
    expect(typed).toContain('payload."we""ird; DROP TABLE x;--"."Key"::BIGINT AS "w"');
  });

  test('refuses a field path with an empty key', () => {
    expect(errorOf(() => ({ fields: [{ name: 'total', path: 'order..total', type: glue.Schema.DOUBLE }] })))
      .toBe('`fields[0].path` (\'order..total\') must be dot-separated JSON keys, each 1–127 bytes with no NUL');
  });

  test('refuses a field type with no Redshift mapping', () => {
    expect(errorOf(() => ({ fields: [{ name: 'total', path: 'total', type: { inputString: 'decimal(39,2)', isPrimitive: true } }] })))
      .toBe('`fields[0].type` has precision 39; Redshift\'s DECIMAL takes 1–38');
    expect(errorOf(() => ({ fields: [{ name: 'u', path: 'u', type: { inputString: 'uniontype<int,string>', isPrimitive: false } }] })))
      .toBe('`fields[0].type` (\'uniontype<int,string>\') has no Redshift type a Parquet COPY can load into');
  });

  test('refuses a binary field: JSON holds no bytes', () => {
    expect(errorOf(() => ({ fields: [{ name: 'blob', path: 'blob', type: glue.Schema.BINARY }] })))
      .toBe('`fields[0].type` (\'binary\') has no JSON form: JSON holds no bytes (use string)');
  });

  test('refuses a second base view on the same stream in one warehouse', () => {
    expect(errorOf(() => ({ view: 'orders_again' }), (f) => {
      new RedshiftStreamingIngestion(f.stack, 'First', { warehouse: f.warehouse, stream: f.stream, view: 'orders' });
    })).toBe('`stream` already has a base materialized view in this warehouse (AWS recommends one per stream: each reads the whole stream); build further views on it (TestStack/First)');
  });

  test('refuses a second base view on the same topic in one warehouse', () => {
    expect(errorOf((f) => ({ stream: undefined, topic: f.topic, view: 'orders_again' }), (f) => {
      new RedshiftStreamingIngestion(f.stack, 'First', { warehouse: f.warehouse, topic: f.topic, view: 'orders' });
    })).toMatch(/^`topic` already has a base materialized view in this warehouse/);
  });

  test('refuses a view or schema name another ingestion of the warehouse uses', () => {
    const other = (f: Fixture) => {
      new RedshiftStreamingIngestion(f.stack, 'First', { warehouse: f.warehouse, stream: new kinesis.Stream(f.stack, 'Other'), view: 'orders', schema: 'kds' });
    };
    expect(errorOf(() => ({ schema: 'other' }), other)).toBe('`view` (\'orders\') is already a view of another streaming ingestion in this warehouse (TestStack/First)');
    expect(errorOf(() => ({ view: 'orders2', schema: 'kds' }), other)).toBe('`schema` (\'kds\') is already the external schema of another streaming ingestion in this warehouse (TestStack/First)');
  });

  test('lets the same stream feed views in two warehouses', () => {
    const f = fixture();
    const second = new StubRedshiftWarehouse(f.stack, 'Second');
    new RedshiftStreamingIngestion(f.stack, 'One', { warehouse: f.warehouse, stream: f.stream, view: 'orders' });
    expect(() => new RedshiftStreamingIngestion(f.stack, 'Two', { warehouse: second, stream: f.stream, view: 'orders' })).not.toThrow();
  });
});

describe('RedshiftStreamingIngestion compliance', () => {
  const fields = [{ name: 'total', path: 'order.total', type: glue.Schema.decimal(18, 2) }];

  test('is nag-clean under the five packs with a CMK-encrypted Kinesis stream', () => {
    expectNagClean((stack) => {
      const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse', { vpc: fixtureVpc(stack) });
      const encryptionKey = new kms.Key(stack, 'StreamKey', { enableKeyRotation: true });
      const stream = new kinesis.Stream(stack, 'Orders', { encryption: kinesis.StreamEncryption.KMS, encryptionKey });
      acknowledge(stream, { 'AwsSolutions-KDS3': 'Test fixture: the user\'s stream, encrypted with a customer key on purpose so the role\'s kms:Decrypt is exercised.' });
      new RedshiftStreamingIngestion(stack, 'Ingest', { warehouse, stream, view: 'orders', fields });
    });
  });

  test('is nag-clean under the five packs with an MSK topic (provisioned and serverless)', () => {
    expectNagClean((stack) => {
      const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse', { vpc: fixtureVpc(stack) });
      for (const clusterType of [KafkaClusterType.PROVISIONED, KafkaClusterType.SERVERLESS]) {
        const cluster = new StubKafkaCluster(stack, `Cluster${clusterType}`, { vpc: warehouse.vpc, clusterType, clusterName: `c-${clusterType}` });
        const topic = new StubKafkaTopic(stack, `Topic${clusterType}`, cluster, 'orders');
        new RedshiftStreamingIngestion(stack, `Ingest${clusterType}`, { warehouse, topic, view: `orders_${clusterType}`, fields });
      }
    });
  });
});
