import { decodeBase64Strict, decodeJsonRecord, parseJsonObject } from '../../lambda/shared/decode-record';

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');

describe('decodeBase64Strict', () => {
  test('decodes canonical padded base64', () => {
    expect(decodeBase64Strict(b64('hello'))?.toString()).toBe('hello');
    expect(decodeBase64Strict('')?.length).toBe(0);
  });

  test.each([
    ['a character outside the alphabet', 'aGVs*G8='],
    ['whitespace', 'aGVs bG8='],
    ['a newline', 'aGVsbG8=\n'],
    ['missing padding', 'aGVsbG8'],
    ['padding in the middle', 'aG=sbG8='],
    ['URL-safe alphabet', 'a-_sbG8='],
    ['three padding characters', 'aGVsb==='],
  ])('rejects %s (Buffer.from would silently skip it)', (_name, text) => {
    expect(decodeBase64Strict(text)).toBeUndefined();
  });

  test('accepts exactly what the reference regex ^[A-Za-z0-9+/]*={0,2}$ (length % 4 == 0) accepts', () => {
    const reference = (t: string): boolean => t.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(t);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const odd = ['=', '-', '_', ' ', '\n', '\t', '*', '.', 'é', '€', '\u0000', '\uD83D'];
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    let accepted = 0;
    for (let i = 0; i < 20000; i++) {
      let text = '';
      const length = 4 * (1 + rand(5)) - (rand(10) === 0 ? 1 : 0);
      for (let j = 0; j < length; j++) text += rand(12) === 0 ? odd[rand(odd.length)] : alphabet[rand(64)];
      if (rand(3) === 0) text = text.slice(0, -rand(3)) + '=='.slice(0, rand(3));
      const expected = reference(text);
      if (expected) accepted++;
      expect([text, decodeBase64Strict(text) !== undefined]).toEqual([text, expected]);
    }
    expect(accepted).toBeGreaterThan(1000);
  });

  test.each([undefined, null, 42, {}])('rejects the non-string %j', (value) => {
    expect(decodeBase64Strict(value)).toBeUndefined();
  });
});

describe('parseJsonObject', () => {
  test('returns a JSON object', () => {
    expect(parseJsonObject(Buffer.from('{"a":{"b":1}}'))).toEqual({ ok: true, value: { a: { b: 1 } } });
  });

  test('accepts a leading UTF-8 byte order mark and surrounding whitespace', () => {
    expect(parseJsonObject(Buffer.from('\uFEFF {"a":1}\n'))).toEqual({ ok: true, value: { a: 1 } });
  });

  test('keeps non-ASCII text intact', () => {
    expect(parseJsonObject(Buffer.from('{"city":"Zürich 東京"}'))).toEqual({ ok: true, value: { city: 'Zürich 東京' } });
  });

  test('rejects invalid UTF-8 instead of substituting U+FFFD', () => {
    expect(parseJsonObject(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]))).toEqual({ ok: false, reason: 'invalid_utf8' });
  });

  test.each(['', 'not json', '{"a":1', '{"a":1}{"b":2}', "{'a':1}", '{"a":1,}'])('rejects non-JSON %j', (text) => {
    expect(parseJsonObject(Buffer.from(text))).toEqual({ ok: false, reason: 'invalid_json' });
  });

  test.each(['[]', '[{"a":1}]', '"text"', '42', 'true', 'null'])('rejects the non-object JSON %s', (text) => {
    expect(parseJsonObject(Buffer.from(text))).toEqual({ ok: false, reason: 'not_an_object' });
  });
});

describe('decodeJsonRecord', () => {
  test('reports the first step that fails', () => {
    expect(decodeJsonRecord('%%%%')).toEqual({ ok: false, reason: 'invalid_base64' });
    expect(decodeJsonRecord(b64('nope'))).toEqual({ ok: false, reason: 'invalid_json' });
    expect(decodeJsonRecord(b64('[1]'))).toEqual({ ok: false, reason: 'not_an_object' });
    expect(decodeJsonRecord(b64('{"ok":true}'))).toEqual({ ok: true, value: { ok: true } });
  });
});
