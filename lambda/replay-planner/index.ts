/**
 * Replay planner Lambda: `{ action: 'plan', request, executionName }` validates
 * and plans (a ReplayRequestError fails the execution with its message);
 * `{ action: 'summarize', lanes }` adds up the lanes' progress.
 */
import { DescribeStreamSummaryCommand, KinesisClient, ResourceNotFoundException } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { listCommonPrefixes } from '../shared/s3-list';
import { parseConfig, plan, summarize, type PlannerIo } from './core';

const config = parseConfig(process.env);
const s3 = new S3Client({});
const kinesis = new KinesisClient({});

/** The common prefixes one level below `prefix`, relative to it (`dt=…/`, `hour=…/`). */
const commonPrefixes = async (bucket: string, prefix: string): Promise<string[]> =>
  (await listCommonPrefixes(s3, bucket, prefix)).map((p) => p.slice(prefix.length));

const io: PlannerIo = {
  async listArchiveHours(bucket, prefix) {
    // Only the oldest day matters for the range check; its hours give the first archived hour.
    const days = (await commonPrefixes(bucket, prefix)).filter((d) => /^dt=\d{4}-\d{2}-\d{2}\/$/.test(d)).sort();
    if (days.length === 0) return [];
    const hours = await commonPrefixes(bucket, `${prefix}${days[0]}`);
    return hours.map((h) => `${days[0]}${h}`);
  },
  async describeStream(streamArn) {
    try {
      const out = await kinesis.send(new DescribeStreamSummaryCommand({ StreamARN: streamArn }));
      const d = out.StreamDescriptionSummary;
      return { mode: d?.StreamModeDetails?.StreamMode === 'ON_DEMAND' ? 'ON_DEMAND' : 'PROVISIONED', openShards: d?.OpenShardCount ?? 0, status: d?.StreamStatus ?? 'UNKNOWN' };
    } catch (e) {
      if (e instanceof ResourceNotFoundException) return undefined;
      throw e;
    }
  },
};

export async function handler(event: { action?: string; request?: unknown; executionName?: string; lanes?: unknown }): Promise<unknown> {
  if (event.action === 'summarize') return summarize(event.lanes);
  const result = await plan(event.request, event.executionName ?? '', io, config, Date.now());
  console.log(JSON.stringify({ level: 'INFO', message: 'replay plan', replayId: result.replayId, from: result.from, to: result.to, targetStream: result.targetStream, targetTopic: result.targetTopic, lanes: result.lanes.length, replayRate: result.replayRate }));
  return result;
}
