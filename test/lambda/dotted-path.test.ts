import { getAtPath, parseDottedPath, replaceAtPath } from '../../lambda/shared/dotted-path';

describe('parseDottedPath', () => {
  test('splits a path into segments', () => {
    expect(parseDottedPath('a.b.c', 'X').segments).toEqual(['a', 'b', 'c']);
    expect(parseDottedPath('ts', 'X').segments).toEqual(['ts']);
  });

  test.each([
    ['', /non-empty/],
    ['.a', /empty segment/],
    ['a.', /empty segment/],
    ['a..b', /empty segment/],
    ['a.__proto__', /reserved/],
  ])('rejects %j naming the setting', (text, message) => {
    expect(() => parseDottedPath(text, 'EVENT_TIME_FIELD')).toThrow(message);
    expect(() => parseDottedPath(text, 'EVENT_TIME_FIELD')).toThrow(/EVENT_TIME_FIELD/);
  });

  test('rejects a non-string', () => {
    expect(() => parseDottedPath(3, 'X')).toThrow(/X must be a non-empty dotted path/);
  });
});

describe('getAtPath', () => {
  const doc = { a: { b: { c: 1, n: null } }, arr: [{ x: 1 }], s: 'str', top: 0 };

  test('follows nested objects', () => {
    expect(getAtPath(doc, parseDottedPath('a.b.c', 'p'))).toBe(1);
    expect(getAtPath(doc, parseDottedPath('top', 'p'))).toBe(0);
    expect(getAtPath(doc, parseDottedPath('a.b.n', 'p'))).toBeNull();
  });

  test.each(['a.x', 'a.b.c.d', 's.length', 'arr.0.x', 'toString', 'a.constructor', 'a.hasOwnProperty'])(
    'returns undefined for %s (missing, through a scalar or array, or inherited)', (path) => {
      expect(getAtPath(doc, parseDottedPath(path, 'p'))).toBeUndefined();
    });
});

describe('replaceAtPath', () => {
  test('replaces an existing nested value', () => {
    const doc = { a: { b: 1 } };
    expect(replaceAtPath(doc, parseDottedPath('a.b', 'p'), 'x')).toBe(true);
    expect(doc).toEqual({ a: { b: 'x' } });
  });

  test('does not create missing fields', () => {
    const doc: Record<string, unknown> = { a: {} };
    expect(replaceAtPath(doc, parseDottedPath('a.b', 'p'), 'x')).toBe(false);
    expect(replaceAtPath(doc, parseDottedPath('z.b', 'p'), 'x')).toBe(false);
    expect(doc).toEqual({ a: {} });
  });
});
