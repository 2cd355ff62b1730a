/** The replay planner with MSK topic targets: choosing the topic, its configured capacity, and the lanes' work. */
import { parseConfig, plan, type PlannerIo } from '../../lambda/replay-planner/core';

const STREAM = 'arn:aws:kinesis:us-east-1:111122223333:stream/replays';
const ORDERS = 'arn:aws:kafka:us-east-1:111122223333:topic/c1/0b7c3f5e-1111-2222-3333-444455556666-2/orders';
const ORDERS_2 = 'arn:aws:kafka:us-east-1:111122223333:topic/c2/9a7c3f5e-1111-2222-3333-444455556666-3/orders';
const AUDIT = 'arn:aws:kafka:us-east-1:111122223333:topic/c1/0b7c3f5e-1111-2222-3333-444455556666-2/audit';
const BASE = { ARCHIVE_BUCKET: 'archive-bucket', ARCHIVE_PREFIX: 'archive/', STATE_BUCKET: 'state', LANES: '4', WRITE_SHARE: '0.5' };
const NOW = Date.parse('2026-11-22T12:00:00Z');
const REQUEST = { from: '2026-11-20T06:00:00Z', to: '2026-11-21T00:00:00Z' };
const described: string[] = [];
const io: PlannerIo = {
  listArchiveHours: async () => ['dt=2026-11-20/hour=05/'],
  describeStream: async (arn) => {
    described.push(arn);
    return { mode: 'PROVISIONED', openShards: 2, status: 'ACTIVE' };
  },
};

describe('replay planner, topic targets', () => {
  beforeEach(() => described.splice(0));

  test('only topics: the first is the default, at the configured topic capacity, and no stream is described', async () => {
    const config = parseConfig({ ...BASE, TARGET_TOPICS: JSON.stringify([AUDIT, ORDERS]), TOPIC_RECORDS_PER_SECOND: '8000', TOPIC_BYTES_PER_SECOND: '8388608' });
    const p = await plan(REQUEST, 'exec', io, config, NOW);
    expect(p).toMatchObject({ targetStream: null, targetTopic: AUDIT, targetCapacity: { recordsPerSecond: 8000, bytesPerSecond: 8388608 }, replayRate: { recordsPerSecond: 4000 } });
    expect(p.lanes[0]).toMatchObject({ targetTopic: AUDIT, rate: { recordsPerSecond: 1000, bytesPerSecond: 1048576 } });
    expect(p.lanes[0]).not.toHaveProperty('targetStream');
    expect(described).toEqual([]);
  });

  test('a topic by name or ARN; streams stay the default; the topic capacity defaults to 5,000 records/s and 5 MiB/s', async () => {
    const config = parseConfig({ ...BASE, TARGET_STREAMS: JSON.stringify([STREAM]), TARGET_TOPICS: JSON.stringify([ORDERS, AUDIT]) });
    expect(await plan(REQUEST, 'exec', io, config, NOW)).toMatchObject({ targetStream: STREAM, targetTopic: null });
    expect(await plan({ ...REQUEST, targetTopic: 'audit' }, 'exec', io, config, NOW)).toMatchObject({ targetTopic: AUDIT, targetCapacity: { recordsPerSecond: 5000, bytesPerSecond: 5 * 1024 * 1024 } });
    expect(await plan({ ...REQUEST, targetTopic: ORDERS }, 'exec', io, config, NOW)).toMatchObject({ targetTopic: ORDERS, targetStream: null });
  });

  test.each([
    [{ targetTopic: 'payments' }, /targetTopic "payments" is not a configured replay topic; allowed: .*orders/],
    [{ targetTopic: 'orders' }, /targetTopic "orders" names several configured topics: give its ARN/],
    [{ targetTopic: 'audit', targetStream: STREAM }, /give targetStream or targetTopic, not both/],
    [{ targetStream: 'arn:aws:kinesis:us-east-1:111122223333:stream/x' }, /targetStream .* is not a configured replay target; allowed: \(none\)/],
  ])('refuses %j', async (extra, message) => {
    const config = parseConfig({ ...BASE, TARGET_TOPICS: JSON.stringify([ORDERS, ORDERS_2, AUDIT]) });
    await expect(plan({ ...REQUEST, ...extra }, 'exec', io, config, NOW)).rejects.toThrow(message);
  });

  test('configuration: at least one target, topic ARNs only', () => {
    expect(() => parseConfig(BASE)).toThrow(/TARGET_STREAMS must list at least one stream ARN, or TARGET_TOPICS one topic ARN/);
    expect(() => parseConfig({ ...BASE, TARGET_TOPICS: JSON.stringify(['orders']) })).toThrow(/TARGET_TOPICS must list MSK topic ARNs/);
    expect(() => parseConfig({ ...BASE, TARGET_TOPICS: 'orders' })).toThrow(/TARGET_TOPICS must be a JSON array of ARNs/);
  });
});
