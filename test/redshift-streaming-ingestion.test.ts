import { type CfnElement, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import { RedshiftStreamingIngestion, type RedshiftStreamingIngestionProps } from '../lib';
import { KafkaClusterType } from '../lib/core/kafka-refs';
import { StubKafkaCluster, StubKafkaTopic } from './support/kafka-cluster-stub';
import { newApp } from './support/nag';
import { StubRedshiftWarehouse } from './support/redshift-warehouse-stub';
import { joinToString } from './support/template';

/** The `Custom::RedshiftSql` resource of `ingestion`'s child `id` (MaterializedView, TypedView). */
function sqlResource(template: Template, stack: Stack, ingestion: RedshiftStreamingIngestion, id: string): any {
  const child = ingestion.node.findChild(id).node.findChild('Resource').node.defaultChild as CfnElement;
  return template.toJSON().Resources[stack.getLogicalId(child)];
}

function kinesisSetup(props: Partial<RedshiftStreamingIngestionProps> = {}) {
  const stack = new Stack(newApp(), 'TestStack');
  const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
  const key = new kms.Key(stack, 'StreamKey', { enableKeyRotation: true });
  const stream = new kinesis.Stream(stack, 'Orders', { encryption: kinesis.StreamEncryption.KMS, encryptionKey: key });
  const ingestion = new RedshiftStreamingIngestion(stack, 'Ingest', {
    warehouse, stream, view: 'orders',
    fields: [
      { name: 'order_id', path: 'orderId', type: glue.Schema.STRING },
      { name: 'total', path: 'order.total', type: glue.Schema.decimal(18, 2) },
      { name: 'placed_at', path: 'placedAt', type: glue.Schema.TIMESTAMP },
      { name: 'items', path: 'order.items', type: glue.Schema.array(glue.Schema.STRING) },
    ],
    ...props,
  });
  const template = Template.fromStack(stack);
  const sql = (id: string) => sqlResource(template, stack, ingestion, id);
  const logicalId = (c: any) => stack.getLogicalId(c.node.defaultChild as CfnElement);
  return { stack, warehouse, key, stream, ingestion, template, sql, logicalId };
}

const KINESIS_SELECT = 'SELECT approximate_arrival_timestamp, partition_key, shard_id, sequence_number, refresh_time, '
  + 'CASE WHEN CAN_JSON_PARSE(kinesis_data) THEN JSON_PARSE(kinesis_data) END AS payload, '
  + 'CASE WHEN NOT CAN_JSON_PARSE(kinesis_data) THEN kinesis_data END AS raw_data';

describe('RedshiftStreamingIngestion from Kinesis', () => {
  const { stack, warehouse, key, stream, ingestion, template, sql, logicalId } = kinesisSetup();
  const streamRef = stack.getLogicalId(stream.node.defaultChild as CfnElement);
  const roleId = logicalId(ingestion.role);
  const createSchema = { 'Fn::Join': ['', ['CREATE EXTERNAL SCHEMA IF NOT EXISTS "orders_kinesis" FROM KINESIS IAM_ROLE \'', { 'Fn::GetAtt': [roleId, 'Arn'] }, '\'']] };
  const createView = { 'Fn::Join': ['', [`CREATE MATERIALIZED VIEW "public"."orders" AUTO REFRESH YES AS ${KINESIS_SELECT} FROM "orders_kinesis"."`, { Ref: streamRef }, '"']] };

  test('creates the external schema FROM KINESIS with its role, then one auto-refreshing materialized view keeping every record', () => {
    expect(sql('MaterializedView').Properties.Create).toEqual([
      { Sql: createSchema },
      { Sql: createView, IgnoreErrorMatching: 'already exists' },
    ]);
    expect(JSON.stringify(sql('MaterializedView').Properties.Create)).not.toContain('WHERE'); // no record is filtered out
    expect([ingestion.viewName, ingestion.externalSchemaName]).toEqual(['orders', 'orders_kinesis']);
  });

  test('drops the view, then the external schema', () => {
    expect(sql('MaterializedView').Properties.Drop).toEqual([
      { Sql: 'DROP MATERIALIZED VIEW IF EXISTS "public"."orders"' },
      { Sql: 'DROP SCHEMA IF EXISTS "orders_kinesis"' },
    ]);
  });

  test('an update never drops anything: it only creates the schema and the view when missing', () => {
    expect(sql('MaterializedView').Properties.Update).toEqual([{ Sql: createSchema }, { Sql: createView, IgnoreErrorMatching: 'already exists' }]);
  });

  test('a late-binding typed view casts each field from the SUPER payload', () => {
    const typed = sql('TypedView').Properties;
    expect(typed.Create).toEqual([{
      Sql: 'CREATE OR REPLACE VIEW "public"."orders_typed" AS SELECT approximate_arrival_timestamp, partition_key, shard_id, sequence_number, refresh_time, payload, raw_data, '
        + 'payload."orderId"::VARCHAR(65535) AS "order_id", payload."order"."total"::DECIMAL(18,2) AS "total", '
        + 'payload."placedAt"::VARCHAR::TIMESTAMP AS "placed_at", payload."order"."items" AS "items" '
        + 'FROM "public"."orders" WITH NO SCHEMA BINDING',
    }]);
    expect(typed.Drop).toEqual([{ Sql: 'DROP VIEW IF EXISTS "public"."orders_typed"' }]);
    expect(ingestion.typedViewName).toBe('orders_typed');
  });

  test('runs in order: role and policy, schema and view, typed view; retained on delete by default', () => {
    expect(sql('MaterializedView').DependsOn).toEqual([stack.getLogicalId(ingestion.role.node.findChild('DefaultPolicy').node.defaultChild as CfnElement)]);
    expect(sql('TypedView').DependsOn).toEqual([logicalId(ingestion.materializedView.node.findChild('Resource'))]);
    for (const id of ['MaterializedView', 'TypedView']) expect(sql(id).Properties.RemovalPolicy).toBe('retain');
  });

  test('the role is assumed by Redshift (provisioned and Serverless) and associated with the namespace', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'redshift.amazonaws.com' } },
          { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'redshift-serverless.amazonaws.com' } },
        ],
      },
    });
    expect(warehouse.roles).toEqual([ingestion.role]);
  });

  test('the role reads exactly this stream and decrypts with its key', () => {
    const policy = template.toJSON().Resources[stack.getLogicalId(ingestion.role.node.findChild('DefaultPolicy').node.defaultChild as CfnElement)];
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      {
        Action: ['kinesis:DescribeStreamSummary', 'kinesis:GetShardIterator', 'kinesis:GetRecords', 'kinesis:DescribeStream', 'kinesis:ListShards'],
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [streamRef, 'Arn'] },
      },
      { Action: 'kinesis:ListStreams', Effect: 'Allow', Resource: '*' },
      { Action: 'kms:Decrypt', Effect: 'Allow', Resource: { 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as CfnElement), 'Arn'] } },
    ]);
  });

  test('the workgroup may reach the Kinesis API over HTTPS (enhanced VPC routing)', () => {
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'stub workgroup',
      SecurityGroupEgress: [{ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Description: 'Redshift streaming ingestion: Kinesis Data Streams API over HTTPS' }],
    });
  });
});

