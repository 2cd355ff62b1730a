import * as fs from 'fs';
import * as path from 'path';
import { Token } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { propError } from './errors';

/**
 * Context key naming the topics lock file (relative to the working directory), or `false` to
 * turn the lock off.
 */
export const KAFKA_TOPIC_LOCK_CONTEXT = 'cdk-streaming-pipelines:kafkaTopicLock';

/** The lock file's default name, in the directory `cdk synth` runs in (beside cdk.json). */
export const KAFKA_TOPIC_LOCK_FILE = 'kafka-topics.lock.json';

/** What the lock remembers of one topic: the settings whose change CloudFormation or Kafka cannot make in place. */
interface LockEntry {
  readonly topicName: string;
  readonly replicationFactor: number;
  readonly partitions: number;
}

interface LockFile {
  readonly topics: { [constructPath: string]: LockEntry };
}

/** The lock file's path from the app's context, or undefined when the lock is off. */
function lockPath(scope: IConstruct): string | undefined {
  const value: unknown = scope.node.tryGetContext(KAFKA_TOPIC_LOCK_CONTEXT);
  if (value === false || value === 'false') return undefined;
  return path.resolve(process.cwd(), typeof value === 'string' && value !== '' ? value : KAFKA_TOPIC_LOCK_FILE);
}

function readLock(file: string): LockFile {
  if (!fs.existsSync(file)) return { topics: {} };
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockFile>;
  return { topics: parsed.topics ?? {} };
}

/** Sorted keys at every level, two-space indent, trailing newline: a diff shows only real changes. */
function render(lock: LockFile): string {
  const topics = Object.fromEntries(Object.keys(lock.topics).sort().map((k) => {
    const e = lock.topics[k];
    return [k, { partitions: e.partitions, replicationFactor: e.replicationFactor, topicName: e.topicName }];
  }));
  return `${JSON.stringify({ topics }, undefined, 2)}\n`;
}

/**
 * Checks a topic against what the lock file remembers from the last synth, and records it.
 *
 * Synth cannot see the deployed template, so the committed lock file is its memory (like
 * cdk.context.json). A new name or replication factor makes CloudFormation replace the topic:
 * refused unless `allowReplacement`. Fewer partitions: always refused (Kafka cannot remove them),
 * except on a replacement, which is a new topic. A topic whose name or counts are tokens is not
 * tracked.
 */
export function checkTopicLock(scope: IConstruct, entry: LockEntry, allowReplacement: boolean): void {
  const file = lockPath(scope);
  if (!file || Token.isUnresolved(entry.topicName) || Token.isUnresolved(entry.partitions) || Token.isUnresolved(entry.replicationFactor)) return;
  const lock = readLock(file);
  const key = scope.node.path;
  const old = lock.topics[key];
  if (old) {
    const renamed = old.topicName !== entry.topicName;
    const rfChanged = old.replicationFactor !== entry.replicationFactor;
    const where = `(recorded in ${file} for ${key})`;
    if ((renamed || rfChanged) && !allowReplacement) {
      const [prop, from, to] = renamed ? ['topicName', `'${old.topicName}'`, `'${entry.topicName}'`] : ['replicationFactor', old.replicationFactor, entry.replicationFactor];
      throw propError(scope, prop as string, `changes from ${from} to ${to} ${where}: CloudFormation replaces the topic, so producers and consumers move to a new, empty one; `
        + 'under RemovalPolicy.RETAIN (the default) the old topic is orphaned with its data, under DESTROY it is deleted. '
        + 'Set `allowReplacement: true` to make this change, or restore the entry in the lock file if the old value was never deployed.');
    }
    if (!renamed && !rfChanged && entry.partitions < old.partitions) {
      throw propError(scope, 'partitions', `(${entry.partitions}) is fewer than the ${old.partitions} partitions the topic has ${where}: Kafka cannot remove partitions.`);
    }
  }
  const next = { topics: { ...lock.topics, [key]: entry } };
  const text = render(next);
  if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) fs.writeFileSync(file, text);
}
