/**
 * The topic sink's kafkajs adapter: an idempotent producer (acks=all, one
 * request in flight, no topic auto-creation) per topic ARN, kept for the
 * container's life so a warm worker keeps its producer id (the brokers then
 * drop a resent batch they already hold). IAM: kafka-cluster:Connect and
 * WriteDataIdempotently on the cluster, DescribeTopic and WriteData on the
 * topic, kafka:GetBootstrapBrokers (msk-iam.ts).
 */
import type { Kafka, Producer } from 'kafkajs';
import { classifyTopicError, parseTopicArn, type TopicSink } from './core';

export interface TopicProducerOptions {
  /** Retries of the producer itself (same sequence numbers: no duplicates) before the sink's own backoff. @default 5 */
  readonly retries?: number;
  /** @default 30000 */
  readonly requestTimeoutMs?: number;
}

/** `openTopic` over kafkajs clients from `connect(clusterArn)` (mskKafka in the Lambda, a local client in tests). */
export function kafkaTopicIo(connect: (clusterArn: string) => Promise<Kafka>, options: TopicProducerOptions = {}): {
  openTopic: (topicArn: string) => Promise<TopicSink>;
  close: () => Promise<void>;
} {
  const open = new Map<string, Promise<{ sink: TopicSink; producer: Producer }>>();
  const openOne = async (topicArn: string): Promise<{ sink: TopicSink; producer: Producer }> => {
    const { clusterArn, topic } = parseTopicArn(topicArn);
    const kafka = await connect(clusterArn);
    const admin = kafka.admin();
    await admin.connect();
    let partitions: number;
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      partitions = meta.topics[0]?.partitions.length ?? 0;
    } finally {
      await admin.disconnect();
    }
    if (partitions < 1) throw new Error(`topic ${topic} of ${clusterArn} has no partitions`);
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1, // kafkajs requires it with idempotence; it also keeps a partition's batches in order
      allowAutoTopicCreation: false,
      retry: { retries: options.retries ?? 5, initialRetryTime: 200, maxRetryTime: 5000 },
    });
    await producer.connect();
    const sink: TopicSink = {
      partitions,
      async produce(partition, messages) {
        try {
          await producer.send({
            topic,
            acks: -1,
            timeout: options.requestTimeoutMs ?? 30_000,
            messages: messages.map((m) => ({ key: m.key, value: m.value, partition, ...(m.headers ? { headers: { ...m.headers } } : {}) })),
          });
        } catch (e) {
          // A producer refused for good (fenced, unknown producer id, no permission) is not reused by the next invocation.
          if (classifyTopicError(e).action === 'stop') {
            open.delete(topicArn);
            await producer.disconnect().catch(() => undefined);
          }
          throw e;
        }
      },
    };
    return { sink, producer };
  };
  return {
    openTopic: async (topicArn) => {
      let entry = open.get(topicArn);
      if (!entry) {
        entry = openOne(topicArn);
        open.set(topicArn, entry);
        entry.catch(() => open.delete(topicArn));
      }
      return (await entry).sink;
    },
    close: async () => {
      const all = [...open.values()];
      open.clear();
      await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.producer.disconnect()));
    },
  };
}
