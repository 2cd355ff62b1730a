import {
  checkProjectionRange,
  MAX_EVENT_TIME_MS,
  parseEventTime,
  toUtcEventTime,
  type EventTimeFormat,
} from '../../lambda/shared/event-time';

/** Parses and formats, or returns the failure reason. */
function utc(value: unknown, format: EventTimeFormat = 'iso8601'): string {
  const r = parseEventTime(value, format);
  return r.ok ? toUtcEventTime(r.epochMillis).iso : r.reason;
}

describe('iso8601', () => {
  test.each([
    ['2024-06-01T12:00:00Z', '2024-06-01T12:00:00.000Z'],
    ['2024-06-01t12:00:00z', '2024-06-01T12:00:00.000Z'],
    ['2024-06-01T12:00:00+05:30', '2024-06-01T06:30:00.000Z'],
    ['2024-06-01T12:00:00-0800', '2024-06-01T20:00:00.000Z'],
    ['2024-06-01T12:00:00+02', '2024-06-01T10:00:00.000Z'],
    ['2024-06-01T12:00:00-00:00', '2024-06-01T12:00:00.000Z'],
    ['2024-06-01T12:00:00+14:00', '2024-05-31T22:00:00.000Z'],
    ['2024-06-01T12:00:00-12:00', '2024-06-02T00:00:00.000Z'],
  ])('accepts the zone designator of %s', (input, expected) => {
    expect(utc(input)).toBe(expected);
  });

  test.each([
    ['2024-06-01T12:00:00.5Z', '2024-06-01T12:00:00.500Z'],
    ['2024-06-01T12:00:00.12Z', '2024-06-01T12:00:00.120Z'],
    ['2024-06-01T12:00:00,25Z', '2024-06-01T12:00:00.250Z'],
    ['2024-06-01T12:00:00.123456789+01:00', '2024-06-01T11:00:00.123Z'],
  ])('keeps fractional seconds of %s to the millisecond', (input, expected) => {
    expect(utc(input)).toBe(expected);
  });

  test('truncates sub-millisecond fractions instead of rounding into the next hour or day', () => {
    expect(utc('2024-12-31T23:59:59.9999Z')).toBe('2024-12-31T23:59:59.999Z');
  });

  test.each([
    '2024-06-01T12:00:00', // no zone: guessing one would misplace the record
    '2024-06-01T12:00:00.000',
    '2024-06-01',
    '2024-06-01 12:00:00Z',
    '2024-06-01T12:00Z',
    '20240601T120000Z',
    '2024-6-1T12:00:00Z',
    ' 2024-06-01T12:00:00Z',
    '2024-06-01T12:00:00Z ',
    '2024-06-01T12:00:00+5:30',
    '2024-06-01T12:00:00.Z',
    '2024-06-01T12:00:00.1234567890Z',
    'Sat, 01 Jun 2024 12:00:00 GMT',
    '',
  ])('rejects the malformed string %j', (input) => {
    expect(utc(input)).toBe('invalid_event_time');
  });

  test.each([
    '2023-02-29T00:00:00Z', // not a leap year
    '2100-02-29T00:00:00Z', // century, not divisible by 400
    '2024-02-30T00:00:00Z',
    '2024-04-31T00:00:00Z',
    '2024-13-01T00:00:00Z',
    '2024-00-10T00:00:00Z',
    '2024-01-00T00:00:00Z',
    '2024-01-32T00:00:00Z',
    '2024-01-01T24:00:00Z',
    '2024-01-01T23:60:00Z',
    '2024-01-01T23:59:60Z', // leap seconds are not representable in epoch time
    '2024-01-01T12:00:00+19:00',
    '2024-01-01T12:00:00+05:60',
  ])('rejects the impossible date or time %s', (input) => {
    expect(utc(input)).toBe('invalid_event_time');
  });

  test.each([
    ['2024-02-29T12:00:00Z', '2024-02-29T12:00:00.000Z'],
    ['2000-02-29T00:00:00Z', '2000-02-29T00:00:00.000Z'],
    ['2024-02-29T23:30:00-01:00', '2024-03-01T00:30:00.000Z'],
    ['2024-03-01T00:30:00+01:00', '2024-02-29T23:30:00.000Z'],
  ])('handles leap day %s', (input, expected) => {
    expect(utc(input)).toBe(expected);
  });

  test.each([null, undefined, 1717243200, true, {}, ['2024-06-01T12:00:00Z']])('rejects the non-string %j', (input) => {
    expect(utc(input)).toBe('invalid_event_time');
  });

  test.each([
    ['1969-12-31T23:59:59.999Z', 'event_time_out_of_range'],
    ['1970-01-01T00:00:00Z', '1970-01-01T00:00:00.000Z'],
    ['1970-01-01T00:30:00+01:00', 'event_time_out_of_range'],
    ['0099-01-01T00:00:00Z', 'event_time_out_of_range'], // Date.UTC would read this as 1999
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
    ['9999-12-31T23:30:00-01:00', 'event_time_out_of_range'],
  ])('enforces the 1970..9999 range on %s', (input, expected) => {
    expect(utc(input)).toBe(expected);
  });
});

