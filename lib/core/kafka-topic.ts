import { Duration, Fn, RemovalPolicy, Token } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as msk from 'aws-cdk-lib/aws-msk';
import { Construct } from 'constructs';
import { propError } from './errors';
import { KafkaClusterType, type IKafkaCluster, type IKafkaTopic } from './kafka-refs';
import { KafkaTopicResource } from './kafka-topic-resource';
import { checkTopicLock, KAFKA_TOPIC_LOCK_CONTEXT, KAFKA_TOPIC_LOCK_FILE } from './kafka-topic-lock';

/** A topic's `cleanup.policy`: what happens to old records. */
export class KafkaCleanupPolicy {
  /** Delete segments older than the retention (Kafka's default). */
  public static readonly DELETE = new KafkaCleanupPolicy('delete');
  /** Keep the latest record of each key, forever: for latest-value-per-key topics (changelogs, tables). */
  public static readonly COMPACT = new KafkaCleanupPolicy('compact');
  /** Keep the latest record of each key, and also delete segments older than the retention. */
  public static readonly COMPACT_DELETE = new KafkaCleanupPolicy('compact,delete');
  /** @param value the `cleanup.policy` value */
  private constructor(public readonly value: string) {}
}

/** How long a topic keeps records (`retention.ms`). */
export class KafkaRetention {
  /** Records are never deleted for age (`retention.ms=-1`). */
  public static readonly INFINITE = new KafkaRetention(-1);
  /** Records are deleted once older than `duration`. */
  public static of(duration: Duration): KafkaRetention {
    return new KafkaRetention(duration.toMilliseconds());
  }
  /** @param milliseconds the `retention.ms` value; -1 is infinite */
  private constructor(public readonly milliseconds: number) {}
}

/** A topic's settings, without its cluster: what `KafkaCluster.addTopic` takes. */
export interface KafkaTopicOptions {
  /** The topic name: 1–249 of `[a-zA-Z0-9._-]`. Changing it replaces the topic (see `allowReplacement`). */
  readonly topicName: string;
  /**
   * Number of partitions. It can grow in place; Kafka cannot remove partitions. On MSK Provisioned,
   * grow it in a deployment that changes no config: MSK's UpdateTopic takes partitions or configs per
   * call, not both (whether CloudFormation splits such an update is not documented).
   */
  readonly partitions: number;
  /**
   * Replicas of each partition. Changing it replaces the topic (see `allowReplacement`).
   * Express and Serverless clusters take only 3.
   * @default 3
   */
  readonly replicationFactor?: number;
  /**
   * `min.insync.replicas`: replicas that must have a record before an `acks=all` write succeeds.
   * It must stay below `replicationFactor`, or writes stop whenever one broker is down (every
   * rolling patch). Express brokers fix it at 2 and MSK Serverless sets it itself: leave it unset there.
   * @default 2 (Provisioned); the cluster's fixed value (Express, Serverless)
   */
  readonly minInsyncReplicas?: number;
  /**
   * How long records are kept (`retention.ms`). Not for a `COMPACT` topic, which keeps each key's latest record.
   * @default - the cluster's `log.retention` (MSK Serverless: 7 days)
   */
  readonly retention?: KafkaRetention;
  /**
   * What happens to old records. `COMPACT` for latest-value-per-key topics. On MSK Serverless it
   * can be set only when the topic is created.
   * @default KafkaCleanupPolicy.DELETE
   */
  readonly cleanupPolicy?: KafkaCleanupPolicy;
  /**
   * Other topic-level configs (e.g. `max.message.bytes`, `compression.type`). MSK Serverless accepts
   * only its documented list. The typed settings above cannot be set here.
   * @default - none
   */
  readonly configs?: { [key: string]: string };
  /**
   * Lets a change of `topicName` or `replicationFactor` replace the topic. CloudFormation creates a
   * new, empty topic; the old one is retained (orphaned, with its data) under the default removal
   * policy. A replication-factor change under the same name cannot create the new topic while the old
   * one exists, so the deployment fails and rolls back: rename the topic with it.
   * @default false: such a change is refused at synth (see the topics lock file)
   */
  readonly allowReplacement?: boolean;
  /**
   * What happens to the topic when it is removed from the app or replaced.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Key for the topics custom resource's function (logs, environment). Required for an MSK Serverless
   * cluster, whose topics a custom resource manages; unused otherwise.
   * @default - none
   */
  readonly encryptionKey?: kms.IKey;
}

/** Properties of a {@link KafkaTopic}. */
export interface KafkaTopicProps extends KafkaTopicOptions {
  /** The cluster holding the topic. */
  readonly cluster: IKafkaCluster;
}

