import { sqlIdent, sqlLiteral, sqlName, sqlQualified } from '../redshift-sql-text';

/**
 * The statements of an auto-copy, as text. Every name and value goes through the quoting helper
 * (lib/core/redshift-sql-text.ts); nothing here is executed (RedshiftSql runs it).
 */

/** One target column: its name as the lake's Glue schema writes it, and its Redshift type. */
export interface CopyColumn {
  /** The column name (delimited in the DDL). */
  readonly name: string;
  /** The Redshift type (from `redshiftTypeOf`). */
  readonly sql: string;
}

/** What a COPY JOB loads, from where, as whom. */
export interface CopyJobSpec {
  /** Target schema. */
  readonly schema: string;
  /** Target table. */
  readonly table: string;
  /** The source bucket's name (may be a token). */
  readonly bucketName: string;
  /** Object key prefix of the data (ends with `/`). */
  readonly prefix: string;
  /** The role COPY reads S3 as (may be a token). */
  readonly roleArn: string;
  /** A column is SUPER: Parquet's nested values load only with `SERIALIZETOJSON`. */
  readonly serializeToJson: boolean;
  /** The job's name: a plain identifier (COPY JOB names allow no hyphens). */
  readonly jobName: string;
}

/**
 * `CREATE TABLE IF NOT EXISTS "schema"."table" ("c1" T1, …)`: the columns in the files' order,
 * since a Parquet COPY maps columns by position.
 */
export function createTableSql(schema: string, table: string, columns: CopyColumn[]): string {
  const list = columns.map((c) => `${sqlIdent(c.name)} ${c.sql}`).join(', ');
  return `CREATE TABLE IF NOT EXISTS ${sqlQualified(schema, table)} (${list})`;
}

/**
 * `ALTER TABLE "schema"."table" ADD COLUMN "c" T`: on an update, a column appended to the lake's
 * schema is appended to the table too (an existing one fails with "already exists", which the
 * caller ignores).
 */
export function addColumnSql(schema: string, table: string, column: CopyColumn): string {
  return `ALTER TABLE ${sqlQualified(schema, table)} ADD COLUMN ${sqlIdent(column.name)} ${column.sql}`;
}

/** `CREATE SCHEMA IF NOT EXISTS "schema"` (never dropped: a schema may hold other objects). */
export function createSchemaSql(schema: string): string {
  return `CREATE SCHEMA IF NOT EXISTS ${sqlIdent(schema)}`;
}

/** `DROP TABLE IF EXISTS "schema"."table"`. */
export function dropTableSql(schema: string, table: string): string {
  return `DROP TABLE IF EXISTS ${sqlQualified(schema, table)}`;
}

/**
 * `COPY "schema"."table" FROM 's3://bucket/prefix' IAM_ROLE '…' FORMAT PARQUET [SERIALIZETOJSON]
 * JOB CREATE name AUTO ON`.
 */
export function copyJobCreateSql(spec: CopyJobSpec): string {
  const source = sqlLiteral(`s3://${spec.bucketName}/${spec.prefix}`);
  const format = spec.serializeToJson ? 'FORMAT PARQUET SERIALIZETOJSON' : 'FORMAT PARQUET';
  return `COPY ${sqlQualified(spec.schema, spec.table)} FROM ${source} IAM_ROLE ${sqlLiteral(spec.roleArn)} ${format} JOB CREATE ${sqlName(spec.jobName)} AUTO ON`;
}

/** `COPY JOB DROP name`. */
export function copyJobDropSql(jobName: string): string {
  return `COPY JOB DROP ${sqlName(jobName)}`;
}
