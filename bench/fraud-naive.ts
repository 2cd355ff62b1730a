/**
 * The straightforward way to build the fraud scorer on DynamoDB, for the `fraud-vs-naive` comparison:
 * per event, in order, read-modify-write.
 *
 *   per batch:  GetItem the shard item (watermark), consistent;
 *   per event:  GetItem each of its customer-windows (consistent read), update features and dedup ids in
 *               memory (bench/fraud-naive-core.ts), PutItem each back conditional on its version;
 *               each alert a separate PutItem (attribute_not_exists(pk));
 *   per batch:  PutItem the shard item (watermark, conditional on its version); Query the `open` index for
 *               this shard's windows with end <= W and PutItem each closed, with its result.
 *
 * Same table layout as the contract (section 6: pk `w#start#end#customer`, kind, status, v, shard,
 * openShard/end while open, expiresAt; `a#alert_id` outbox items; `s#shardKey` shard items), so the
 * results and alerts of both engines are read back the same way. The window's state is one JSON attribute
 * `state` (every event id in full: an item holds ~40 bytes per event, well under 400 KB at maxEventsPerWindow 1,000).
 *
 * Not here (the bench does not exercise them): the late and failure sinks (counted only), metrics,
 * checkpointing on a failed write (a conditional failure throws: there is one writer), the registry item.
 */
import {
  type AttributeValue, type DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand,
} from '@aws-sdk/client-dynamodb';
import type { KinesisStreamEvent } from 'aws-lambda';
import { deaggregate, KplDecodeError } from '../lambda/shared/kpl';
import type { FraudAlert, FraudInvalidReason, FraudSpec, WindowBounds } from '../lambda/shared/fraud/spec';
import {
  applyEvent, compilePaths, emptyState, type FraudEvent, parseEvent, type Paths, windowResult, type WindowState, windowsOf,
} from './fraud-naive-core';

type Item = Record<string, AttributeValue>;

export interface NaiveStats {
  events: number;
  applied: number;
  duplicates: number;
  late: number;
  windowFull: number;
  invalid: Partial<Record<FraudInvalidReason, number>>;
  alerts: number;
  windowsClosed: number;
}

export interface NaiveFraudScorerOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  readonly spec: FraudSpec;
  /** Wall clock (ms), for TTL reads and lastSeenAt. @default Date.now */
  readonly now?: () => number;
}

interface LoadedWindow {
  readonly w: WindowBounds;
  readonly pk: string;
  /** The stored item when present and not TTL-expired. */
  readonly item?: Item;
  /** The stored version (also of an expired item, which the conditional put must replace). */
  readonly v: number | undefined;
  readonly state?: WindowState;
}

export class NaiveFraudScorer {
  /** DynamoDB requests sent (what DynamoDB would receive). */
  apiCalls = 0;
  readonly stats: NaiveStats = { events: 0, applied: 0, duplicates: 0, late: 0, windowFull: 0, invalid: {}, alerts: 0, windowsClosed: 0 };
  private readonly paths: Paths;
  private readonly now: () => number;

  constructor(private readonly options: NaiveFraudScorerOptions) {
    this.paths = compilePaths(options.spec);
    this.now = options.now ?? Date.now;
  }

  /** One shard's batch, as Lambda's Kinesis event source mapping delivers it. */
  async handle(event: KinesisStreamEvent): Promise<void> {
    const first = event.Records[0];
    if (first === undefined) return;
    const shardKey = `${first.eventSourceARN}|${first.eventID.split(':')[0]}`;
    const shard = await this.get(`s#${shardKey}`);
    let wm = shard?.wm?.N === undefined ? -Infinity : Number(shard.wm.N);
    for (const r of event.Records) {
      const arrivalMs = Math.round(r.kinesis.approximateArrivalTimestamp * 1000);
      let units;
      try {
        units = deaggregate(Buffer.from(r.kinesis.data, 'base64'), r.kinesis.partitionKey).records;
      } catch (e) {
        if (!(e instanceof KplDecodeError)) throw e;
        this.invalid('kpl_decode_error');
        continue;
      }
      for (const unit of units) {
        const parsed = parseEvent(unit.data, arrivalMs, this.options.spec, this.paths);
        if (!parsed.ok) {
          this.invalid(parsed.reason);
          continue;
        }
        this.stats.events++;
        await this.processEvent(parsed.event, shardKey, wm);
        wm = Math.max(wm, parsed.event.t - this.options.spec.allowedLatenessMs);
      }
    }
    await this.put({
      pk: { S: `s#${shardKey}` }, kind: { S: 'shard' }, v: { N: String(Number(shard?.v?.N ?? 0) + 1) },
      lastSeenAt: { N: String(this.now()) }, ...(wm === -Infinity ? {} : { wm: { N: String(wm) } }),
    }, shard === undefined ? undefined : Number(shard.v.N));
    if (wm !== -Infinity) await this.closeUpTo(shardKey, wm);
  }

  /** The idle tick (contract section 4): W := max(W, now − lateness), then close. */
  async tick(shardKey: string, nowMs: number): Promise<void> {
    const shard = await this.get(`s#${shardKey}`);
    const old = shard?.wm?.N === undefined ? -Infinity : Number(shard.wm.N);
    const wm = Math.max(old, nowMs - this.options.spec.allowedLatenessMs);
    await this.put({ ...(shard ?? { pk: { S: `s#${shardKey}` }, kind: { S: 'shard' } }), v: { N: String(Number(shard?.v?.N ?? 0) + 1) }, wm: { N: String(wm) } },
      shard === undefined ? undefined : Number(shard.v.N));
    await this.closeUpTo(shardKey, wm);
  }

