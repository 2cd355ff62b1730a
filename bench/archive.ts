/**
 * Archive processor core (lambda/archive-processor/core.ts): processBatch
 * throughput on 500-record batches of ~1 KiB JSON payloads, shaped as a
 * Kinesis-sourced Firehose invocation delivers them.
 *
 *   archive-processor   records/s and µs/record of processBatch (validate, encode the line, base64, bucket, budget)
 */
import { parseConfig, processBatch, type ArchiveSourceRecord } from '../lambda/archive-processor/core';
import { prng } from './prng';

const BATCH_SIZE = 500;
const DISTINCT_BATCHES = 8;
const WARMUP_ROUNDS = 5;
const MEASURE_MS = 3000;
const TARGET_RECORD_BYTES = 1024;
const BASE_ARRIVAL = Date.UTC(2024, 5, 1, 0, 0, 0);

function payload(rand: () => number, i: number): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const doc = {
    event_id: `evt-${i.toString(16).padStart(8, '0')}-${Math.floor(rand() * 1e12).toString(36)}`,
    event: { ts: new Date(BASE_ARRIVAL + Math.floor(rand() * 86_400_000)).toISOString(), type: pick(['page_view', 'click', 'purchase', 'signup']) },
    region: pick(['eu-west-1', 'eu-central-1', 'us-east-1', 'us-west-2', 'ap-south-1']),
    tenant: `tenant-${Math.floor(rand() * 20)}`,
    user: { id: `u-${Math.floor(rand() * 1e9)}`, segment: pick(['free', 'pro', 'enterprise']) },
    amount: Math.round(rand() * 100000) / 100,
    note: '',
  };
  doc.note = 'n'.repeat(Math.max(0, TARGET_RECORD_BYTES - JSON.stringify(doc).length));
  return Buffer.from(JSON.stringify(doc));
}

function makeBatches(): ArchiveSourceRecord[][] {
  const rand = prng(4242);
  return Array.from({ length: DISTINCT_BATCHES }, (_, b) => Array.from({ length: BATCH_SIZE }, (_, i) => {
    const n = b * BATCH_SIZE + i;
    const arrival = BASE_ARRIVAL + n * 997;
    return {
      recordId: `4954698668313554428650745793632162567570019247115678${String(n).padStart(4, '0')}`,
      approximateArrivalTimestamp: arrival + 1500,
      data: payload(rand, n).toString('base64'),
      kinesisRecordMetadata: {
        shardId: `shardId-00000000000${n % 4}`,
        partitionKey: `device-${Math.floor(rand() * 100_000)}`,
        approximateArrivalTimestamp: arrival,
        sequenceNumber: `4959033827149025660855969253836157109592157598913658${String(n).padStart(4, '0')}`,
        subsequenceNumber: '',
      },
    };
  }));
}

export async function benchArchiveProcessor(bench: (name: string, figures: Record<string, unknown>) => void): Promise<void> {
  const config = parseConfig({});
  const batches = makeBatches();
  const recordBytes = Math.round(batches.flat().reduce((n, r) => n + Buffer.from(r.data as string, 'base64').length, 0) / (BATCH_SIZE * DISTINCT_BATCHES));

  let sink = 0;
  const run = (b: readonly ArchiveSourceRecord[]): number => {
    const out = processBatch(b, config);
    if (out.ok !== b.length) throw new Error(`archive bench: ${out.failed} records failed (${JSON.stringify(out.failedByReason)}); the fixture does not match the core`);
    return out.ok;
  };
  for (let w = 0; w < WARMUP_ROUNDS; w++) for (const b of batches) sink += run(b);
  let records = 0;
  const start = process.hrtime.bigint();
  let elapsedNs = 0;
  while (elapsedNs < MEASURE_MS * 1e6) {
    for (const b of batches) {
      sink += run(b);
      records += b.length;
    }
    elapsedNs = Number(process.hrtime.bigint() - start);
  }
  if (sink === 0) throw new Error('archive bench did not run');
  bench('archive-processor', {
    records_per_s: Math.round(records / (elapsedNs / 1e9)),
    us_per_record: Number((elapsedNs / 1e3 / records).toFixed(3)),
    batch: BATCH_SIZE,
    record_bytes: recordBytes,
  });
}
