import { PARTITION_VALUE_PATTERN, toPartitionValue } from '../../lambda/shared/partition-value';

describe('toPartitionValue', () => {
  test.each([
    ['eu-west-1', 'eu-west-1'],
    ['Tenant_42', 'Tenant_42'],
    ['a.b:c=d+e-f', 'a.b:c=d+e-f'],
    [42, '42'],
    [-3, '-3'],
    [1.5, '1.5'],
    [true, 'true'],
    [false, 'false'],
    ['x'.repeat(512), 'x'.repeat(512)],
  ])('accepts %j as %j', (input, expected) => {
    expect(toPartitionValue(input)).toBe(expected);
  });

  test.each([
    ['an empty string', ''],
    ['a slash, which would add a prefix level', 'eu/west'],
    ['a path traversal', '../x'],
    ['a space', 'eu west'],
    ['a percent sign', 'a%2Fb'],
    ['a backslash', 'a\\b'],
    ['a question mark', 'a?b'],
    ['a hash', 'a#b'],
    ['a newline', 'a\nb'],
    ['non-ASCII letters', 'zürich'],
    ['a value over 512 characters', 'x'.repeat(513)],
    ['null', null],
    ['an object', { a: 1 }],
    ['an array', ['eu']],
  ])('rejects %s', (_name, input) => {
    expect(toPartitionValue(input)).toBeUndefined();
  });

  test('documents the safe set [A-Za-z0-9_.:=+-], 1 to 512 characters', () => {
    expect(PARTITION_VALUE_PATTERN.source).toBe('^[A-Za-z0-9_.:=+-]{1,512}$');
  });
});
