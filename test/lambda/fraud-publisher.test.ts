import {
  alertBodyLimit, alertMessage, ALERT_DETAIL_TYPE, ESM_FILTER_PATTERNS, ALERT_SOURCE, checkpoint, classify, configFromEnv, eventEntry, eventEntryBytes, EVENTS_MAX_BYTES,
  lakeEntry, lakePartitionKey, lakeRow, marshallValue, messageGroupId, packBySize, planBatch, publisherMetrics, resultItem,
  SNS_MAX_BYTES, snsEntry, snsEntryBytes, unmarshallImage, type SnsEntry,
} from '../../lambda/fraud-publisher/core';
import { createHandler } from '../../lambda/fraud-publisher/handler';
import type { PublisherSenders } from '../../lambda/fraud-publisher/publish';
import type { EventEntry, PublisherConfig } from '../../lambda/fraud-publisher/core';
import type { FraudAlert } from '../../lambda/shared/fraud/spec';
import type { PutRecordsInput, PutRecordsOutput } from '../../lambda/shared/put-records-packer';
import {
  alertImage, alertInsert, makeAlert, makeResult, streamRecord, windowClosed, windowImage,
} from '../support/fraud-publisher-fixtures';

const both = { alertDestination: true, lake: true };

describe('fraud-publisher: decoding the state stream', () => {
  test('unmarshallImage decodes every attribute type a stream image carries', () => {
    expect(unmarshallImage({
      s: { S: 'x' }, n: { N: '-1.5' }, b: { B: Buffer.from('hi').toString('base64') }, t: { BOOL: true }, z: { NULL: true },
      ss: { SS: ['a', 'b'] }, ns: { NS: ['1', '2'] }, l: { L: [{ S: 'y' }, { N: '3' }] }, m: { M: { k: { N: '7' } } },
    })).toEqual({ s: 'x', n: -1.5, b: Buffer.from('hi'), t: true, z: null, ss: ['a', 'b'], ns: [1, 2], l: ['y', 3], m: { k: 7 } });
  });

  test('an alert outbox INSERT is an alert; the deliveredAt MODIFY of the same item is ignored', () => {
    const alert = makeAlert('c1');
    expect(classify(alertInsert(alert))).toEqual({ kind: 'alert', pk: `a#${alert.alert_id}`, alert });
    const marked = streamRecord('MODIFY', { pk: { S: `a#${alert.alert_id}` } }, alertImage(alert, { deliveredAt: { N: '1' } }));
    expect(classify(marked)).toEqual({ kind: 'ignored', why: 'alert MODIFY' });
  });

  test('a closed window is a result on INSERT and on MODIFY; an open window is ignored', () => {
    const result = makeResult('c1');
    expect(classify(windowClosed(result, 'MODIFY'))).toMatchObject({ kind: 'result', result });
    expect(classify(windowClosed(result, 'INSERT'))).toMatchObject({ kind: 'result', result });
    const open = windowImage(result, 'open');
    expect(classify(streamRecord('INSERT', { pk: open.pk }, open))).toEqual({ kind: 'ignored', why: 'kind window/open' });
  });

  test('TTL REMOVEs, shard and registry items are ignored', () => {
    expect(classify(streamRecord('REMOVE', { pk: { S: 'a#x' } }))).toEqual({ kind: 'ignored', why: 'REMOVE' });
    expect(classify(streamRecord('MODIFY', { pk: { S: 's#k' } }, { pk: { S: 's#k' }, kind: { S: 'shard' }, wm: { N: '5' } })).kind).toBe('ignored');
    expect(classify(streamRecord('MODIFY', { pk: { S: 'shards' } }, { pk: { S: 'shards' }, keys: { SS: ['a'] } })).kind).toBe('ignored');
    expect(classify({}).kind).toBe('ignored');
  });

  test('an alert whose JSON is broken or incomplete is malformed, naming why', () => {
    const alert = makeAlert('c1');
    const broken = streamRecord('INSERT', { pk: { S: 'a#1' } }, alertImage(alert, { alert: { S: '{not json' } }));
    expect(classify(broken)).toMatchObject({ kind: 'malformed', pk: `a#${alert.alert_id}`, why: expect.stringContaining('not JSON') });
    const { evidence_event_ids: _omit, ...partial } = alert;
    const incomplete = streamRecord('INSERT', { pk: { S: 'a#1' } }, alertImage(alert, { alert: { S: JSON.stringify(partial) } }));
    expect(classify(incomplete)).toMatchObject({ kind: 'malformed', why: 'alert.evidence_event_ids is not a list of strings' });
    const badTime = streamRecord('INSERT', { pk: { S: 'a#1' } }, alertImage(alert, { alert: { S: JSON.stringify({ ...alert, window_start: 'noon' }) } }));
    expect(classify(badTime)).toMatchObject({ kind: 'malformed', why: 'alert.window_start is not an ISO-8601 UTC time' });
  });

  test('a closed window without a valid result, or with an undecodable image, is malformed', () => {
    const result = makeResult('c1');
    const image: Record<string, any> = { ...windowImage(result, 'closed'), result: { S: JSON.stringify({ ...result, distinct: { a: 'x' } }) } };
    expect(classify(streamRecord('MODIFY', { pk: image.pk }, image))).toMatchObject({ kind: 'malformed', why: 'result.distinct is not a map of counts' });
    expect(classify(streamRecord('MODIFY', { pk: image.pk }, { ...image, weird: { Q: 'x' } }))).toMatchObject({ kind: 'malformed', why: expect.stringContaining('unknown attribute type Q') });
  });

  test('a result whose sum overflowed (null in JSON) is still publishable', () => {
    const result = makeResult('c1', undefined, { amount_sum: null as unknown as number, amount_avg: null as unknown as number });
    expect(classify(windowClosed(result)).kind).toBe('result');
  });
});