/** The topic-level configs MSK Serverless accepts (MSK developer guide, serverless-config). */
const SERVERLESS_CONFIGS = ['cleanup.policy', 'compression.type', 'max.message.bytes', 'message.timestamp.difference.max.ms', 'message.timestamp.type', 'retention.bytes', 'retention.ms'];
/** Configs the typed props own. */
const TYPED_CONFIGS: { [key: string]: string } = { 'min.insync.replicas': 'minInsyncReplicas', 'retention.ms': 'retention', 'cleanup.policy': 'cleanupPolicy' };
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * A Kafka topic as code. On MSK Provisioned (Standard or Express brokers) it is an
 * `AWS::MSK::Topic` with `DeletionPolicy`/`UpdateReplacePolicy: Retain`; on MSK Serverless, which
 * that resource does not serve, a custom resource ({@link KafkaTopicResource}).
 *
 * A change CloudFormation would make by replacing the topic (name, replication factor) is refused
 * at synth unless `allowReplacement`, and fewer partitions always: the committed lock file
 * `kafka-topics.lock.json` remembers each topic between synths.
 */
export class KafkaTopic extends Construct implements IKafkaTopic {
  /** Context key naming the topics lock file (relative to the working directory), or `false` to turn it off. */
  public static readonly LOCK_CONTEXT_KEY = KAFKA_TOPIC_LOCK_CONTEXT;
  /** The lock file's default name, in the directory `cdk synth` runs in. */
  public static readonly DEFAULT_LOCK_FILE = KAFKA_TOPIC_LOCK_FILE;

  public readonly topicName: string;
  public readonly topicArn: string;
  public readonly cluster: IKafkaCluster;
  public readonly partitions: number;
  /** Replicas of each partition. */
  public readonly replicationFactor: number;
  /** The topic-level configs the topic is created with. */
  public readonly topicConfigs: { [key: string]: string };

  constructor(scope: Construct, id: string, props: KafkaTopicProps) {
    super(scope, id);
    this.cluster = props.cluster;
    this.topicName = props.topicName;
    this.partitions = props.partitions;
    this.replicationFactor = props.replicationFactor ?? 3;
    this.validate(props);
    this.topicConfigs = this.renderConfigs(props);
    checkTopicLock(this, { topicName: this.topicName, replicationFactor: this.replicationFactor, partitions: this.partitions }, props.allowReplacement ?? false);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    if (props.cluster.clusterType === KafkaClusterType.SERVERLESS) {
      if (!props.encryptionKey) throw propError(this, 'encryptionKey', 'is required for a topic of an MSK Serverless cluster: it encrypts the logs of the custom resource that manages the topic.');
      this.topicArn = new KafkaTopicResource(this, 'Resource', {
        cluster: props.cluster,
        topicName: this.topicName,
        partitions: this.partitions,
        configs: this.topicConfigs,
        encryptionKey: props.encryptionKey,
        allowReplacement: props.allowReplacement,
        removalPolicy,
      }).topicArn;
      return;
    }
    const topic = new msk.CfnTopic(this, 'Resource', {
      clusterArn: props.cluster.clusterArn,
      topicName: this.topicName,
      partitionCount: this.partitions,
      replicationFactor: this.replicationFactor,
      configs: encodeTopicConfigs(this.topicConfigs),
    });
    topic.applyRemovalPolicy(removalPolicy);
    this.topicArn = topic.attrTopicArn;
  }

  private validate(props: KafkaTopicProps): void {
    const type = props.cluster.clusterType;
    const name = props.topicName;
    if (!Token.isUnresolved(name) && (!TOPIC_NAME.test(name) || name === '.' || name === '..')) {
      throw propError(this, 'topicName', `('${name}') must be 1–249 characters of [a-zA-Z0-9._-], and not '.' or '..' (Kafka's topic name rule).`);
    }
    if (!Token.isUnresolved(props.partitions) && (!Number.isInteger(props.partitions) || props.partitions < 1)) {
      throw propError(this, 'partitions', `(${props.partitions}) must be a whole number of at least 1.`);
    }
    const rf = this.replicationFactor;
    if (!Number.isInteger(rf) || rf < 1) throw propError(this, 'replicationFactor', `(${rf}) must be a whole number of at least 1.`);
    if (type !== KafkaClusterType.PROVISIONED && rf !== 3) {
      throw propError(this, 'replicationFactor', `(${rf}) must be 3 on ${type === KafkaClusterType.EXPRESS ? 'Express brokers' : 'MSK Serverless'}: AWS fixes it.`);
    }
    const brokers = props.cluster.brokerCount;
    if (brokers !== undefined && !Token.isUnresolved(brokers) && rf > brokers) {
      throw propError(this, 'replicationFactor', `(${rf}) exceeds the cluster's ${brokers} brokers: Kafka cannot place more replicas than brokers, so the topic cannot be created.`);
    }
    this.validateMinIsr(props, rf);
    this.validateRetention(props);
    this.validateConfigs(props);
  }

