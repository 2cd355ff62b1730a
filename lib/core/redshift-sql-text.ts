import { Token } from 'aws-cdk-lib';

/**
 * The one place generated SQL quotes names and values. Every identifier is delimited ("…") and
 * every literal single-quoted, escaped here, so a hostile name cannot end the statement.
 */

/** Redshift's identifier limit, in bytes (UTF-8). */
export const MAX_IDENTIFIER_BYTES = 127;

/**
 * Why `name` cannot be a generated object name, or undefined if it can. Names are the standard
 * (undelimited) kind: a letter or underscore, then letters, digits, underscores or dollar signs,
 * 1–127 bytes. Lowercase is required: the warehouse turns on `enable_case_sensitive_identifier`
 * (zero-ETL needs it), so a mixed-case name would have to be quoted in every query.
 */
export function identifierProblem(name: string): string | undefined {
  if (Token.isUnresolved(name)) return 'must be a literal name, not a token';
  if (name.length === 0) return 'must not be empty';
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENTIFIER_BYTES) return `must be at most ${MAX_IDENTIFIER_BYTES} bytes (Redshift's identifier limit)`;
  if (!/^[a-z_][a-z0-9_$]*$/.test(name)) {
    return 'must start with a lowercase letter or underscore and hold only lowercase letters, digits, underscores and dollar signs '
      + '(a Redshift identifier; lowercase because the warehouse\'s identifiers are case-sensitive)';
  }
  return undefined;
}

/**
 * `name` as a delimited identifier: wrapped in double quotes, each `"` doubled. Refuses what no
 * quoting can carry: empty, over 127 bytes, or a control character (NUL, newline, tab, DEL…):
 * Redshift's delimited identifiers take printable characters only.
 */
export function sqlIdent(name: string): string {
  if (Token.isUnresolved(name)) throw new Error(`sqlIdent: '${name}' is a token; identifiers must be literal names`);
  // eslint-disable-next-line no-control-regex
  if (name.length === 0 || /[\u0000-\u001f\u007f]/.test(name) || Buffer.byteLength(name, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw new Error(`sqlIdent: ${JSON.stringify(name)} is not a Redshift identifier (1–${MAX_IDENTIFIER_BYTES} bytes of printable characters)`);
  }
  return `"${name.replace(/"/g, '""')}"`;
}

/** `schema.name`, each part delimited. */
export function sqlQualified(schema: string, name: string): string {
  return `${sqlIdent(schema)}.${sqlIdent(name)}`;
}

/** How CDK encodes a string token inside a string (`${Token[NAME.123]}`). */
const STRING_TOKEN = /(\$\{Token\[[^\]]+\]\})/;

/**
 * `value` as a string literal: single-quoted, `'` doubled and `\` doubled (Redshift treats
 * backslash as an escape inside literals). Tokens inside `value` (ARNs, names CloudFormation
 * resolves) are kept as they are: AWS-generated names and ARNs hold neither character. The text
 * around them is escaped.
 */
export function sqlLiteral(value: string): string {
  if (value.includes('\0')) throw new Error(`sqlLiteral: ${JSON.stringify(value)} holds a NUL character`);
  const parts = value.split(STRING_TOKEN).map((part, i) => i % 2 === 1 ? part : part.replace(/\\/g, '\\\\').replace(/'/g, "''"));
  return `'${parts.join('')}'`;
}

/**
 * `name` as it is, where SQL takes a plain name and no delimited identifier (`COPY JOB … <name>`):
 * only a name {@link identifierProblem} accepts, which needs no quoting.
 */
export function sqlName(name: string): string {
  const problem = identifierProblem(name);
  if (problem) throw new Error(`sqlName: ${JSON.stringify(name)} ${problem}`);
  return name;
}