/** EventBridge-style matching of the patterns the ESM uses: lists of allowed values, nested objects. */
function matches(pattern: unknown, value: unknown): boolean {
  if (Array.isArray(pattern)) return pattern.includes(value);
  if (typeof pattern !== 'object' || pattern === null || typeof value !== 'object' || value === null) return false;
  return Object.entries(pattern).every(([k, p]) => matches(p, (value as Record<string, unknown>)[k]));
}

describe('fraud-publisher: the ESM filter', () => {
  test('the filter passes exactly the records classify publishes (or finds malformed)', () => {
    const result = makeResult('c1');
    const alert = makeAlert('c1');
    const open = windowImage(result, 'open');
    const records = [
      alertInsert(alert), streamRecord('MODIFY', { pk: { S: 'a#1' } }, alertImage(alert, { deliveredAt: { N: '1' } })),
      windowClosed(result, 'INSERT'), windowClosed(result, 'MODIFY'), streamRecord('INSERT', { pk: open.pk }, open), streamRecord('MODIFY', { pk: open.pk }, open),
      streamRecord('REMOVE', { pk: { S: 'a#1' } }), streamRecord('MODIFY', { pk: { S: 's#k' } }, { pk: { S: 's#k' }, kind: { S: 'shard' }, wm: { N: '5' } }),
      streamRecord('INSERT', { pk: { S: 'a#2' } }, alertImage(alert, { alert: { S: 'nope' } })),
    ];
    const passed = records.map((r) => ESM_FILTER_PATTERNS.some((p) => matches(p, r)));
    expect(passed).toEqual(records.map((r) => classify(r).kind !== 'ignored'));
    expect(passed).toEqual([true, false, true, true, false, false, false, false, true]);
  });
});

