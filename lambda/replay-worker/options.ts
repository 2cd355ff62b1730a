/**
 * What the worker is given besides its input: the I/O it calls (index.ts
 * binds it to the SDK) and the tuning options.
 */
import type { PutAllRecordsOptions, PutRecordsSend } from '../shared/put-records-packer';
import type { TopicSink } from './topic-sink';

export interface ReplayIo {
  /** Every key under the prefix (all pages). */
  listKeys(bucket: string, prefix: string): Promise<string[]>;
  /**
   * The object's decompressed text, split at '\n' (the terminator dropped; no
   * empty line after a final '\n'). Closed early when the iteration stops.
   */
  readLines(bucket: string, key: string): AsyncIterable<string>;
  /** A state object's body; undefined when it does not exist. */
  getState(bucket: string, key: string): Promise<string | undefined>;
  putState(bucket: string, key: string, body: string): Promise<void>;
  readonly putRecords: PutRecordsSend;
  /** A producer on an MSK topic (by topic ARN), for a replay whose target is a topic. */
  readonly openTopic?: (topicArn: string) => Promise<TopicSink>;
}

export interface SegmentOptions {
  /** @default 10000 */
  readonly maxRecords?: number;
  /** Data + partition keys. @default 50 MiB */
  readonly maxBytes?: number;
  /** Records of one partition key per segment: ordered sends cost one round trip per record of a key. @default 250 */
  readonly maxPerKey?: number;
  /** A segment holds at most this many seconds of the lane's rate. @default stopMarginMs / 2 */
  readonly maxSeconds?: number;
}

export interface ReplayOptions {
  /** The invocation's remaining time (context.getRemainingTimeInMillis). */
  readonly remainingTimeMs: () => number;
  /** Stop before a segment when less than this is left. @default 60000 */
  readonly stopMarginMs?: number;
  readonly segment?: SegmentOptions;
  /** Forwarded to putAllRecords (which always runs `ordered`). */
  readonly put?: Pick<PutAllRecordsOptions, 'concurrency' | 'maxAttempts' | 'baseDelayMs' | 'maxDelayMs' | 'limits' | 'random'>;
  /** Rate limiter bucket size, in seconds of the rate. @default 1 */
  readonly burstSeconds?: number;
  /** LIST calls in flight while listing the window's hours. @default 8 */
  readonly listConcurrency?: number;
  /** Failed records detailed in `error.failedRecords`. @default 10 */
  readonly maxReportedFailures?: number;
  /** Injectable clock (ms) and sleep, for the rate limiter and the sender's backoff. */
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}