describe('RedshiftStreamingIngestion options', () => {
  test('removalPolicy DESTROY drops the typed view, the materialized view and the schema on delete', () => {
    const { sql } = kinesisSetup({ removalPolicy: RemovalPolicy.DESTROY });
    for (const id of ['MaterializedView', 'TypedView']) expect(sql(id).Properties.RemovalPolicy).toBe('destroy');
  });

  test('allowReplacement makes an update drop and re-create the materialized view and its schema', () => {
    const { sql } = kinesisSetup({ allowReplacement: true });
    const update = sql('MaterializedView').Properties.Update;
    expect(update.map((s: any) => joinToString(s.Sql).split(/ AS SELECT| FROM KINESIS/)[0])).toEqual([
      'DROP MATERIALIZED VIEW IF EXISTS "public"."orders"',
      'DROP SCHEMA IF EXISTS "orders_kinesis"',
      'CREATE EXTERNAL SCHEMA IF NOT EXISTS "orders_kinesis"',
      'CREATE MATERIALIZED VIEW "public"."orders" AUTO REFRESH YES',
    ]);
    expect(update.every((s: any) => s.IgnoreErrorMatching === undefined)).toBe(true);
  });

  test('viewSchema, schema and typedView name the objects', () => {
    const { sql, stack } = kinesisSetup({ viewSchema: 'analytics', schema: 'kds', typedView: 'orders_v' });
    const streamRef = '{' + stack.getLogicalId((stack.node.findChild('Orders').node.defaultChild as CfnElement)) + '}';
    expect(joinToString(sql('MaterializedView').Properties.Create[1].Sql)).toBe(`CREATE MATERIALIZED VIEW "analytics"."orders" AUTO REFRESH YES AS ${KINESIS_SELECT} FROM "kds"."${streamRef}"`);
    expect(joinToString(sql('MaterializedView').Properties.Create[0].Sql)).toMatch(/^CREATE EXTERNAL SCHEMA IF NOT EXISTS "kds" FROM KINESIS/);
    expect(sql('TypedView').Properties.Create[0].Sql).toMatch(/^CREATE OR REPLACE VIEW "analytics"."orders_v" AS .* FROM "analytics"."orders" WITH NO SCHEMA BINDING$/);
  });

  test('without fields there is no typed view', () => {
    const { ingestion, template } = kinesisSetup({ fields: [] });
    expect(ingestion.typedView).toBeUndefined();
    expect(Object.keys(template.findResources('Custom::RedshiftSql'))).toHaveLength(1);
  });

  test('a literal stream name is quoted as an identifier', () => {
    const stack = new Stack(newApp(), 'TestStack');
    const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
    const stream = kinesis.Stream.fromStreamArn(stack, 'Imported', 'arn:aws:kinesis:eu-west-1:111122223333:stream/Orders"Stream');
    const ingestion = new RedshiftStreamingIngestion(stack, 'Ingest', { warehouse, stream, view: 'orders' });
    const view = sqlResource(Template.fromStack(stack), stack, ingestion, 'MaterializedView');
    expect(view.Properties.Create[1].Sql).toBe(`CREATE MATERIALIZED VIEW "public"."orders" AUTO REFRESH YES AS ${KINESIS_SELECT} FROM "orders_kinesis"."Orders""Stream"`);
  });

  test('warns when the stream takes records larger than streaming ingestion can hold', () => {
    const stack = new Stack(newApp(), 'TestStack');
    const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
    const stream = new kinesis.Stream(stack, 'Big', { encryption: kinesis.StreamEncryption.MANAGED });
    (stream.node.defaultChild as kinesis.CfnStream).maxRecordSizeInKiB = 10240;
    const ingestion = new RedshiftStreamingIngestion(stack, 'Ingest', { warehouse, stream, view: 'big' });
    const warnings = ingestion.node.metadata.filter((m) => m.type === 'aws:cdk:warning').map((m) => String(m.data));
    expect(warnings).toEqual([expect.stringContaining('The stream takes records up to 10240 KiB; Redshift streaming ingestion holds a record in VARBYTE(1024000) and cannot ingest a larger one')]);
  });

  test('a stream without a customer key gets no kms statement', () => {
    const stack = new Stack(newApp(), 'TestStack');
    const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
    const stream = new kinesis.Stream(stack, 'Managed', { encryption: kinesis.StreamEncryption.MANAGED });
    const ingestion = new RedshiftStreamingIngestion(stack, 'Ingest', { warehouse, stream, view: 'managed' });
    const policy = ingestion.role.node.findChild('DefaultPolicy').node.defaultChild as CfnElement;
    const statements = Template.fromStack(stack).toJSON().Resources[stack.getLogicalId(policy)].Properties.PolicyDocument.Statement;
    expect(statements.map((s: any) => s.Action)).toEqual([expect.arrayContaining(['kinesis:GetRecords']), 'kinesis:ListStreams']);
  });
});