describe('fraud-publisher: alert messages', () => {
  test('an alert that fits is published as its exact JSON', () => {
    const alert = makeAlert('c1');
    expect(alertMessage(alert)).toEqual({ alertId: alert.alert_id, customerId: 'c1', alertKey: alert.alert_key, body: JSON.stringify(alert), evidenceOmitted: 0 });
  });

  test('an oversize alert drops its OLDEST evidence ids, keeps the triggering one last, and says how many it dropped', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => `${'x'.repeat(240)}-${String(i).padStart(6, '0')}`);
    const alert = makeAlert('c1', undefined, undefined, { evidence_event_ids: ids, triggering_event_id: ids[1999] });
    expect(Buffer.byteLength(JSON.stringify(alert))).toBeGreaterThan(SNS_MAX_BYTES);
    const message = alertMessage(alert)!;
    const body = JSON.parse(message.body);
    expect(snsEntryBytes(snsEntry(message, 'a0', true))).toBeLessThanOrEqual(SNS_MAX_BYTES);
    expect(eventEntryBytes(eventEntry(message, 'bus'))).toBeLessThanOrEqual(EVENTS_MAX_BYTES);
    expect(body.evidence_event_ids.at(-1)).toBe(ids[1999]);
    expect(body.evidence_event_ids).toEqual(ids.slice(ids.length - body.evidence_event_ids.length));
    expect(body.evidence_event_ids_omitted).toBe(message.evidenceOmitted);
    expect(message.evidenceOmitted + body.evidence_event_ids.length).toBe(2000);
    // The most that fit: one more id would not.
    const oneMore = JSON.stringify({ ...alert, evidence_event_ids: ids.slice(message.evidenceOmitted - 1), evidence_event_ids_omitted: message.evidenceOmitted - 1 });
    expect(Buffer.byteLength(oneMore)).toBeGreaterThan(alertBodyLimit(alert));
    // Deterministic: a redelivery sends the same bytes.
    expect(alertMessage(alert)!.body).toBe(message.body);
  });

  test('the body limit leaves room for the SNS attributes and for EventBridge Source and DetailType', () => {
    const alert = makeAlert('c1');
    const attributes = 'alert_id'.length + 'alert_key'.length + 'customer_id'.length + 3 * 'String'.length + 32 + alert.alert_key.length + 2;
    expect(alertBodyLimit(alert)).toBe(Math.min(SNS_MAX_BYTES - attributes, EVENTS_MAX_BYTES - 'cdk-streaming-pipelines.fraud'.length - 'FraudAlert'.length));
    const longKey = makeAlert('c'.repeat(2000), undefined, 'k'.repeat(500));
    expect(alertBodyLimit(longKey)).toBe(SNS_MAX_BYTES - ('alert_id'.length + 'alert_key'.length + 'customer_id'.length + 18 + 32 + 500 + 2000));
  });

  test('an alert that cannot fit even with one evidence id is unpublishable, and the batch goes on', () => {
    const huge = makeAlert('c1', undefined, undefined, { rules_hit: ['r'.repeat(300_000)] });
    expect(alertMessage(huge)).toBeUndefined();
    const ok = makeAlert('c2');
    const plan = planBatch([alertInsert(huge), alertInsert(ok)], both);
    expect(plan.unpublishable).toEqual([expect.objectContaining({ index: 0, why: 'alert does not fit 256 KB even with one evidence id' })]);
    expect(plan.alerts.map((a) => a.index)).toEqual([1]);
  });

  test('a standard topic gets alert_id, alert_key and customer_id attributes and no FIFO fields', () => {
    const entry = snsEntry(alertMessage(makeAlert('c1'))!, 'a0', false);
    expect(entry.MessageAttributes).toEqual({
      alert_id: { DataType: 'String', StringValue: makeAlert('c1').alert_id },
      alert_key: { DataType: 'String', StringValue: 'count_above_2' },
      customer_id: { DataType: 'String', StringValue: 'c1' },
    });
    expect(entry).not.toHaveProperty('MessageGroupId');
    expect(entry).not.toHaveProperty('MessageDeduplicationId');
  });

  test('a FIFO topic groups by customer and dedupes on alert_id', () => {
    const alert = makeAlert('c1');
    expect(snsEntry(alertMessage(alert)!, 'a0', true)).toMatchObject({ MessageGroupId: 'c1', MessageDeduplicationId: alert.alert_id });
  });

  test('a customer id SNS cannot take as a group id becomes its sha256, one per customer', () => {
    expect(messageGroupId('cust-42:eu')).toBe('cust-42:eu');
    for (const id of ['x'.repeat(129), 'has space', 'café']) {
      expect(messageGroupId(id)).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(messageGroupId(id)).toBe(messageGroupId(id));
    }
    expect(messageGroupId('has space')).not.toBe(messageGroupId('has  space'));
  });

  test('EventBridge entries: Source, DetailType, the alert as Detail; sized as EventBridge counts', () => {
    const alert = makeAlert('c1');
    const entry = eventEntry(alertMessage(alert)!, 'bus');
    expect(entry).toEqual({ Source: ALERT_SOURCE, DetailType: ALERT_DETAIL_TYPE, Detail: JSON.stringify(alert), EventBusName: 'bus' });
    expect(ALERT_SOURCE).toBe('cdk-streaming-pipelines.fraud');
    expect(eventEntryBytes(entry)).toBe(ALERT_SOURCE.length + ALERT_DETAIL_TYPE.length + Buffer.byteLength(entry.Detail));
  });

  test('calls hold at most 10 entries and 256 KiB in total, in input order', () => {
    const small = Array.from({ length: 25 }, (_, i) => snsEntry(alertMessage(makeAlert(`c${i}`))!, `a${i}`, false));
    expect(packBySize(small, snsEntryBytes, 10, SNS_MAX_BYTES).map((c) => c.length)).toEqual([10, 10, 5]);
    const big = Array.from({ length: 7 }, (_, i) => {
      const ids = Array.from({ length: 380 }, (_, j) => `${'e'.repeat(240)}${j}`);
      return snsEntry(alertMessage(makeAlert(`c${i}`, undefined, undefined, { evidence_event_ids: ids }))!, `a${i}`, false);
    });
    expect(snsEntryBytes(big[0])).toBeGreaterThan(90_000);
    const calls = packBySize(big, snsEntryBytes, 10, SNS_MAX_BYTES);
    expect(calls.map((c) => c.length)).toEqual([2, 2, 2, 1]);
    for (const call of calls) expect(call.reduce((n, e: SnsEntry) => n + snsEntryBytes(e), 0)).toBeLessThanOrEqual(SNS_MAX_BYTES);
    expect(calls.flat().map((e) => e.Id)).toEqual(big.map((e) => e.Id));
    const events = big.map((e) => eventEntry({ alertId: '', customerId: '', alertKey: '', body: e.Message, evidenceOmitted: 0 }, 'bus'));
    for (const call of packBySize(events, eventEntryBytes, 10, EVENTS_MAX_BYTES)) {
      expect(call.reduce((n, e) => n + eventEntryBytes(e), 0)).toBeLessThanOrEqual(EVENTS_MAX_BYTES);
    }
  });
});