  private validateMinIsr(props: KafkaTopicProps, rf: number): void {
    const minIsr = props.minInsyncReplicas;
    const type = props.cluster.clusterType;
    if (type === KafkaClusterType.SERVERLESS && minIsr !== undefined) {
      throw propError(this, 'minInsyncReplicas', `(${minIsr}) cannot be set on MSK Serverless: MSK sets it and accepts no min.insync.replicas topic config.`);
    }
    if (type === KafkaClusterType.EXPRESS && minIsr !== undefined && minIsr !== 2) {
      throw propError(this, 'minInsyncReplicas', `(${minIsr}) must be 2 on Express brokers: AWS fixes min.insync.replicas=2 (read-only).`);
    }
    const value = minIsr ?? 2;
    if (!Number.isInteger(value) || value < 1) throw propError(this, 'minInsyncReplicas', `(${value}) must be a whole number of at least 1.`);
    if (type === KafkaClusterType.PROVISIONED && value >= rf) {
      throw propError(this, 'minInsyncReplicas', `(${value}) must be less than replicationFactor (${rf}): with every replica required, acks=all writes stop whenever one broker is down, as during every rolling patch.`);
    }
  }

  private validateRetention(props: KafkaTopicProps): void {
    const policy = props.cleanupPolicy ?? KafkaCleanupPolicy.DELETE;
    const retention = props.retention;
    if (!retention) return;
    if (policy === KafkaCleanupPolicy.COMPACT) {
      throw propError(this, 'retention', 'has no effect on a COMPACT topic, which keeps each key\'s latest record forever: use KafkaCleanupPolicy.COMPACT_DELETE to also expire old records, or drop `retention`.');
    }
    if (policy === KafkaCleanupPolicy.COMPACT_DELETE && retention === KafkaRetention.INFINITE) {
      throw propError(this, 'retention', 'is INFINITE on a COMPACT_DELETE topic, so nothing is ever deleted for age: use KafkaCleanupPolicy.COMPACT.');
    }
    if (retention !== KafkaRetention.INFINITE && !(retention.milliseconds >= 1)) {
      throw propError(this, 'retention', `(${retention.milliseconds} ms) must be positive: a zero retention deletes every record at once. Use KafkaRetention.INFINITE to keep records forever.`);
    }
  }

  private validateConfigs(props: KafkaTopicProps): void {
    for (const [key, value] of Object.entries(props.configs ?? {})) {
      const prop = `configs.${key}`;
      if (TYPED_CONFIGS[key]) throw propError(this, prop, `is set with the \`${TYPED_CONFIGS[key]}\` prop, which this construct validates: set it there.`);
      if (!/^[a-z][a-z0-9.]*$/.test(key)) throw propError(this, prop, 'is not a Kafka topic config name (lower-case words separated by dots).');
      if (!Token.isUnresolved(value) && /[\r\n]/.test(value)) throw propError(this, prop, 'contains a line break: topic configs are sent as `key=value` lines.');
      if (props.cluster.clusterType === KafkaClusterType.SERVERLESS && !SERVERLESS_CONFIGS.includes(key)) {
        throw propError(this, prop, `cannot be set on MSK Serverless, which accepts only ${SERVERLESS_CONFIGS.join(', ')}.`);
      }
    }
  }

  private renderConfigs(props: KafkaTopicProps): { [key: string]: string } {
    const configs: { [key: string]: string } = {
      'cleanup.policy': (props.cleanupPolicy ?? KafkaCleanupPolicy.DELETE).value,
      ...props.configs,
    };
    // Express fixes min.insync.replicas and Serverless manages it: only Standard brokers take it.
    if (props.cluster.clusterType === KafkaClusterType.PROVISIONED) configs['min.insync.replicas'] = String(props.minInsyncReplicas ?? 2);
    if (props.retention) configs['retention.ms'] = String(props.retention.milliseconds);
    return Object.fromEntries(Object.keys(configs).sort().map((k) => [k, configs[k]]));
  }
}

/**
 * `AWS::MSK::Topic`'s `Configs`: base64 of the `key=value` lines of a properties file (MSK developer
 * guide, describe-topic). Encoded at synth, or by `Fn::Base64` when a value is a token.
 */
export function encodeTopicConfigs(configs: { [key: string]: string }): string {
  const text = Object.entries(configs).map(([k, v]) => `${k}=${v}`).join('\n');
  return Token.isUnresolved(text) ? Fn.base64(text) : Buffer.from(text, 'utf8').toString('base64');
}
