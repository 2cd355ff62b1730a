import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { KafkaTopic, type KafkaTopicOptions } from '../lib/core/kafka-topic';
import { StubKafkaCluster } from './support/kafka-cluster-stub';
import { newApp } from './support/nag';

const KEY = 'cdk-streaming-pipelines:kafkaTopicLock';
let dir: string;
let lockFile: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'csp-topic-lock-'));
  lockFile = path.join(dir, 'kafka-topics.lock.json');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** One synth of an app holding topic `Orders` (and optionally others), with the lock at `lockFile`. */
function synthTopics(topics: { [id: string]: Partial<KafkaTopicOptions> }, context: { [key: string]: unknown } = { [KEY]: lockFile }): Template {
  const stack = new Stack(newApp(context), 'Pipeline');
  const cluster = new StubKafkaCluster(stack, 'Cluster');
  for (const [id, o] of Object.entries(topics)) new KafkaTopic(stack, id, { cluster, topicName: 'orders', partitions: 6, ...o });
  return Template.fromStack(stack);
}
const orders = (o: Partial<KafkaTopicOptions> = {}) => synthTopics({ Orders: o });
const lock = () => JSON.parse(fs.readFileSync(lockFile, 'utf8'));

describe('kafka-topics.lock.json: the memory that refuses replacing a topic at synth', () => {
  test('the first synth records each topic by construct path: name, RF, partitions; sorted keys and a trailing newline', () => {
    synthTopics({ Payments: { topicName: 'payments', partitions: 3 }, Orders: {} });
    const text = fs.readFileSync(lockFile, 'utf8');
    expect(text).toBe(`${JSON.stringify({
      topics: {
        'Pipeline/Orders': { partitions: 6, replicationFactor: 3, topicName: 'orders' },
        'Pipeline/Payments': { partitions: 3, replicationFactor: 3, topicName: 'payments' },
      },
    }, undefined, 2)}\n`);
  });

  test('an unchanged synth does not rewrite the file', () => {
    orders();
    const past = new Date('2020-01-01T00:00:00Z');
    fs.utimesSync(lockFile, past, past);
    orders();
    expect(fs.statSync(lockFile).mtime.getTime()).toBe(past.getTime());
  });

  test('more partitions are allowed and recorded', () => {
    orders();
    orders({ partitions: 12 });
    expect(lock().topics['Pipeline/Orders'].partitions).toBe(12);
  });

  test('fewer partitions are refused, always (Kafka cannot remove partitions); the lock is unchanged', () => {
    orders();
    expect(() => orders({ partitions: 4 })).toThrow(new RegExp(`\`partitions\` \\(4\\) is fewer than the 6 partitions the topic has \\(recorded in ${lockFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} for Pipeline/Orders\\): Kafka cannot remove partitions`));
    expect(() => orders({ partitions: 4, allowReplacement: true })).toThrow(/`partitions` \(4\) is fewer than the 6 partitions/);
    expect(lock().topics['Pipeline/Orders'].partitions).toBe(6);
  });

  test('a new topic name is refused without allowReplacement, naming old and new values, the replacement and RETAIN', () => {
    orders();
    expect(() => orders({ topicName: 'orders-v2' })).toThrow(
      /`topicName` changes from 'orders' to 'orders-v2' \(recorded in .* for Pipeline\/Orders\): CloudFormation replaces the topic, so producers and consumers move to a new, empty one; under RemovalPolicy.RETAIN \(the default\) the old topic is orphaned with its data.*Set `allowReplacement: true`/);
    expect(lock().topics['Pipeline/Orders'].topicName).toBe('orders');
  });

  test('a new replication factor is refused without allowReplacement', () => {
    synthTopics({ Orders: { replicationFactor: 2, minInsyncReplicas: 1 } });
    expect(() => orders()).toThrow(/`replicationFactor` changes from 2 to 3 .*CloudFormation replaces the topic/);
  });

  test('with allowReplacement the new name is accepted and recorded; a replacement may have fewer partitions (a new topic)', () => {
    orders();
    orders({ topicName: 'orders-v2', partitions: 3, allowReplacement: true });
    expect(lock().topics['Pipeline/Orders']).toEqual({ topicName: 'orders-v2', replicationFactor: 3, partitions: 3 });
  });

  test('another topic\'s entry does not constrain a new construct path', () => {
    orders();
    synthTopics({ Orders: {}, Refunds: { topicName: 'refunds', partitions: 1 } });
    expect(Object.keys(lock().topics)).toEqual(['Pipeline/Orders', 'Pipeline/Refunds']);
  });

  test('the context path is relative to the working directory; the default is kafka-topics.lock.json there', () => {
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      synthTopics({ Orders: {} }, {});
      expect(fs.existsSync(path.join(dir, 'kafka-topics.lock.json'))).toBe(false); // newApp() turns it off unless told
      fs.mkdirSync(path.join(dir, 'locks'));
      synthTopics({ Orders: {} }, { [KEY]: 'locks/topics.json' });
      expect(fs.existsSync(path.join(dir, 'locks', 'topics.json'))).toBe(true);
      synthTopics({ Orders: {} }, { [KEY]: undefined });
      expect(fs.existsSync(path.join(dir, 'kafka-topics.lock.json'))).toBe(true);
      fs.rmSync(path.join(dir, 'kafka-topics.lock.json'));
      synthTopics({ Orders: {} }, { [KEY]: '' });
      expect(fs.existsSync(path.join(dir, 'kafka-topics.lock.json'))).toBe(true);
    } finally {
      process.chdir(cwd);
    }
  });

  test('context false (as newApp() sets, and as the CLI passes -c key=false) writes and checks nothing', () => {
    synthTopics({ Orders: {} }, { [KEY]: false });
    synthTopics({ Orders: {} }, { [KEY]: 'false' });
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