describe('fraud-publisher: results', () => {
  test('the results table row is keyed customer_id + window and carries every field of the result', () => {
    const result = makeResult('c1', undefined, { distinct_saturated: ['country'] });
    expect(resultItem(result)).toEqual({
      customer_id: { S: 'c1' },
      window: { S: '2026-12-03T12:00:00.000Z/2026-12-03T12:01:00.000Z' },
      result_id: { S: result.result_id },
      window_start: { S: '2026-12-03T12:00:00.000Z' },
      window_end: { S: '2026-12-03T12:01:00.000Z' },
      event_count: { N: '3' },
      amount_sum: { N: '30.5' },
      amount_min: { N: '5' },
      amount_max: { N: '15.25' },
      amount_avg: { N: String(30.5 / 3) },
      distinct: { M: { merchant_id: { N: '2' }, country: { N: '1' } } },
      distinct_saturated: { L: [{ S: 'country' }] },
      score: { N: '1' },
      rules_hit: { L: [{ S: 'count_above_2' }] },
      alerted: { L: [{ S: 'count_above_2' }] },
    });
  });

  test('empty lists stay lists; numbers DynamoDB cannot hold become text; a null sum is NULL', () => {
    expect(marshallValue([])).toEqual({ L: [] });
    expect(marshallValue(1e200)).toEqual({ S: '1e+200' });
    expect(marshallValue(-5e-324)).toEqual({ S: '-5e-324' });
    expect(marshallValue(0)).toEqual({ N: '0' });
    expect(marshallValue(-1e125)).toEqual({ N: '-1e+125' });
    expect(marshallValue(null)).toEqual({ NULL: true });
  });

  test('the lake row flattens distinct into distinct_<attr> columns, in spec order, where distinct was', () => {
    const result = makeResult('c1');
    const row = lakeRow(result) as Record<string, unknown>;
    expect(Object.keys(row)).toEqual([
      'result_id', 'customer_id', 'window_start', 'window_end', 'event_count', 'amount_sum', 'amount_min', 'amount_max', 'amount_avg',
      'distinct_merchant_id', 'distinct_country', 'distinct_saturated', 'score', 'rules_hit', 'alerted',
    ]);
    expect(row).toMatchObject({ distinct_merchant_id: 2, distinct_country: 1, window_start: '2026-12-03T12:00:00.000Z' });
    const entry = lakeEntry(row, 'c1');
    expect(entry.partitionKey).toBe('c1');
    expect(JSON.parse(Buffer.from(entry.data).toString('utf8'))).toEqual(row);
  });

  test('an attribute whose flattened column would collide with a field makes the result unpublishable', () => {
    const result = makeResult('c1', undefined, { distinct: { saturated: 1 } });
    expect(lakeRow(result)).toBe('lake column distinct_saturated is both a field and a flattened distinct attribute');
    expect(planBatch([windowClosed(result)], both).unpublishable).toHaveLength(1);
  });

  test('a customer id too long for a partition key is hashed', () => {
    expect(lakePartitionKey('c'.repeat(256))).toBe('c'.repeat(256));
    expect(lakePartitionKey('c'.repeat(257))).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('fraud-publisher: planning, checkpoint, config, metrics', () => {
  test('planBatch sorts the batch into alerts, results, ignored and unpublishable, by position', () => {
    const records = [
      alertInsert(makeAlert('c1')), streamRecord('REMOVE', { pk: { S: 'a#old' } }), windowClosed(makeResult('c1')),
      streamRecord('INSERT', { pk: { S: 'a#2' } }, alertImage(makeAlert('c2'), { alert: { S: '[]' } })),
    ];
    const plan = planBatch(records, both);
    expect(plan.alerts.map((a) => a.index)).toEqual([0]);
    expect(plan.results.map((r) => r.index)).toEqual([2]);
    expect(plan.results[0].lake).toBeDefined();
    expect(plan.ignored).toBe(1);
    expect(plan.unpublishable).toEqual([{ index: 3, pk: `a#${makeAlert('c2').alert_id}`, sequenceNumber: records[3].dynamodb.SequenceNumber, why: 'alert is not a JSON object' }]);
    expect(plan.sequenceNumbers).toEqual(records.map((r) => r.dynamodb.SequenceNumber));
  });

  test('without an alert destination alerts are skipped; without a lake stream results carry no lake record', () => {
    const plan = planBatch([alertInsert(makeAlert('c1')), windowClosed(makeResult('c1'))], { alertDestination: false, lake: false });
    expect(plan.alerts).toEqual([]);
    expect(plan.alertsWithoutDestination).toBe(1);
    expect(plan.results[0].lake).toBeUndefined();
  });

  test('the checkpoint is the first record not fully published, whatever order failures come in', () => {
    const records = [alertInsert(makeAlert('c1')), alertInsert(makeAlert('c2')), alertInsert(makeAlert('c3'))];
    const plan = planBatch(records, both);
    expect(checkpoint(plan, [])).toEqual([]);
    expect(checkpoint(plan, [2, 1])).toEqual([{ itemIdentifier: records[1].dynamodb.SequenceNumber }]);
  });

  test('configFromEnv: RESULTS_TABLE and STATE_TABLE are required; destinations and the lake are optional', () => {
    expect(() => configFromEnv({ STATE_TABLE: 's' })).toThrow('RESULTS_TABLE is required');
    expect(configFromEnv({ RESULTS_TABLE: 'r', STATE_TABLE: 's' })).toEqual({
      alertTopicArn: undefined, alertEventBusName: undefined, resultsTable: 'r', lakeStream: undefined, stateTable: 's',
      metricsNamespace: 'StreamingPipelines/Fraud', pipelineName: 'unknown',
    });
    expect(configFromEnv({ RESULTS_TABLE: 'r', STATE_TABLE: 's', ALERT_TOPIC_ARN: 't', ALERT_EVENT_BUS_NAME: 'b', LAKE_STREAM_NAME: 'l', METRICS_NAMESPACE: 'N', PIPELINE_NAME: 'P' }))
      .toMatchObject({ alertTopicArn: 't', alertEventBusName: 'b', lakeStream: 'l', metricsNamespace: 'N', pipelineName: 'P' });
  });

  test('the EMF line carries the contract metrics under the Pipeline dimension', () => {
    const doc = publisherMetrics({ records: 9, alertsPublished: 3, alertRedeliveries: 1, resultsPublished: 2, resultRedeliveries: 1, unpublishable: 1, ignored: 2, failedRecords: 0 },
      { metricsNamespace: 'NS', pipelineName: 'Stack/Fraud' }, 1000) as any;
    expect(doc._aws).toEqual({
      Timestamp: 1000,
      CloudWatchMetrics: [{
        Namespace: 'NS', Dimensions: [['Pipeline']],
        Metrics: ['AlertsPublished', 'AlertRedeliveries', 'ResultsPublished', 'ResultRedeliveries', 'Unpublishable'].map((Name) => ({ Name, Unit: 'Count' })),
      }],
    });
    expect(doc).toMatchObject({ Pipeline: 'Stack/Fraud', AlertsPublished: 3, AlertRedeliveries: 1, ResultsPublished: 2, ResultRedeliveries: 1, Unpublishable: 1, ignored: 2 });
  });
});

// ---------------------------------------------------------------- the handler, over fake senders

interface FakeOptions {
  /** Per SNS entry and call number (1-based, per entry): a Failed entry, or nothing for success. */
  snsFail?: (entry: SnsEntry, attempt: number) => { Code: string; SenderFault?: boolean } | undefined;
  /** Per SNS call number: throw this instead of answering. */
  snsThrow?: (call: number) => Error | undefined;
  eventsFail?: (detail: FraudAlert, attempt: number) => string | undefined;
  putItemThrow?: (customerId: string, attempt: number) => Error | undefined;
  updateThrow?: (pk: string) => Error | undefined;
  recordsFail?: (row: Record<string, unknown>, attempt: number) => string | undefined;
}

const awsError = (name: string): Error => Object.assign(new Error(name), { name });

/** Senders that keep what they were sent, with a results table and outbox marks that honour the conditions. */
class FakeSenders implements PublisherSenders {
  readonly snsCalls: { TopicArn: string; PublishBatchRequestEntries: SnsEntry[] }[] = [];
  readonly eventCalls: EventEntry[][] = [];
  readonly recordCalls: PutRecordsInput[] = [];
  readonly table = new Map<string, Record<string, unknown>>();
  readonly delivered = new Set<string>();
  readonly updates: Parameters<PublisherSenders['updateItem']>[0][] = [];
  private readonly attempts = new Map<string, number>();
  constructor(private readonly o: FakeOptions = {}) {}

  private attempt(key: string): number {
    const n = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, n);
    return n;
  }

  async publishBatch(input: { TopicArn: string; PublishBatchRequestEntries: SnsEntry[] }) {
    this.snsCalls.push(input);
    const thrown = this.o.snsThrow?.(this.snsCalls.length);
    if (thrown) throw thrown;
    const Successful: { Id: string }[] = [];
    const Failed: { Id: string; Code: string; SenderFault: boolean }[] = [];
    for (const e of input.PublishBatchRequestEntries) {
      const f = this.o.snsFail?.(e, this.attempt(`sns ${e.MessageAttributes.alert_id.StringValue}`));
      if (f) Failed.push({ Id: e.Id, Code: f.Code, SenderFault: f.SenderFault ?? false });
      else Successful.push({ Id: e.Id });
    }
    return { Successful, Failed };
  }

  async putEvents(input: { Entries: EventEntry[] }) {
    this.eventCalls.push(input.Entries);
    const Entries = input.Entries.map((e) => {
      const alert = JSON.parse(e.Detail) as FraudAlert;
      const code = this.o.eventsFail?.(alert, this.attempt(`events ${alert.alert_id}`));
      return code ? { ErrorCode: code, ErrorMessage: code } : { EventId: `ev-${alert.alert_id}` };
    });
    return { FailedEntryCount: Entries.filter((e) => 'ErrorCode' in e).length, Entries };
  }

  async putItem(input: Parameters<PublisherSenders['putItem']>[0]) {
    const customer = (input.Item.customer_id as { S: string }).S;
    const key = `${customer}|${(input.Item.window as { S: string }).S}`;
    const thrown = this.o.putItemThrow?.(customer, this.attempt(`put ${key}`));
    if (thrown) throw thrown;
    expect(input.ConditionExpression).toBe('attribute_not_exists(customer_id)');
    if (this.table.has(key)) throw awsError('ConditionalCheckFailedException');
    this.table.set(key, input.Item);
    return {};
  }

  async updateItem(input: Parameters<PublisherSenders['updateItem']>[0]) {
    this.updates.push(input);
    const pk = (input.Key.pk as { S: string }).S;
    const thrown = this.o.updateThrow?.(pk);
    if (thrown) throw thrown;
    if (this.delivered.has(pk)) throw awsError('ConditionalCheckFailedException');
    this.delivered.add(pk);
    return {};
  }

  async putRecords(input: PutRecordsInput): Promise<PutRecordsOutput> {
    this.recordCalls.push(input);
    const Records = input.Records.map((r) => {
      const row = JSON.parse(Buffer.from(r.Data).toString('utf8')) as Record<string, unknown>;
      const code = this.o.recordsFail?.(row, this.attempt(`lake ${String(row.result_id)}`));
      return code ? { ErrorCode: code, ErrorMessage: code } : { SequenceNumber: '1', ShardId: 'shardId-000000000000' };
    });
    return { FailedRecordCount: Records.filter((r) => 'ErrorCode' in r).length, Records };
  }

  get lakeRows(): Record<string, unknown>[] {
    return this.recordCalls.flatMap((c) => c.Records.map((r) => JSON.parse(Buffer.from(r.Data).toString('utf8'))));
  }
}

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:alerts';
const FIFO_TOPIC = 'arn:aws:sns:us-east-1:123456789012:alerts.fifo';
const CONFIG: PublisherConfig = {
  alertTopicArn: TOPIC, alertEventBusName: 'fraud-bus', resultsTable: 'results', lakeStream: 'lake', stateTable: 'state',
  metricsNamespace: 'StreamingPipelines/Fraud', pipelineName: 'Stack/Fraud',
};

interface Run {
  response: { batchItemFailures: { itemIdentifier: string }[] };
  metrics: Record<string, any>;
  errors: Record<string, any>[];
  sleeps: number[];
}

async function run(records: unknown[], senders: FakeSenders, config: PublisherConfig = CONFIG, remaining: () => number = () => 60_000): Promise<Run> {
  const lines: string[] = [];
  const errors: string[] = [];
  const sleeps: number[] = [];
  const handler = createHandler(config, senders, {
    sleep: async (ms) => { sleeps.push(ms); }, random: () => 0.5, now: () => 1234,
    log: { log: (l) => lines.push(l), error: (l) => errors.push(l) },
  });
  const response = await handler({ Records: records }, { getRemainingTimeInMillis: remaining });
  expect(lines).toHaveLength(1);
  return { response, metrics: JSON.parse(lines[0]), errors: errors.map((e) => JSON.parse(e)), sleeps };
}

const seqOf = (r: { dynamodb: { SequenceNumber: string } }) => r.dynamodb.SequenceNumber;
const snsAlertIds = (calls: FakeSenders['snsCalls']) => calls.map((c) => c.PublishBatchRequestEntries.map((e) => e.MessageAttributes.alert_id.StringValue));

describe('fraud-publisher handler', () => {
  test('publishes every alert to SNS and EventBridge, marks it delivered, writes results to the table and the lake', async () => {
    const alerts = ['c1', 'c2', 'c3'].map((c) => makeAlert(c));
    const results = ['c1', 'c2'].map((c) => makeResult(c));
    const records = [alertInsert(alerts[0]), streamRecord('REMOVE', { pk: { S: 'a#old' } }), alertInsert(alerts[1]), windowClosed(results[0]), alertInsert(alerts[2]), windowClosed(results[1], 'INSERT')];
    const senders = new FakeSenders();
    const { response, metrics, errors } = await run(records, senders);
    expect(response).toEqual({ batchItemFailures: [] });
    expect(snsAlertIds(senders.snsCalls)).toEqual([alerts.map((a) => a.alert_id)]);
    expect(senders.snsCalls[0].TopicArn).toBe(TOPIC);
    expect(senders.snsCalls[0].PublishBatchRequestEntries.map((e) => JSON.parse(e.Message))).toEqual(alerts);
    expect(senders.eventCalls).toEqual([alerts.map((a) => ({ Source: ALERT_SOURCE, DetailType: 'FraudAlert', Detail: JSON.stringify(a), EventBusName: 'fraud-bus' }))]);
    expect(senders.updates.map((u) => u.Key)).toEqual(alerts.map((a) => ({ pk: { S: `a#${a.alert_id}` } })));
    expect(senders.updates[0]).toMatchObject({
      TableName: 'state', UpdateExpression: 'SET deliveredAt = :now',
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(deliveredAt)', ExpressionAttributeValues: { ':now': { N: expect.stringMatching(/^\d+$/) } },
    });
    expect([...senders.table.values()]).toEqual(results.map(resultItem));
    expect(senders.recordCalls).toHaveLength(1);
    expect(senders.recordCalls[0]).toMatchObject({ StreamName: 'lake' });
    expect(senders.recordCalls[0].Records.map((r) => r.PartitionKey)).toEqual(['c1', 'c2']);
    expect(senders.lakeRows).toEqual(results.map((r) => lakeRow(r)));
    expect(metrics).toMatchObject({ Pipeline: 'Stack/Fraud', AlertsPublished: 3, AlertRedeliveries: 0, ResultsPublished: 2, ResultRedeliveries: 0, Unpublishable: 0, records: 6, ignored: 1, failedRecords: 0 });
    expect(errors).toEqual([]);
  });

  test('a FIFO topic gets MessageGroupId = customer and MessageDeduplicationId = alert_id', async () => {
    const alert = makeAlert('cust 1');
    const senders = new FakeSenders();
    await run([alertInsert(alert)], senders, { ...CONFIG, alertTopicArn: FIFO_TOPIC });
    expect(senders.snsCalls[0].PublishBatchRequestEntries[0]).toMatchObject({ MessageGroupId: messageGroupId('cust 1'), MessageDeduplicationId: alert.alert_id });
  });

  test('SNS Failed entries are resent alone, after a backoff, and the batch succeeds', async () => {
    const alerts = ['c1', 'c2', 'c3'].map((c) => makeAlert(c));
    const senders = new FakeSenders({ snsFail: (e, attempt) => (e.MessageAttributes.customer_id.StringValue === 'c2' && attempt < 3 ? { Code: 'InternalError' } : undefined) });
    const { response, metrics, sleeps } = await run(alerts.map(alertInsert), senders);
    expect(response.batchItemFailures).toEqual([]);
    expect(snsAlertIds(senders.snsCalls)).toEqual([alerts.map((a) => a.alert_id), [alerts[1].alert_id], [alerts[1].alert_id]]);
    expect(sleeps).toEqual([50, 100]);
    expect(metrics).toMatchObject({ AlertsPublished: 3 });
  });

  test('an alert SNS keeps refusing is reported from its record on (checkpoint), is not marked, and the others are published', async () => {
    const alerts = ['c1', 'c2', 'c3'].map((c) => makeAlert(c));
    const records = alerts.map(alertInsert);
    const senders = new FakeSenders({ snsFail: (e) => (e.MessageAttributes.customer_id.StringValue === 'c2' ? { Code: 'InternalError' } : undefined) });
    const { response, metrics, errors } = await run(records, senders);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: seqOf(records[1]) }]);
    expect(senders.snsCalls).toHaveLength(6);
    expect([...senders.delivered]).toEqual([`a#${alerts[0].alert_id}`, `a#${alerts[2].alert_id}`]);
    expect(metrics).toMatchObject({ AlertsPublished: 2, failedRecords: 2 });
    expect(errors).toEqual([expect.objectContaining({
      message: 'records not published; checkpoint reported', checkpoint: seqOf(records[1]),
      failures: [{ index: 1, id: alerts[1].alert_id, destination: 'sns', code: 'InternalError' }],
    })]);
  });

  test('an SNS SenderFault is not resent, and its record is reported', async () => {
    const records = [alertInsert(makeAlert('c1'))];
    const senders = new FakeSenders({ snsFail: () => ({ Code: 'InvalidParameter', SenderFault: true }) });
    const { response } = await run(records, senders);
    expect(senders.snsCalls).toHaveLength(1);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: seqOf(records[0]) }]);
  });

  test('a thrown throttling error resends the whole call; an authorization error fails it at once', async () => {
    const records = [alertInsert(makeAlert('c1')), alertInsert(makeAlert('c2'))];
    const throttled = new FakeSenders({ snsThrow: (n) => (n === 1 ? awsError('ThrottledException') : undefined) });
    expect((await run(records, throttled)).response.batchItemFailures).toEqual([]);
    expect(snsAlertIds(throttled.snsCalls).map((ids) => ids.length)).toEqual([2, 2]);
    const denied = new FakeSenders({ snsThrow: () => awsError('AuthorizationErrorException') });
    const { response, errors } = await run(records, denied);
    expect(denied.snsCalls).toHaveLength(1);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: seqOf(records[0]) }]);
    expect(errors[0].failures.map((f: any) => f.code)).toEqual(['AuthorizationErrorException', 'AuthorizationErrorException']);
  });

  test('PutEvents FailedEntryCount: only the failed entries are resent', async () => {
    const alerts = ['c1', 'c2', 'c3'].map((c) => makeAlert(c));
    const senders = new FakeSenders({ eventsFail: (a, attempt) => (a.customer_id !== 'c2' && attempt === 1 ? 'ThrottlingException' : undefined) });
    const { response } = await run(alerts.map(alertInsert), senders);
    expect(response.batchItemFailures).toEqual([]);
    expect(senders.eventCalls.map((c) => c.map((e) => JSON.parse(e.Detail).customer_id))).toEqual([['c1', 'c2', 'c3'], ['c1', 'c3']]);
  });

  test('a PutEvents entry failing for good (MalformedDetail) is not resent and is reported', async () => {
    const records = [alertInsert(makeAlert('c1')), alertInsert(makeAlert('c2'))];
    const senders = new FakeSenders({ eventsFail: (a) => (a.customer_id === 'c2' ? 'MalformedDetail' : undefined) });
    const { response } = await run(records, senders);
    expect(senders.eventCalls).toHaveLength(1);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: seqOf(records[1]) }]);
  });

  test('PutRecords FailedRecordCount: only the failed records are resent; one failing for good is reported', async () => {
    const results = ['c1', 'c2', 'c3'].map((c) => makeResult(c));
    const records = results.map((r) => windowClosed(r));
    const flaky = new FakeSenders({ recordsFail: (row, attempt) => (row.customer_id === 'c3' && attempt === 1 ? 'ProvisionedThroughputExceededException' : undefined) });
    expect((await run(records, flaky)).response.batchItemFailures).toEqual([]);
    expect(flaky.recordCalls.map((c) => c.Records.map((r) => r.PartitionKey))).toEqual([['c1', 'c2', 'c3'], ['c3']]);
    const broken = new FakeSenders({ recordsFail: (row) => (row.customer_id === 'c2' ? 'InternalFailure' : undefined) });
    const { response, metrics } = await run(records, broken);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: seqOf(records[1]) }]);
    expect(metrics).toMatchObject({ ResultsPublished: 2, failedRecords: 2 });
  });

  test('a result already in the table is a redelivery: counted, and still sent to the lake', async () => {
    const result = makeResult('c1');
    const senders = new FakeSenders();
    await run([windowClosed(result)], senders);
    const again = await run([windowClosed(result)], senders);
    expect(again.response.batchItemFailures).toEqual([]);
    expect(again.metrics).toMatchObject({ ResultsPublished: 1, ResultRedeliveries: 1 });
    expect(senders.lakeRows.map((r) => r.result_id)).toEqual([result.result_id, result.result_id]);
  });

  test('a results-table write that keeps failing is reported and its row is not sent to the lake', async () => {
    const records = [windowClosed(makeResult('c1')), windowClosed(makeResult('c2'))];
    const senders = new FakeSenders({ putItemThrow: (c, attempt) => (c === 'c1' && attempt === 1 ? awsError('ProvisionedThroughputExceededException') : c === 'c2' ? awsError('AccessDeniedException') : undefined) });
    const { response, metrics } = await run(records, senders);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: seqOf(records[1]) }]);
    expect(senders.lakeRows.map((r) => r.customer_id)).toEqual(['c1']);
    expect(metrics).toMatchObject({ ResultsPublished: 1 });
  });

  test('an alert whose outbox item already has deliveredAt is counted as a redelivery', async () => {
    const alert = makeAlert('c1');
    const senders = new FakeSenders();
    await run([alertInsert(alert)], senders);
    const again = await run([alertInsert(alert)], senders);
    expect(again.response.batchItemFailures).toEqual([]);
    expect(again.metrics).toMatchObject({ AlertsPublished: 1, AlertRedeliveries: 1 });
    expect(senders.snsCalls).toHaveLength(2);
  });

  test('a deliveredAt mark that cannot be written does not fail the published alert; it is logged', async () => {
    const senders = new FakeSenders({ updateThrow: () => awsError('AccessDeniedException') });
    const { response, metrics, errors } = await run([alertInsert(makeAlert('c1'))], senders);
    expect(response.batchItemFailures).toEqual([]);
    expect(metrics).toMatchObject({ AlertsPublished: 1 });
    expect(errors).toEqual([{ level: 'WARN', message: 'alerts published but deliveredAt not written', count: 1 }]);
  });

  test('the checkpoint is the earliest failing record across alerts and results', async () => {
    const records = [alertInsert(makeAlert('c1')), windowClosed(makeResult('c2')), alertInsert(makeAlert('c3'))];
    const senders = new FakeSenders({
      snsFail: (e) => (e.MessageAttributes.customer_id.StringValue === 'c3' ? { Code: 'InternalError' } : undefined),
      putItemThrow: () => awsError('ValidationException'),
    });
    const { response } = await run(records, senders);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: seqOf(records[1]) }]);
  });

  test('no retry starts when the invocation has no time left for it: the rest is reported', async () => {
    const records = [alertInsert(makeAlert('c1'))];
    const senders = new FakeSenders({ snsFail: () => ({ Code: 'InternalError' }) });
    // 6,040 ms left, 6,000 reserved: a 50 ms backoff would leave too little.
    const { response, sleeps } = await run(records, senders, CONFIG, () => 6_040);
    expect(senders.snsCalls).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: seqOf(records[0]) }]);
    const late = new FakeSenders();
    const out = await run(records, late, CONFIG, () => 1_000);
    expect(late.snsCalls).toHaveLength(0);
    expect(out.response.batchItemFailures).toEqual([{ itemIdentifier: seqOf(records[0]) }]);
    expect(out.errors[0].failures.map((f: any) => f.code)).toEqual(['OutOfTime', 'OutOfTime']);
  });

  test('an unpublishable record is skipped and logged, not reported; the records after it are published', async () => {
    const bad = streamRecord('INSERT', { pk: { S: 'a#bad' } }, { pk: { S: 'a#bad' }, kind: { S: 'alert' }, alert: { S: 'nope' } });
    const good = alertInsert(makeAlert('c2'));
    const senders = new FakeSenders();
    const { response, metrics, errors } = await run([bad, good], senders);
    expect(response.batchItemFailures).toEqual([]);
    expect(snsAlertIds(senders.snsCalls)).toEqual([[makeAlert('c2').alert_id]]);
    expect(metrics).toMatchObject({ Unpublishable: 1, AlertsPublished: 1 });
    expect(errors).toEqual([expect.objectContaining({ message: 'unpublishable records skipped', records: [expect.objectContaining({ pk: 'a#bad', sequenceNumber: seqOf(bad) })] })]);
  });

  test('with only an event bus, or no alert destination at all, only what is configured is called', async () => {
    const onlyBus = new FakeSenders();
    await run([alertInsert(makeAlert('c1'))], onlyBus, { ...CONFIG, alertTopicArn: undefined });
    expect([onlyBus.snsCalls.length, onlyBus.eventCalls.length, onlyBus.delivered.size]).toEqual([0, 1, 1]);
    const none = new FakeSenders();
    const { response, metrics } = await run([alertInsert(makeAlert('c1')), windowClosed(makeResult('c1'))], none, { ...CONFIG, alertTopicArn: undefined, alertEventBusName: undefined, lakeStream: undefined });
    expect(response.batchItemFailures).toEqual([]);
    expect([none.snsCalls.length, none.eventCalls.length, none.delivered.size, none.recordCalls.length, none.table.size]).toEqual([0, 0, 0, 0, 1]);
    expect(metrics).toMatchObject({ AlertsPublished: 0, ResultsPublished: 1, ignored: 1 });
  });

  test('a large batch is split at 10 entries per SNS and PutEvents call and 500 records per PutRecords call', async () => {
    const records = [
      ...Array.from({ length: 25 }, (_, i) => alertInsert(makeAlert(`c${i}`))),
      ...Array.from({ length: 600 }, (_, i) => windowClosed(makeResult(`r${i}`))),
    ];
    const senders = new FakeSenders();
    const { response, metrics } = await run(records, senders);
    expect(response.batchItemFailures).toEqual([]);
    expect(senders.snsCalls.map((c) => c.PublishBatchRequestEntries.length)).toEqual([10, 10, 5]);
    expect(senders.eventCalls.map((c) => c.length)).toEqual([10, 10, 5]);
    expect(senders.recordCalls.map((c) => c.Records.length)).toEqual([500, 100]);
    expect(metrics).toMatchObject({ AlertsPublished: 25, ResultsPublished: 600 });
  });
});
