import type * as glue from 'aws-cdk-lib/aws-glue';

/** A Glue column type as a Redshift column type. */
export interface RedshiftColumnType {
  /** The Redshift type, as DDL writes it (`BIGINT`, `DECIMAL(18,2)`, `SUPER`). */
  readonly sql: string;
  /**
   * The value is nested (array, struct, map): it loads into `SUPER`, which a Parquet COPY fills
   * only with `SERIALIZETOJSON`.
   */
  readonly nested: boolean;
}

/** Redshift's longest VARCHAR, in bytes. Glue's `string` has no length; anything shorter could refuse rows. */
export const MAX_VARCHAR = 65535;
/** Redshift's longest VARBYTE, in bytes. */
export const MAX_VARBYTE = 1024000;
/** Hive's (and Glue's) longest CHAR, in characters. */
export const MAX_GLUE_CHAR = 255;
/** Bytes of the longest UTF-8 character. */
const MAX_UTF8_BYTES = 4;
/** Redshift's largest DECIMAL precision. */
export const MAX_DECIMAL_PRECISION = 38;

const PRIMITIVES: { [glueType: string]: string } = {
  boolean: 'BOOLEAN',
  // Redshift has no 1-byte integer; SMALLINT holds every TINYINT value.
  tinyint: 'SMALLINT',
  smallint: 'SMALLINT',
  int: 'INTEGER',
  integer: 'INTEGER',
  bigint: 'BIGINT',
  float: 'REAL',
  double: 'DOUBLE PRECISION',
  string: `VARCHAR(${MAX_VARCHAR})`,
  date: 'DATE',
  timestamp: 'TIMESTAMP',
  binary: `VARBYTE(${MAX_VARBYTE})`,
};

/**
 * The Redshift type a Parquet COPY loads a column of Glue type `type` into, or the reason there is
 * none (the caller names the column in a synth error).
 */
export function redshiftTypeOf(type: glue.Type | string): RedshiftColumnType | { readonly problem: string } {
  const text = (typeof type === 'string' ? type : type.inputString).trim().toLowerCase();
  if (/^(array|struct|map)\s*</.test(text)) return { sql: 'SUPER', nested: true };
  const primitive = PRIMITIVES[text];
  if (primitive) return { sql: primitive, nested: false };
  const decimal = /^decimal\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$/.exec(text);
  if (decimal) {
    // Hive's (and Glue's) bare `decimal` is decimal(10,0).
    const precision = decimal[1] === undefined ? 10 : Number(decimal[1]);
    const scale = decimal[2] === undefined ? 0 : Number(decimal[2]);
    if (precision < 1 || precision > MAX_DECIMAL_PRECISION) return { problem: `has precision ${precision}; Redshift's DECIMAL takes 1–${MAX_DECIMAL_PRECISION}` };
    if (scale > precision) return { problem: `has scale ${scale} above its precision ${precision}` };
    return { sql: `DECIMAL(${precision},${scale})`, nested: false };
  }
  const sized = /^(char|varchar)\s*\(\s*(\d+)\s*\)$/.exec(text);
  if (sized) {
    const length = Number(sized[2]);
    const max = sized[1] === 'char' ? MAX_GLUE_CHAR : MAX_VARCHAR;
    if (length < 1 || length > max) return { problem: `has length ${length}; Glue's ${sized[1].toUpperCase()} takes 1–${max}` };
    // Glue counts characters, Redshift bytes: n characters take up to 4n UTF-8 bytes, and a value
    // too long fails its whole file (a COPY JOB takes no MAXERROR). Redshift's CHAR holds
    // single-byte characters only, so char(n) loads into VARCHAR as well (trailing blanks compare
    // as insignificant in both).
    return { sql: `VARCHAR(${Math.min(length * MAX_UTF8_BYTES, MAX_VARCHAR)})`, nested: false };
  }
  return { problem: `('${text}') has no Redshift type a Parquet COPY can load into` };
}