describe('epoch formats', () => {
  test.each([
    [1700000000, '2023-11-14T22:13:20.000Z'],
    ['1700000000', '2023-11-14T22:13:20.000Z'],
    [1700000000.123, '2023-11-14T22:13:20.123Z'],
    ['1700000000.5', '2023-11-14T22:13:20.500Z'],
    ['1700000000.1239', '2023-11-14T22:13:20.123Z'],
    [1700000000.001, '2023-11-14T22:13:20.001Z'],
    ['0001700000000', '2023-11-14T22:13:20.000Z'],
    [0, '1970-01-01T00:00:00.000Z'],
    ['-0', '1970-01-01T00:00:00.000Z'],
    [0.0000001, '1970-01-01T00:00:00.000Z'],
    [253402300799, '9999-12-31T23:59:59.000Z'],
  ])('reads epoch seconds %j', (input, expected) => {
    expect(utc(input, 'epoch_seconds')).toBe(expected);
  });

  test.each([
    [1700000000123, '2023-11-14T22:13:20.123Z'],
    ['1700000000123', '2023-11-14T22:13:20.123Z'],
    [1700000000123.9, '2023-11-14T22:13:20.123Z'],
    ['1700000000123.999', '2023-11-14T22:13:20.123Z'],
    [MAX_EVENT_TIME_MS, '9999-12-31T23:59:59.999Z'],
  ])('reads epoch millis %j', (input, expected) => {
    expect(utc(input, 'epoch_millis')).toBe(expected);
  });

  test.each([
    ['epoch_seconds', -1],
    ['epoch_seconds', '-1'],
    ['epoch_seconds', '-0.5'],
    ['epoch_seconds', 253402300800],
    ['epoch_seconds', 1700000000123], // millis written into a seconds field
    ['epoch_seconds', 1e21],
    ['epoch_seconds', '99999999999999999999999'],
    ['epoch_millis', -1],
    ['epoch_millis', '-0.5'],
    ['epoch_millis', MAX_EVENT_TIME_MS + 1],
  ] as const)('%s rejects out-of-range %j', (format, input) => {
    expect(utc(input, format)).toBe('event_time_out_of_range');
  });

  test.each(['', ' 1700000000', '1700000000 ', '1.7e9', '+1700000000', '0x10', '1,5', '1700000000.', '.5', 'abc', true, null, {}, [1700000000]])(
    'rejects the non-numeric %j', (input) => {
      expect(utc(input, 'epoch_seconds')).toBe('invalid_event_time');
      expect(utc(input, 'epoch_millis')).toBe('invalid_event_time');
    });
});

describe('toUtcEventTime', () => {
  test('derives dt and hour from the UTC instant', () => {
    expect(toUtcEventTime(Date.UTC(2025, 0, 1, 0, 0, 0))).toEqual({ iso: '2025-01-01T00:00:00.000Z', dt: '2025-01-01', hour: '00' });
    expect(toUtcEventTime(Date.UTC(2024, 11, 31, 23, 59, 59, 999))).toEqual({ iso: '2024-12-31T23:59:59.999Z', dt: '2024-12-31', hour: '23' });
  });
});

describe('checkProjectionRange', () => {
  const range = { startMs: Date.UTC(2020, 0, 1), maxFutureSeconds: 3600 };
  const now = Date.UTC(2026, 11, 3, 8, 0, 0, 500);

  test('accepts the projection start and everything up to the allowance ahead of now', () => {
    expect(checkProjectionRange(Date.UTC(2020, 0, 1), range, now)).toBeUndefined();
    expect(checkProjectionRange(now, range, now)).toBeUndefined();
    // Whole seconds, as the jq query compares floor(seconds) with now + allowance.
    expect(checkProjectionRange(now + 3600_499, range, now)).toBeUndefined();
  });

  test('refuses an event before the projection start, even by a millisecond', () => {
    expect(checkProjectionRange(Date.UTC(2020, 0, 1) - 1, range, now)).toBe('event_time_before_projection');
    expect(checkProjectionRange(0, range, now)).toBe('event_time_before_projection');
  });

  test('refuses an event more than the allowance ahead of now', () => {
    expect(checkProjectionRange(now + 3601_000, range, now)).toBe('event_time_too_far_ahead');
    expect(checkProjectionRange(now + 1000, { ...range, maxFutureSeconds: 0 }, now)).toBe('event_time_too_far_ahead');
  });
});