describe('RedshiftStreamingIngestion from an MSK topic', () => {
  for (const clusterType of [KafkaClusterType.PROVISIONED, KafkaClusterType.SERVERLESS]) {
    describe(clusterType, () => {
      const stack = new Stack(newApp(), 'TestStack');
      const warehouse = new StubRedshiftWarehouse(stack, 'Warehouse');
      const cluster = new StubKafkaCluster(stack, 'Cluster', { vpc: warehouse.vpc, clusterType });
      const topic = new StubKafkaTopic(stack, 'Topic', cluster, 'orders');
      const ingestion = new RedshiftStreamingIngestion(stack, 'Ingest', {
        warehouse, topic, view: 'orders', fields: [{ name: 'total', path: 'total', type: glue.Schema.DOUBLE }],
      });
      const template = Template.fromStack(stack);
      const sql = (id: string) => sqlResource(template, stack, ingestion, id).Properties;
      const roleId = stack.getLogicalId(ingestion.role.node.defaultChild as CfnElement);

      test('creates the external schema FROM MSK with IAM authentication and the cluster ARN', () => {
        expect(joinToString(sql('MaterializedView').Create[0].Sql)).toBe(
          `CREATE EXTERNAL SCHEMA IF NOT EXISTS "orders_msk" FROM MSK IAM_ROLE '{${roleId}.Arn}' AUTHENTICATION iam `
          + 'CLUSTER_ARN \'arn:{AWS::Partition}:kafka:{AWS::Region}:{AWS::AccountId}:cluster/stub-cluster/11111111-2222-3333-4444-555555555555-7\'');
        expect(sql('MaterializedView').Drop[1]).toEqual({ Sql: 'DROP SCHEMA IF EXISTS "orders_msk"' });
      });

      test('the view lands every record of the topic with its Kafka metadata', () => {
        expect(sql('MaterializedView').Create.slice(1)).toEqual([{
          Sql: 'CREATE MATERIALIZED VIEW "public"."orders" AUTO REFRESH YES AS SELECT kafka_partition, kafka_offset, kafka_timestamp_type, kafka_timestamp, kafka_key, kafka_headers, '
            + 'CASE WHEN CAN_JSON_PARSE(kafka_value) THEN JSON_PARSE(kafka_value) END AS payload, '
            + 'CASE WHEN NOT CAN_JSON_PARSE(kafka_value) THEN kafka_value END AS raw_data FROM "orders_msk"."orders"',
          IgnoreErrorMatching: 'already exists',
        }]);
        expect(sql('TypedView').Create[0].Sql).toBe('CREATE OR REPLACE VIEW "public"."orders_typed" AS SELECT kafka_partition, kafka_offset, kafka_timestamp_type, kafka_timestamp, kafka_key, kafka_headers, '
          + 'payload, raw_data, payload."total"::DOUBLE PRECISION AS "total" FROM "public"."orders" WITH NO SCHEMA BINDING');
      });

      test('the role connects to the cluster, reads only this topic and looks up the brokers', () => {
        const policy = Object.values(template.findResources('AWS::IAM::Policy')).find((p: any) => p.Properties.Roles[0].Ref === roleId) as any;
        expect(policy.Properties.PolicyDocument.Statement).toEqual([
          { Action: 'kafka-cluster:Connect', Effect: 'Allow', Resource: stack.resolve(cluster.clusterArn) },
          { Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'], Effect: 'Allow', Resource: stack.resolve(topic.topicArn) },
          { Action: 'kafka:GetBootstrapBrokers', Effect: 'Allow', Resource: stack.resolve(cluster.clusterArn) },
        ]);
        expect(warehouse.roles).toEqual([ingestion.role]);
      });

      test('the workgroup reaches the brokers on the IAM port 9098', () => {
        const brokers = stack.resolve((cluster.connections.securityGroups[0].node.defaultChild as CfnElement).logicalId);
        const workgroup = stack.resolve((warehouse.connections.securityGroups[0].node.defaultChild as CfnElement).logicalId);
        template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
          GroupId: { 'Fn::GetAtt': [brokers, 'GroupId'] }, SourceSecurityGroupId: { 'Fn::GetAtt': [workgroup, 'GroupId'] }, FromPort: 9098, ToPort: 9098, IpProtocol: 'tcp',
        });
        template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
          GroupId: { 'Fn::GetAtt': [workgroup, 'GroupId'] }, DestinationSecurityGroupId: { 'Fn::GetAtt': [brokers, 'GroupId'] }, FromPort: 9098, ToPort: 9098, IpProtocol: 'tcp',
        });
      });
    });
  }
});
