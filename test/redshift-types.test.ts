import * as glue from 'aws-cdk-lib/aws-glue';
import { MAX_VARBYTE, MAX_VARCHAR, redshiftTypeOf } from '../lib/core/redshift-types';

const sql = (type: glue.Type | string) => {
  const t = redshiftTypeOf(type);
  if ('problem' in t) throw new Error(`unexpected problem: ${t.problem}`);
  return t;
};
const problem = (type: glue.Type | string) => {
  const t = redshiftTypeOf(type);
  if (!('problem' in t)) throw new Error(`expected a problem, got ${t.sql}`);
  return t.problem;
};

describe('redshiftTypeOf: Glue primitives', () => {
  test.each([
    [glue.Schema.BOOLEAN, 'BOOLEAN'],
    [glue.Schema.TINY_INT, 'SMALLINT'],
    [glue.Schema.SMALL_INT, 'SMALLINT'],
    [glue.Schema.INTEGER, 'INTEGER'],
    [glue.Schema.BIG_INT, 'BIGINT'],
    [glue.Schema.FLOAT, 'REAL'],
    [glue.Schema.DOUBLE, 'DOUBLE PRECISION'],
    [glue.Schema.STRING, `VARCHAR(${MAX_VARCHAR})`],
    [glue.Schema.DATE, 'DATE'],
    [glue.Schema.TIMESTAMP, 'TIMESTAMP'],
    [glue.Schema.BINARY, `VARBYTE(${MAX_VARBYTE})`],
  ])('%o → %s', (type, expected) => {
    expect(sql(type)).toEqual({ sql: expected, nested: false });
  });

  test('the Hive spelling `integer` is INTEGER too', () => {
    expect(sql('integer').sql).toBe('INTEGER');
  });

  test('Glue type text is read case- and space-insensitively', () => {
    expect(sql(' BIGINT ').sql).toBe('BIGINT');
    expect(sql('Decimal( 12 , 2 )').sql).toBe('DECIMAL(12,2)');
    expect(sql('ARRAY<STRING>')).toEqual({ sql: 'SUPER', nested: true });
  });
});

describe('redshiftTypeOf: decimal', () => {
  test.each([
    [glue.Schema.decimal(12, 2), 'DECIMAL(12,2)'],
    [glue.Schema.decimal(10), 'DECIMAL(10,0)'],
    ['decimal', 'DECIMAL(10,0)'],
    [glue.Schema.decimal(38, 0), 'DECIMAL(38,0)'],
    [glue.Schema.decimal(38, 38), 'DECIMAL(38,38)'],
    [glue.Schema.decimal(1, 0), 'DECIMAL(1,0)'],
  ])('%o → %s', (type, expected) => {
    expect(sql(type)).toEqual({ sql: expected, nested: false });
  });

  test('a bare `decimal` is Hive\'s decimal(10,0)', () => {
    expect(sql('decimal').sql).toBe('DECIMAL(10,0)');
  });

  test('refuses precision over 38, precision 0 and a scale above the precision', () => {
    expect(problem('decimal(39,2)')).toMatch(/precision 39; Redshift's DECIMAL takes 1–38/);
    expect(problem('decimal(0,0)')).toMatch(/precision 0/);
    expect(problem('decimal(5,6)')).toMatch(/scale 6 above its precision 5/);
  });
});

describe('redshiftTypeOf: char and varchar (Glue counts characters, Redshift counts bytes)', () => {
  test('varchar(n) holds n characters of up to 4 UTF-8 bytes each', () => {
    expect(sql(glue.Schema.varchar(100))).toEqual({ sql: 'VARCHAR(400)', nested: false });
    expect(sql(glue.Schema.varchar(1))).toEqual({ sql: 'VARCHAR(4)', nested: false });
  });

  test('varchar(n) is capped at Redshift\'s 65,535 bytes', () => {
    expect(sql(glue.Schema.varchar(65535)).sql).toBe(`VARCHAR(${MAX_VARCHAR})`);
    expect(sql(glue.Schema.varchar(16384)).sql).toBe(`VARCHAR(${MAX_VARCHAR})`);
  });

  test('char(n) loads into VARCHAR: Redshift\'s CHAR holds single-byte characters only', () => {
    expect(sql(glue.Schema.char(10))).toEqual({ sql: 'VARCHAR(40)', nested: false });
    expect(sql(glue.Schema.char(255))).toEqual({ sql: 'VARCHAR(1020)', nested: false });
  });

  test('refuses lengths Hive refuses (char 1–255, varchar 1–65,535)', () => {
    expect(problem('char(0)')).toMatch(/length 0; Glue's CHAR takes 1–255/);
    expect(problem('char(256)')).toMatch(/length 256; Glue's CHAR takes 1–255/);
    expect(problem('varchar(0)')).toMatch(/length 0; Glue's VARCHAR takes 1–65535/);
    expect(problem('varchar(65536)')).toMatch(/length 65536/);
  });

  test('a varchar without a length has no mapping', () => {
    expect(problem('varchar')).toMatch(/no Redshift type/);
  });
});

describe('redshiftTypeOf: nested types load into SUPER', () => {
  test.each([
    glue.Schema.struct([{ name: 'os', type: glue.Schema.STRING }]),
    glue.Schema.array(glue.Schema.STRING),
    glue.Schema.array(glue.Schema.struct([{ name: 'a', type: glue.Schema.INTEGER }])),
    glue.Schema.map(glue.Schema.STRING, glue.Schema.BIG_INT),
    glue.Schema.map(glue.Schema.STRING, glue.Schema.array(glue.Schema.DOUBLE)),
  ])('%o → SUPER, nested', (type) => {
    expect(sql(type)).toEqual({ sql: 'SUPER', nested: true });
  });
});

describe('redshiftTypeOf: types with no mapping', () => {
  test.each(['uniontype<int,string>', 'interval', 'void', 'timestamp with local time zone', 'json', 'text', 'int(11)', ''])('%j has none, and the reason names it', (type) => {
    expect(problem(type)).toMatch(/has no Redshift type a Parquet COPY can load into/);
  });

  test('the reason quotes the Glue type', () => {
    expect(problem('uniontype<int,string>')).toContain("('uniontype<int,string>')");
  });
});
