import { Lazy, Stack } from 'aws-cdk-lib';
import { newApp } from './support/nag';
import { identifierProblem, MAX_IDENTIFIER_BYTES, sqlIdent, sqlLiteral, sqlName, sqlQualified } from '../lib/core/redshift-sql-text';

/** A string token, as CDK renders an unresolved attribute inside a string. */
const token = () => Lazy.string({ produce: () => 'resolved' });

describe('sqlIdent (delimited identifiers)', () => {
  test('wraps a plain name in double quotes', () => {
    expect(sqlIdent('events')).toBe('"events"');
  });

  test.each([
    ['a double quote is doubled, so it cannot end the identifier', 'a"b', '"a""b"'],
    ['a name made of quotes', '"""', '""""""""'],
    ['a quote then a statement', 'x"; DROP TABLE users; --', '"x""; DROP TABLE users; --"'],
    ['a single quote needs no escaping inside "…"', "o'brien", '"o\'brien"'],
    ['a backslash is literal inside "…"', 'a\\b', '"a\\b"'],
    ['a semicolon stays inside the identifier', 'a;b', '"a;b"'],
    ['line and block comment markers stay inside', 'a--b/*c*/', '"a--b/*c*/"'],
    ['unicode letters are kept as they are', 'café_ümlaut_日本', '"café_ümlaut_日本"'],
    ['mixed case is kept (identifiers are case-sensitive)', 'EventTime', '"EventTime"'],
    ['spaces are kept', 'my table', '"my table"'],
  ])('%s', (_why, name, quoted) => {
    expect(sqlIdent(name)).toBe(quoted);
  });

  test('accepts 127 bytes and refuses 128 (Redshift counts bytes, not characters)', () => {
    expect(sqlIdent('a'.repeat(MAX_IDENTIFIER_BYTES))).toBe(`"${'a'.repeat(127)}"`);
    expect(() => sqlIdent('a'.repeat(128))).toThrow(/not a Redshift identifier/);
    // 64 two-byte characters are 128 bytes though only 64 characters.
    expect(() => sqlIdent('é'.repeat(64))).toThrow(/not a Redshift identifier/);
    expect(sqlIdent('é'.repeat(63))).toBe(`"${'é'.repeat(63)}"`);
  });

  test('refuses an empty name and a NUL character', () => {
    expect(() => sqlIdent('')).toThrow(/not a Redshift identifier/);
    expect(() => sqlIdent('a\0b')).toThrow(/not a Redshift identifier/);
  });

  test('refuses control characters (newline, tab, DEL): delimited identifiers take printable characters only', () => {
    for (const bad of ['a\nb', 'a\rb', 'a\tb', 'a\u007fb', 'a\u001bb']) {
      expect(() => sqlIdent(bad)).toThrow(/not a Redshift identifier/);
    }
  });

  test('refuses a token: a name only known at deploy time cannot be checked', () => {
    expect(() => sqlIdent(token())).toThrow(/is a token/);
  });
});

describe('sqlQualified', () => {
  test('delimits each part separately', () => {
    expect(sqlQualified('public', 'events')).toBe('"public"."events"');
    expect(sqlQualified('a.b', 'c"d')).toBe('"a.b"."c""d"');
  });
});

describe('sqlLiteral (string literals)', () => {
  test.each([
    ['a plain value is single-quoted', 'abc', "'abc'"],
    ['a single quote is doubled', "o'brien", "'o''brien'"],
    ['a quote then a statement stays one literal', "x'; DROP TABLE t; --", "'x''; DROP TABLE t; --'"],
    ['a backslash is doubled (Redshift reads backslash escapes in literals)', 'a\\b', "'a\\\\b'"],
    ['a backslash before a quote cannot escape the closing quote', "a\\'", "'a\\\\'''"],
    ['a trailing backslash cannot escape the closing quote', 'a\\', "'a\\\\'"],
    ['semicolons and comment markers stay inside', 'a;--/*b*/', "'a;--/*b*/'"],
    ['unicode is kept', 'zürich-東京', "'zürich-東京'"],
    ['an empty value', '', "''"],
  ])('%s', (_why, value, literal) => {
    expect(sqlLiteral(value)).toBe(literal);
  });

  test('refuses a NUL character', () => {
    expect(() => sqlLiteral('a\0b')).toThrow(/NUL/);
  });

  test('keeps tokens as they are and escapes the text around them', () => {
    const stack = new Stack(newApp(), 'S');
    const arn = token();
    const literal = sqlLiteral(`it's ${arn}\\`);
    expect(literal).toBe(`'it''s ${arn}\\\\'`);
    expect(stack.resolve(literal)).toBe("'it''s resolved\\\\'");
  });
});

describe('identifierProblem (names the library generates objects under)', () => {
  test.each(['events', '_events', 'e1', 'a$b', 'a'.repeat(127)])('accepts %s', (name) => {
    expect(identifierProblem(name)).toBeUndefined();
  });

  test.each([
    ['', /must not be empty/],
    ['a'.repeat(128), /at most 127 bytes/],
    ['Events', /lowercase/],
    ['1events', /start with a lowercase letter or underscore/],
    ['my-table', /only lowercase letters, digits, underscores and dollar signs/],
    ['a"b', /lowercase letter/],
    ['a;b', /lowercase letter/],
    ['a b', /lowercase letter/],
    ['a--b', /lowercase letter/],
    ['café', /lowercase letter/],
    ['a\0', /lowercase letter/],
    ['$a', /start with/],
  ])('refuses %j', (name, rule) => {
    expect(identifierProblem(name)).toMatch(rule);
  });

  test('refuses a token', () => {
    expect(identifierProblem(token())).toMatch(/literal name, not a token/);
  });
});

describe('sqlName (plain names where SQL takes no delimited identifier, e.g. COPY JOB names)', () => {
  test('returns a valid identifier unquoted', () => {
    expect(sqlName('events_autocopy')).toBe('events_autocopy');
  });

  test.each(['my-job', 'a"b', 'a;b', 'Job', ''])('refuses %j, which would need quoting', (name) => {
    expect(() => sqlName(name)).toThrow(/sqlName/);
  });
});
