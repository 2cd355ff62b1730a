import { Annotations, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import { Construct } from 'constructs';
import { acknowledge, INLINE_GRANT_POLICY, inCompliancePacks } from './acknowledge';
import { propError } from './errors';
import type { IKafkaTopic } from './kafka-refs';
import type { IRedshiftWarehouse } from './redshift-refs';
import { RedshiftSql, type SqlStatement } from './redshift-sql';
import { identifierProblem, MAX_IDENTIFIER_BYTES } from './redshift-sql-text';
import { MAX_VARBYTE, redshiftTypeOf } from './redshift-types';
import {
  createExternalSchemaSql, createMaterializedViewSql, createTypedViewSql, dropExternalSchemaSql, dropMaterializedViewSql,
  dropTypedViewSql, KAFKA_COLUMNS, KINESIS_COLUMNS, PAYLOAD_COLUMN, RAW_COLUMN, type StreamSource, type TypedColumn,
} from './sql/streaming-sql';

/** A field of the streamed JSON records, extracted as a typed column. */
export interface StreamingField {
  /** The column name (a lowercase Redshift identifier). */
  readonly name: string;
  /** Dotted path of the value in the record's JSON (`order.total`); keys match case-sensitively. */
  readonly path: string;
  /** The column's type; arrays, structs and maps stay SUPER. */
  readonly type: glue.Type;
}

/** What to ingest and how (`ZeroEtlWarehouse.streamingIngestion`). Give exactly one of `stream` and `topic`. */
export interface StreamingIngestionOptions {
  /** The Kinesis data stream to ingest. @default - none: give `topic` */
  readonly stream?: kinesis.IStream;
  /** The MSK topic to ingest (IAM authentication; the warehouse must reach the cluster's VPC). @default - none: give `stream` */
  readonly topic?: IKafkaTopic;
  /** Name of the base materialized view that lands every record (a lowercase Redshift identifier). */
  readonly view: string;
  /** The schema holding the views. It must exist (`public` always does). @default 'public' */
  readonly viewSchema?: string;
  /**
   * Name of the external schema mapping the stream (or cluster). One per block: it is dropped with the view.
   * @default - `<view>_kinesis` or `<view>_msk`
   */
  readonly schema?: string;
  /** Fields extracted as typed columns into the typed view. @default - no typed view */
  readonly fields?: StreamingField[];
  /** Name of the late-binding view holding `fields` as columns. @default - `<view>_typed` */
  readonly typedView?: string;
  /**
   * What deleting the block does. The materialized view holds the ingested data, which the stream
   * no longer has once its retention passes: RETAIN keeps the views and the external schema;
   * DESTROY drops them.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Lets an update of the materialized view's definition (source, schema or name) drop and re-create
   * it, losing every ingested record the stream no longer retains. Without it an update only creates
   * a view that does not exist yet: an existing view keeps its definition and its data.
   * @default false
   */
  readonly allowReplacement?: boolean;
}

/** Per warehouse: each stream, view and schema name in use, and the block using it. */
const CLAIMS = new WeakMap<IRedshiftWarehouse, Map<string, string>>();

/** Properties of a {@link RedshiftStreamingIngestion}. Give exactly one of `stream` and `topic`. */
export interface RedshiftStreamingIngestionProps extends StreamingIngestionOptions {
  /** The warehouse that ingests. */
  readonly warehouse: IRedshiftWarehouse;
}

/**
 * Redshift streaming ingestion from a Kinesis data stream or an MSK topic: a role Redshift assumes
 * to read the source, an external schema, and a materialized view with `AUTO REFRESH YES` landing
 * every record (`payload` SUPER when JSON, `raw_data` bytes when not), plus a typed view with the
 * fields you name. One base view per stream: AWS recommends it (each view reads the whole stream).
 */
export class RedshiftStreamingIngestion extends Construct {
  /** The role Redshift assumes to read the stream or topic (associated with the namespace). */
  public readonly role: iam.Role;
  /**
   * The external schema and the base materialized view: one resource, so that its statements run in
   * order (schema, then view; view, then schema when dropping).
   */
  public readonly materializedView: RedshiftSql;
  /** The typed view, when `fields` are given. */
  public readonly typedView?: RedshiftSql;
  /** The base materialized view's name. */
  public readonly viewName: string;
  /** The typed view's name, when `fields` are given. */
  public readonly typedViewName?: string;
  /** The external schema's name. */
  public readonly externalSchemaName: string;

  constructor(scope: Construct, id: string, props: RedshiftStreamingIngestionProps) {
    super(scope, id);
    const names = this.validateNames(props);
    const columns = this.validateFields(props.fields ?? [], props.stream ? KINESIS_COLUMNS : KAFKA_COLUMNS);
    this.claim(props, names);
    this.viewName = names.view;
    this.externalSchemaName = names.schema;
    const warehouse = props.warehouse;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.role = new iam.Role(this, 'Role', {
      // Provisioned clusters and Serverless namespaces assume their roles as one of these two.
      assumedBy: new iam.CompositePrincipal(new iam.ServicePrincipal('redshift.amazonaws.com'), new iam.ServicePrincipal('redshift-serverless.amazonaws.com')),
      description: `Redshift streaming ingestion into ${names.viewSchema}.${names.view}`,
    });
    const source = props.stream ? this.readStream(props.stream, warehouse) : this.readTopic(props.topic!, warehouse);
    warehouse.addRole(this.role);

    const sql = (sqlId: string, create: SqlStatement[], drop: SqlStatement[], update?: SqlStatement[]) =>
      new RedshiftSql(this, sqlId, { warehouse, create, drop, update, removalPolicy });
    const sourceName = props.stream ? props.stream.streamName : props.topic!.topicName;
    const createSchema = { sql: createExternalSchemaSql(names.schema, source) };
    const createView = { sql: createMaterializedViewSql(names.viewSchema, names.view, names.schema, source.kind, sourceName) };
    const drop = [{ sql: dropMaterializedViewSql(names.viewSchema, names.view) }, { sql: dropExternalSchemaSql(names.schema) }];
    // A view that exists is kept as it is (its data outlives the stream's retention): CREATE has no IF NOT EXISTS.
    const createIfMissing = [createSchema, { ...createView, ignoreErrorMatching: 'already exists' }];
    this.materializedView = sql('MaterializedView', createIfMissing, drop, props.allowReplacement ? [...drop, createSchema, createView] : createIfMissing);
    // The view reads the source at once (from TRIM_HORIZON / offset 0): the role's policy must be in place
    // (the role itself is already implied by the GetAtt of its ARN).
    this.materializedView.node.addDependency(this.role.node.findChild('DefaultPolicy'));

    if (columns.length > 0) {
      this.typedViewName = names.typedView;
      this.typedView = sql('TypedView', [{ sql: createTypedViewSql(names.viewSchema, names.typedView, names.view, source.kind, columns) }],
        [{ sql: dropTypedViewSql(names.viewSchema, names.typedView) }]);
      this.typedView.node.addDependency(this.materializedView);
    }
    acknowledge(this.role, inCompliancePacks('IAMNoInlinePolicy', INLINE_GRANT_POLICY));
  }

  /** The names, each a valid identifier; the defaults derived from `view`. */
  private validateNames(props: RedshiftStreamingIngestionProps): { view: string; viewSchema: string; schema: string; typedView: string } {
    if (!props.stream === !props.topic) {
      throw propError(this, props.stream ? 'topic' : 'stream', props.stream ? 'must not be given with `stream`: one block ingests one source' : 'or `topic` must be given: the source to ingest');
    }
    const check = (prop: string, name: string) => {
      const problem = identifierProblem(name);
      if (problem) throw propError(this, prop, `('${name}') ${problem}`);
      return name;
    };
    const view = check('view', props.view);
    const derived = (suffix: string) => `${view.slice(0, MAX_IDENTIFIER_BYTES - suffix.length)}${suffix}`;
    const names = {
      view,
      viewSchema: check('viewSchema', props.viewSchema ?? 'public'),
      schema: check('schema', props.schema ?? derived(props.stream ? '_kinesis' : '_msk')),
      typedView: check('typedView', props.typedView ?? derived('_typed')),
    };
    // The external schema is created IF NOT EXISTS and dropped with the view: it must not be a schema of tables.
    if (names.schema === names.viewSchema || names.schema === 'public') {
      throw propError(this, 'schema', `('${names.schema}') must be a schema of its own: it maps the stream and is dropped with the view, so it cannot be \`viewSchema\` or public`);
    }
    if (names.typedView === view) throw propError(this, 'typedView', `('${view}') must differ from \`view\`, the materialized view's name`);
    return names;
  }

  /** Each field as a typed column, or a prop error naming the field. */
  private validateFields(fields: StreamingField[], metadata: string[]): TypedColumn[] {
    const taken = new Set([...metadata, PAYLOAD_COLUMN, RAW_COLUMN]);
    return fields.map((field, i) => {
      const problem = identifierProblem(field.name);
      if (problem) throw propError(this, `fields[${i}].name`, `('${field.name}') ${problem}`);
      if (taken.has(field.name)) {
        throw propError(this, `fields[${i}].name`, `('${field.name}') is already a column of the view (${[...taken].join(', ')} and the fields before it)`);
      }
      taken.add(field.name);
      const keys = field.path.split('.');
      if (keys.some((k) => k.length === 0 || k.includes('\0') || Buffer.byteLength(k, 'utf8') > MAX_IDENTIFIER_BYTES)) {
        throw propError(this, `fields[${i}].path`, `('${field.path}') must be dot-separated JSON keys, each 1–${MAX_IDENTIFIER_BYTES} bytes with no NUL`);
      }
      const type = redshiftTypeOf(field.type);
      if ('problem' in type) throw propError(this, `fields[${i}].type`, type.problem);
      if (type.sql.startsWith('VARBYTE')) throw propError(this, `fields[${i}].type`, `('${field.type.inputString}') has no JSON form: JSON holds no bytes (use string)`);
      return { name: field.name, keys, sql: type.sql, nested: type.nested };
    });
  }

  /**
   * Records the stream, view and schema names as this block's in the warehouse: a second base view
   * on one stream reads the whole stream again (AWS recommends one per stream), and two blocks
   * sharing a name would drop each other's objects.
   */
  private claim(props: RedshiftStreamingIngestionProps, names: { view: string; viewSchema: string; schema: string; typedView: string }): void {
    let claims = CLAIMS.get(props.warehouse);
    if (!claims) CLAIMS.set(props.warehouse, claims = new Map());
    const source = props.stream ? `stream ${JSON.stringify(Stack.of(this).resolve(props.stream.streamArn))}` : `topic ${JSON.stringify(Stack.of(this).resolve(props.topic!.topicArn))}`;
    const wanted: [string, string, string][] = [
      [props.stream ? 'stream' : 'topic', source, 'already has a base materialized view in this warehouse (AWS recommends one per stream: each reads the whole stream); build further views on it'],
      ['view', `relation ${names.viewSchema}.${names.view}`, `('${names.view}') is already a view of another streaming ingestion in this warehouse`],
      ['schema', `schema ${names.schema}`, `('${names.schema}') is already the external schema of another streaming ingestion in this warehouse`],
    ];
    if (props.fields?.length) wanted.push(['typedView', `relation ${names.viewSchema}.${names.typedView}`, `('${names.typedView}') is already a view of another streaming ingestion in this warehouse`]);
    for (const [prop, key, rule] of wanted) {
      const owner = claims.get(key);
      if (owner !== undefined && owner !== this.node.path) throw propError(this, prop, `${rule} (${owner})`);
    }
    for (const [, key] of wanted) claims.set(key, this.node.path);
  }

  /** Kinesis: exactly the reads AWS documents for streaming ingestion, and decrypt on the stream's key. */
  private readStream(stream: kinesis.IStream, warehouse: IRedshiftWarehouse): StreamSource {
    this.role.addToPolicy(new iam.PolicyStatement({
      actions: ['kinesis:DescribeStreamSummary', 'kinesis:GetShardIterator', 'kinesis:GetRecords', 'kinesis:DescribeStream', 'kinesis:ListShards'],
      resources: [stream.streamArn],
    }));
    // AWS's streaming-ingestion policy lists ListStreams; it takes no resource (names only, no data).
    this.role.addToPolicy(new iam.PolicyStatement({ actions: ['kinesis:ListStreams'], resources: ['*'] }));
    stream.encryptionKey?.grantDecrypt(this.role);
    acknowledge(this.role, {
      'AwsSolutions-IAM5[Resource::*]': 'kinesis:ListStreams, which AWS\'s streaming-ingestion policy lists, takes no resource-level permission; it returns stream names only.',
    });
    // Enhanced VPC routing sends the Kinesis calls through the workgroup's VPC (NAT or an interface endpoint).
    warehouse.connections.allowTo(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'Redshift streaming ingestion: Kinesis Data Streams API over HTTPS');
    const cfn = stream.node.defaultChild;
    const maxKiB = cfn instanceof kinesis.CfnStream ? cfn.maxRecordSizeInKiB : undefined;
    if (typeof maxKiB === 'number' && maxKiB * 1024 > MAX_VARBYTE) {
      Annotations.of(this).addWarningV2('cdk-streaming-pipelines:streamingRecordSize',
        `The stream takes records up to ${maxKiB} KiB; Redshift streaming ingestion holds a record in VARBYTE(${MAX_VARBYTE}) and cannot ingest a larger one (look in SYS_STREAM_SCAN_ERRORS).`);
    }
    return { kind: 'kinesis', roleArn: this.role.roleArn };
  }

  /** MSK: IAM authentication to read the topic, bootstrap lookup, and the network path to the brokers' IAM port. */
  private readTopic(topic: IKafkaTopic, warehouse: IRedshiftWarehouse): StreamSource {
    const cluster = topic.cluster;
    this.role.addToPolicy(new iam.PolicyStatement({ actions: ['kafka-cluster:Connect'], resources: [cluster.clusterArn] }));
    this.role.addToPolicy(new iam.PolicyStatement({ actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'], resources: [topic.topicArn] }));
    this.role.addToPolicy(new iam.PolicyStatement({ actions: ['kafka:GetBootstrapBrokers'], resources: [cluster.clusterArn] }));
    cluster.connections.allowDefaultPortFrom(warehouse, 'Redshift streaming ingestion reads the topic (IAM over TLS)');
    return { kind: 'msk', roleArn: this.role.roleArn, clusterArn: cluster.clusterArn };
  }
}
