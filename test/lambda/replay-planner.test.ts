import { parseConfig, plan, ReplayRequestError, summarize, type PlannerIo, type StreamDescription } from '../../lambda/replay-planner/core';

const SOURCE = 'arn:aws:kinesis:us-east-1:111122223333:stream/source';
const OTHER = 'arn:aws:kinesis:us-east-1:111122223333:stream/other';
const ENV = {
  ARCHIVE_BUCKET: 'archive-bucket', ARCHIVE_PREFIX: 'archive/', STATE_BUCKET: 'state', STATE_PREFIX: 'replays/',
  LANES: '4', TARGET_STREAMS: JSON.stringify([SOURCE, OTHER]), WRITE_SHARE: '0.5',
};
const NOW = Date.parse('2026-11-22T12:00:00Z');

function io(hours: string[], streams: Record<string, StreamDescription> = {
  [SOURCE]: { mode: 'PROVISIONED', openShards: 4, status: 'ACTIVE' },
  [OTHER]: { mode: 'ON_DEMAND', openShards: 4, status: 'ACTIVE' },
}): PlannerIo {
  return { listArchiveHours: async () => hours, describeStream: async (arn) => streams[arn] };
}
const ARCHIVED = ['dt=2026-11-20/hour=05/', 'dt=2026-11-20/hour=06/', 'dt=2026-11-21/hour=00/'];