  /** Contract section 3, steps 1-4, for one valid event against watermark `wm`. */
  private async processEvent(e: FraudEvent, shardKey: string, wm: number): Promise<void> {
    const spec = this.options.spec;
    const loaded: LoadedWindow[] = [];
    for (const w of windowsOf(e.t, spec)) loaded.push(await this.load(e.customerId, w));
    const kinds = loaded.map((l) => (l.state?.ids.includes(e.eventId) ? 'dup' : l.w.endMs <= wm ? 'late' : 'open'));
    if (kinds.every((k) => k === 'dup')) {
      this.stats.duplicates++;
      return;
    }
    const open = loaded.filter((_, i) => kinds[i] === 'open');
    if (open.some((l) => (l.state?.ids.length ?? 0) >= spec.maxEventsPerWindow)) {
      this.stats.windowFull++;
      this.invalid('window_full');
      return;
    }
    for (const l of open) {
      const state = l.state ?? emptyState(spec);
      const alerts = applyEvent(state, e, l.w, spec);
      const owner = l.item?.shard?.S ?? shardKey;
      await this.put({
        pk: { S: l.pk }, kind: { S: 'window' }, status: { S: 'open' }, v: { N: String((l.v ?? 0) + 1) },
        shard: { S: owner }, openShard: { S: owner }, end: { N: String(l.w.endMs) },
        expiresAt: { N: String(Math.ceil((l.w.endMs + spec.allowedLatenessMs + spec.stateRetentionMs) / 1000)) },
        state: { S: JSON.stringify(state) },
      }, l.v);
      for (const alert of alerts) await this.putAlert(alert);
    }
    if (open.length > 0) this.stats.applied++;
    if (kinds.includes('late')) this.stats.late++;
  }

  private async load(customerId: string, w: WindowBounds): Promise<LoadedWindow> {
    const pk = `w#${w.startMs}#${w.endMs}#${customerId}`;
    const raw = await this.get(pk, true);
    if (raw === undefined) return { w, pk, v: undefined };
    if (raw.expiresAt !== undefined && Number(raw.expiresAt.N) < Math.floor(this.now() / 1000)) return { w, pk, v: Number(raw.v.N) };
    return { w, pk, item: raw, v: Number(raw.v.N), state: JSON.parse(raw.state.S as string) as WindowState };
  }

  private async putAlert(alert: FraudAlert): Promise<void> {
    this.apiCalls++;
    await this.options.client.send(new PutItemCommand({
      TableName: this.options.tableName,
      Item: {
        pk: { S: `a#${alert.alert_id}` }, kind: { S: 'alert' }, alert: { S: JSON.stringify(alert) },
        expiresAt: { N: String(Math.ceil(this.now() / 1000) + 7 * 86_400) },
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    }));
    this.stats.alerts++;
  }

  /** Closes this shard's open windows with end <= wm: one Query page at a time, one conditional PutItem each. */
  private async closeUpTo(shardKey: string, wm: number): Promise<void> {
    let start: Item | undefined;
    do {
      this.apiCalls++;
      const page = await this.options.client.send(new QueryCommand({
        TableName: this.options.tableName,
        IndexName: 'open',
        KeyConditionExpression: 'openShard = :s AND #end <= :w',
        ExpressionAttributeNames: { '#end': 'end' },
        ExpressionAttributeValues: { ':s': { S: shardKey }, ':w': { N: String(wm) } },
        ExclusiveStartKey: start,
      }));
      for (const item of page.Items ?? []) {
        const [, startMs, endMs, ...rest] = (item.pk.S as string).split('#');
        const w = { startMs: Number(startMs), endMs: Number(endMs) };
        const customerId = rest.join('#');
        const state = JSON.parse(item.state.S as string) as WindowState;
        const result = windowResult(customerId, w, state, this.options.spec);
        const closed: Item = { ...item, status: { S: 'closed' }, v: { N: String(Number(item.v.N) + 1) }, result: { S: JSON.stringify(result) } };
        delete closed.openShard;
        delete closed.end;
        await this.put(closed, Number(item.v.N));
        this.stats.windowsClosed++;
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
  }

  private async get(pk: string, consistent = true): Promise<Item | undefined> {
    this.apiCalls++;
    const out = await this.options.client.send(new GetItemCommand({ TableName: this.options.tableName, Key: { pk: { S: pk } }, ConsistentRead: consistent }));
    return out.Item;
  }

  /** PutItem conditional on the version read (`undefined`: the item must not exist). */
  private async put(item: Item, expectedV: number | undefined): Promise<void> {
    this.apiCalls++;
    await this.options.client.send(new PutItemCommand({
      TableName: this.options.tableName,
      Item: item,
      ...(expectedV === undefined
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : { ConditionExpression: 'v = :v', ExpressionAttributeValues: { ':v': { N: String(expectedV) } } }),
    }));
  }

  private invalid(reason: FraudInvalidReason): void {
    this.stats.invalid[reason] = (this.stats.invalid[reason] ?? 0) + 1;
  }
}
