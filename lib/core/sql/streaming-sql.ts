import { Token } from 'aws-cdk-lib';
import { sqlIdent, sqlLiteral, sqlQualified } from '../redshift-sql-text';

/**
 * The SQL of Redshift streaming ingestion (RedshiftStreamingIngestion): an external schema on the
 * stream or cluster, a base materialized view landing every record, and a late-binding view with
 * the user's typed fields. Pure text; names and values are quoted by redshift-sql-text.
 */

/** Where a streaming external schema reads from. */
export type StreamSource =
  | { readonly kind: 'kinesis'; readonly roleArn: string }
  | { readonly kind: 'msk'; readonly roleArn: string; readonly clusterArn: string };

/** One typed column of the typed view: a SUPER path cast to a Redshift type. */
export interface TypedColumn {
  /** Column name (a checked identifier). */
  readonly name: string;
  /** The dotted path in the payload, split into its keys. */
  readonly keys: string[];
  /** The Redshift type, as DDL writes it. */
  readonly sql: string;
  /** The value is nested (array, struct, map): it stays SUPER, uncast. */
  readonly nested: boolean;
}

/** Metadata columns of a Kinesis stream's external table (kinesis_data is the record, VARBYTE). */
export const KINESIS_COLUMNS = ['approximate_arrival_timestamp', 'partition_key', 'shard_id', 'sequence_number', 'refresh_time'];
/** Metadata columns of an MSK topic's external table (kafka_value is the record, VARBYTE). */
export const KAFKA_COLUMNS = ['kafka_partition', 'kafka_offset', 'kafka_timestamp_type', 'kafka_timestamp', 'kafka_key', 'kafka_headers'];
/** The parsed record (SUPER; NULL when the record is not JSON). */
export const PAYLOAD_COLUMN = 'payload';
/** The record's bytes when it is not JSON (VARBYTE; NULL when it parsed). */
export const RAW_COLUMN = 'raw_data';

/**
 * A stream or topic name as a delimited identifier. It may be a token (a stream CloudFormation
 * names): AWS-generated Kinesis stream names (`[a-zA-Z0-9_.-]`) and MSK topic names
 * (`[a-zA-Z0-9._-]`) hold no double quote, so the token is wrapped as it is.
 */
export function sqlSourceIdent(name: string): string {
  return Token.isUnresolved(name) ? `"${name}"` : sqlIdent(name);
}

/** `CREATE EXTERNAL SCHEMA` mapping the account's Kinesis streams, or one MSK cluster, into `schema`. */
export function createExternalSchemaSql(schema: string, source: StreamSource): string {
  const from = source.kind === 'kinesis'
    ? `FROM KINESIS IAM_ROLE ${sqlLiteral(source.roleArn)}`
    : `FROM MSK IAM_ROLE ${sqlLiteral(source.roleArn)} AUTHENTICATION iam CLUSTER_ARN ${sqlLiteral(source.clusterArn)}`;
  return `CREATE EXTERNAL SCHEMA IF NOT EXISTS ${sqlIdent(schema)} ${from}`;
}

/** Drops the external schema (the materialized view is dropped before it). */
export function dropExternalSchemaSql(schema: string): string {
  return `DROP SCHEMA IF EXISTS ${sqlIdent(schema)}`;
}

/**
 * The base materialized view: every record of the stream or topic, with its metadata, the record
 * parsed into SUPER when it is JSON (`payload`), and its raw bytes when it is not (`raw_data`), so
 * no record is filtered out. AWS's examples filter with `WHERE CAN_JSON_PARSE(…)`, which drops
 * non-JSON records silently; JSON_PARSE without the check fails the refresh.
 */
export function createMaterializedViewSql(viewSchema: string, view: string, schema: string, kind: StreamSource['kind'], source: string): string {
  const [metadata, data] = kind === 'kinesis' ? [KINESIS_COLUMNS, 'kinesis_data'] : [KAFKA_COLUMNS, 'kafka_value'];
  const columns = [
    ...metadata,
    `CASE WHEN CAN_JSON_PARSE(${data}) THEN JSON_PARSE(${data}) END AS ${PAYLOAD_COLUMN}`,
    `CASE WHEN NOT CAN_JSON_PARSE(${data}) THEN ${data} END AS ${RAW_COLUMN}`,
  ];
  return `CREATE MATERIALIZED VIEW ${sqlQualified(viewSchema, view)} AUTO REFRESH YES AS SELECT ${columns.join(', ')} `
    + `FROM ${sqlIdent(schema)}.${sqlSourceIdent(source)}`;
}

/** Drops the base materialized view (its ingested data goes with it). */
export function dropMaterializedViewSql(viewSchema: string, view: string): string {
  return `DROP MATERIALIZED VIEW IF EXISTS ${sqlQualified(viewSchema, view)}`;
}

/**
 * The SUPER navigation of `column.keys`, cast to its type. Keys are delimited identifiers, so they
 * match the JSON keys exactly (the warehouse's identifiers are case-sensitive). Dates and
 * timestamps go through VARCHAR: JSON holds them as strings. A value of the wrong type becomes
 * NULL (SUPER casts are lax), not an error.
 */
export function typedColumnSql(column: TypedColumn): string {
  const path = [PAYLOAD_COLUMN, ...column.keys.map(sqlIdent)].join('.');
  const value = column.nested ? path
    : /^(DATE|TIMESTAMP)$/.test(column.sql) ? `${path}::VARCHAR::${column.sql}`
      : `${path}::${column.sql}`;
  return `${value} AS ${sqlIdent(column.name)}`;
}

/**
 * The typed view: the base view's columns plus one column per field. A late-binding view
 * (`WITH NO SCHEMA BINDING`) holds no dependency on the materialized view, so either can be
 * dropped and re-created without the other, and changing fields never touches ingested data.
 */
export function createTypedViewSql(viewSchema: string, typedView: string, view: string, kind: StreamSource['kind'], columns: TypedColumn[]): string {
  const base = [...(kind === 'kinesis' ? KINESIS_COLUMNS : KAFKA_COLUMNS), PAYLOAD_COLUMN, RAW_COLUMN];
  return `CREATE OR REPLACE VIEW ${sqlQualified(viewSchema, typedView)} AS SELECT ${[...base, ...columns.map(typedColumnSql)].join(', ')} `
    + `FROM ${sqlQualified(viewSchema, view)} WITH NO SCHEMA BINDING`;
}

/** Drops the typed view. */
export function dropTypedViewSql(viewSchema: string, typedView: string): string {
  return `DROP VIEW IF EXISTS ${sqlQualified(viewSchema, typedView)}`;
}
