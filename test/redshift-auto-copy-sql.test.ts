import { addColumnSql, copyJobCreateSql, copyJobDropSql, createSchemaSql, createTableSql, dropTableSql } from '../lib/core/sql/copy-job-sql';

const spec = {
  schema: 'public', table: 'events', bucketName: 'curated-bucket', prefix: 'data/',
  roleArn: 'arn:aws:iam::111122223333:role/copy', serializeToJson: false, jobName: 'events_autocopy',
};

describe('auto-copy statements (literal inputs)', () => {
  test('CREATE SCHEMA / CREATE TABLE / ALTER TABLE ADD COLUMN / DROP TABLE', () => {
    expect(createSchemaSql('sales')).toBe('CREATE SCHEMA IF NOT EXISTS "sales"');
    expect(createTableSql('sales', 'orders', [{ name: 'id', sql: 'BIGINT' }, { name: 'doc', sql: 'SUPER' }]))
      .toBe('CREATE TABLE IF NOT EXISTS "sales"."orders" ("id" BIGINT, "doc" SUPER)');
    expect(addColumnSql('sales', 'orders', { name: 'note', sql: 'VARCHAR(400)' })).toBe('ALTER TABLE "sales"."orders" ADD COLUMN "note" VARCHAR(400)');
    expect(dropTableSql('sales', 'orders')).toBe('DROP TABLE IF EXISTS "sales"."orders"');
  });

  test('COPY … JOB CREATE, with and without SERIALIZETOJSON', () => {
    expect(copyJobCreateSql(spec)).toBe("COPY \"public\".\"events\" FROM 's3://curated-bucket/data/' IAM_ROLE 'arn:aws:iam::111122223333:role/copy' FORMAT PARQUET JOB CREATE events_autocopy AUTO ON");
    expect(copyJobCreateSql({ ...spec, serializeToJson: true })).toBe("COPY \"public\".\"events\" FROM 's3://curated-bucket/data/' IAM_ROLE 'arn:aws:iam::111122223333:role/copy' FORMAT PARQUET SERIALIZETOJSON JOB CREATE events_autocopy AUTO ON");
    expect(copyJobDropSql('events_autocopy')).toBe('COPY JOB DROP events_autocopy');
  });

  test('hostile names and values stay names and values', () => {
    expect(createTableSql('s', 't"; drop table x; --', [{ name: "o'brien\"", sql: 'INTEGER' }]))
      .toBe('CREATE TABLE IF NOT EXISTS "s"."t""; drop table x; --" ("o\'brien""" INTEGER)');
    expect(copyJobCreateSql({ ...spec, prefix: "it's\\/", roleArn: "x' ; drop table t; --" }))
      .toBe("COPY \"public\".\"events\" FROM 's3://curated-bucket/it''s\\\\/' IAM_ROLE 'x'' ; drop table t; --' FORMAT PARQUET JOB CREATE events_autocopy AUTO ON");
  });

  test('a job name that would need quoting (hyphen, quote, uppercase) is refused, not emitted', () => {
    expect(() => copyJobCreateSql({ ...spec, jobName: 'events-load' })).toThrow(/sqlName: "events-load"/);
    expect(() => copyJobDropSql('x; drop table t')).toThrow(/sqlName/);
    expect(() => copyJobDropSql('Events')).toThrow(/sqlName/);
  });
});