describe('replay planner', () => {
  const config = parseConfig(ENV);

  test('splits the window into one work item per lane, sharing the replay rate equally', async () => {
    const p = await plan({ from: '2026-11-20T06:30:00Z', to: '2026-11-21T00:00:00Z' }, 'exec-1', io(ARCHIVED), config, NOW);
    expect(p).toMatchObject({ replayId: 'exec-1', targetStream: SOURCE, hours: 18 });
    // 4 provisioned shards: 4,000 records/s and 4 MiB/s; half of it for the replay; a quarter of that per lane.
    expect(p.targetCapacity).toEqual({ recordsPerSecond: 4000, bytesPerSecond: 4 * 1024 * 1024 });
    expect(p.replayRate).toEqual({ recordsPerSecond: 2000, bytesPerSecond: 2 * 1024 * 1024 });
    expect(p.lanes.map((l) => l.lane)).toEqual(['00', '01', '02', '03']);
    for (const lane of p.lanes) {
      expect(lane).toMatchObject({
        replayId: 'exec-1', archiveBucket: 'archive-bucket', archivePrefix: 'archive/', targetStream: SOURCE,
        fromMs: Date.parse('2026-11-20T06:30:00Z'), toMs: Date.parse('2026-11-21T00:00:00Z'),
        rate: { recordsPerSecond: 500, bytesPerSecond: 512 * 1024 }, tagging: 'kpl-tag', stateBucket: 'state',
      });
      expect(lane.filter).toBeUndefined();
    }
  });

  test('an on-demand target uses the configured capacity; replayId, target and filters pass through', async () => {
    const p = await plan({
      from: '2026-11-20T05:00:00Z', to: '2026-11-20T07:00:00+01:00', replayId: 'fix-2026-11-20', targetStream: OTHER,
      partitionKeys: ['user-1', 'user-2'], payloadFilter: { field: 'order.type', values: ['refund', 3, true] },
    }, 'exec-2', io(ARCHIVED), config, NOW);
    expect(p.replayId).toBe('fix-2026-11-20');
    expect(p.to).toBe('2026-11-20T06:00:00.000Z');
    expect(p.targetCapacity).toEqual({ recordsPerSecond: 4000, bytesPerSecond: 4 * 1024 * 1024 });
    expect(p.lanes[0].filter).toEqual({ partitionKeys: ['user-1', 'user-2'], payload: { field: 'order.type', values: ['refund', 3, true] } });
  });

  test.each([
    [{ from: '2026-11-21T00:00:00Z', to: '2026-11-20T00:00:00Z' }, /from \(2026-11-21T00:00:00Z\) must be before to/],
    [{ from: '2026-11-20T06:00:00Z', to: '2026-11-20T06:00:00Z' }, /must be before to/],
    [{ from: '2026-11-20', to: '2026-11-21T00:00:00Z' }, /from must be an ISO-8601 instant with a zone/],
    [{ from: '2026-11-20T06:00:00', to: '2026-11-21T00:00:00Z' }, /from must be an ISO-8601 instant with a zone/],
    [{ from: '2026-11-20T06:00:00Z', to: '2026-11-23T00:00:00Z' }, /to \(2026-11-23T00:00:00Z\) is in the future/],
    [{ from: '2026-11-20T04:59:59Z', to: '2026-11-21T00:00:00Z' }, /before the archive's first hour \(2026-11-20T05:00:00.000Z\)/],
    [{ from: '2026-11-20T06:00:00Z', to: '2026-11-21T00:00:00Z', targetStream: 'arn:aws:kinesis:us-east-1:111122223333:stream/nope' }, /is not a configured replay target; allowed: .*source, .*other/],
    [{ from: '2026-11-20T06:00:00Z', to: '2026-11-21T00:00:00Z', replayId: 'has space' }, /replayId must be 1-80 characters/],
    [{ from: '2026-11-20T06:00:00Z', to: '2026-11-21T00:00:00Z', partitionKeys: [] }, /partitionKeys must be a non-empty array/],
    [{ from: '2026-11-20T06:00:00Z', to: '2026-11-21T00:00:00Z', payloadFilter: { field: 'x', values: [{}] } }, /payloadFilter must be/],
    ['not an object', /the input must be a JSON object/],
  ])('rejects %p', async (request, message) => {
    await expect(plan(request, 'e', io(ARCHIVED), config, NOW)).rejects.toThrow(message);
    await expect(plan(request, 'e', io(ARCHIVED), config, NOW)).rejects.toBeInstanceOf(ReplayRequestError);
  });

  test('an empty archive, a missing target and an inactive target are clear errors', async () => {
    const req = { from: '2026-11-20T06:00:00Z', to: '2026-11-21T00:00:00Z' };
    await expect(plan(req, 'e', io([]), config, NOW)).rejects.toThrow(/holds no data yet/);
    await expect(plan(req, 'e', io(ARCHIVED, {}), config, NOW)).rejects.toThrow(/targetStream .*source does not exist/);
    await expect(plan(req, 'e', io(ARCHIVED, { [SOURCE]: { mode: 'PROVISIONED', openShards: 1, status: 'DELETING' } }), config, NOW)).rejects.toThrow(/is DELETING, not ACTIVE/);
  });

  test('configuration errors are listed together at init', () => {
    expect(() => parseConfig({ LANES: '101', WRITE_SHARE: '2', TARGET_STREAMS: '[]', TAGGING: 'x' })).toThrow(
      /ARCHIVE_BUCKET is required.*ARCHIVE_PREFIX is required.*STATE_BUCKET is required.*LANES must be an integer 1-100.*TARGET_STREAMS must list at least one stream ARN.*WRITE_SHARE must be in \(0, 1\].*TAGGING must be/,
    );
  });

  test('summarize adds up the lanes\' running totals and ignores what is not a count', () => {
    expect(summarize([
      { lane: '00', totals: { recordsReplayed: 10, bytesReplayed: 100, objectsDone: 2, throttles: 1, invocations: 2, objectsRemaining: 0 } },
      { lane: '01', totals: { recordsReplayed: 5, bytesReplayed: 50, objectsDone: 1, objectsSkipped: 3, invocations: 1, recordsFiltered: 'x' } },
      { lane: '02' },
    ])).toEqual({ recordsReplayed: 15, bytesReplayed: 150, recordsFiltered: 0, objectsDone: 3, objectsSkipped: 3, throttles: 1, invocations: 3, lanes: 3 });
  });
});
