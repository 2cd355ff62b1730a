import { Duration, Names, RemovalPolicy } from 'aws-cdk-lib';
import * as msk from 'aws-cdk-lib/aws-msk';
import type { IConstruct } from 'constructs';
import { Construct } from 'constructs';
import { propError } from './errors';
import { KafkaClusterType } from './kafka-refs';

/**
 * The explicit acknowledgement that turning on `unclean.leader.election.enable` may lose
 * acknowledged records: an out-of-sync replica can become leader, and the in-sync replicas
 * truncate their logs to it when they return.
 */
export interface UncleanLeaderElectionAcknowledgement {
  /** Why availability matters more than acknowledged records for this cluster (kept in the construct tree). */
  readonly reason: string;
}

/** The broker-configuration (`server.properties`) choices of a {@link KafkaConfiguration}. */
export interface KafkaBrokerProfileOptions {
  /**
   * `default.replication.factor` (and of the internal offsets and transaction topics): replicas of
   * each partition. Not for Express brokers, where AWS fixes it at 3.
   * @default 3
   */
  readonly defaultReplicationFactor?: number;
  /**
   * `min.insync.replicas` (and `transaction.state.log.min.isr`): replicas that must hold a record
   * before an `acks=all` write is acknowledged. At least 2 and below the replication factor, so a
   * rolling patch (one broker down) does not stop writes. Not for Express brokers (fixed at 2).
   * @default 2
   */
  readonly minInsyncReplicas?: number;
  /**
   * `num.partitions`: partitions of a topic created without a count. Automatic topic creation is off,
   * so this only applies to tools that create topics with the broker default.
   * @default 6
   */
  readonly numPartitions?: number;
  /** `log.retention.ms`: how long brokers keep records (topics may override it). @default Duration.days(7) */
  readonly logRetention?: Duration;
  /**
   * `unclean.leader.election.enable`. `true` lets an out-of-sync replica become leader when no in-sync
   * one is left: the partition comes back sooner, but acknowledged records are lost. Needs
   * `uncleanLeaderElectionAcknowledgement`. Not for Express brokers (AWS fixes it at false).
   * @default false
   */
  readonly uncleanLeaderElection?: boolean;
  /** Required, with a reason, when `uncleanLeaderElection` is true. @default - none */
  readonly uncleanLeaderElectionAcknowledgement?: UncleanLeaderElectionAcknowledgement;
  /**
   * Further MSK-accepted broker properties (e.g. `message.max.bytes`). The keys the other props set
   * cannot be given here; MSK checks the rest when it creates the configuration.
   * @default - none
   */
  readonly additionalServerProperties?: { [key: string]: string };
}

/** Properties of a {@link KafkaConfiguration}. */
export interface KafkaConfigurationProps extends KafkaBrokerProfileOptions {
  /** Standard (PROVISIONED) or EXPRESS brokers. SERVERLESS clusters take no configuration. */
  readonly clusterType: KafkaClusterType;
  /** Number of brokers of the cluster using it (the replication factor cannot exceed it). */
  readonly brokerCount: number;
  /**
   * RETAIN keeps the configuration when the stack deletes it: MSK refuses to delete a configuration
   * a (retained) cluster still uses.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** Keys the typed props own: set them there, so the rules above apply. */
const OWNED: { [key: string]: string } = {
  'default.replication.factor': 'defaultReplicationFactor',
  'offsets.topic.replication.factor': 'defaultReplicationFactor',
  'transaction.state.log.replication.factor': 'defaultReplicationFactor',
  'min.insync.replicas': 'minInsyncReplicas',
  'transaction.state.log.min.isr': 'minInsyncReplicas',
  'unclean.leader.election.enable': 'uncleanLeaderElection',
  'num.partitions': 'numPartitions',
  'log.retention.ms': 'logRetention',
  'log.retention.minutes': 'logRetention',
  'log.retention.hours': 'logRetention',
};

/** Keys the profile fixes, and why. */
const FIXED: { [key: string]: string } = {
  'auto.create.topics.enable': 'is always false: a typo in a topic name must fail, not create a topic with broker defaults',
  'allow.everyone.if.no.acl.found': 'is always false: a principal without an ACL (mutual TLS) is denied; IAM clients are authorized by IAM, not ACLs',
};

/** Broker settings AWS fixes on Express brokers (msk-configuration-express-read-only.html): a configuration setting them is refused. */
const EXPRESS_READ_ONLY = [
  'default.replication.factor', 'min.insync.replicas', 'unclean.leader.election.enable',
  'offsets.topic.replication.factor', 'transaction.state.log.replication.factor', 'transaction.state.log.min.isr',
  'num.io.threads', 'num.network.threads', 'num.replica.fetchers', 'replica.lag.time.max.ms', 'log.segment.bytes',
];

/**
 * The broker properties of the no-loss profile, in the order the configuration file lists them,
 * after validating `options` for `clusterType` (Express brokers get only the keys AWS lets users write).
 */
export function brokerServerProperties(scope: IConstruct, clusterType: KafkaClusterType, brokerCount: number,
  options: KafkaBrokerProfileOptions = {}): { [key: string]: string } {
  const express = clusterType === KafkaClusterType.EXPRESS;
  if (clusterType === KafkaClusterType.SERVERLESS) throw propError(scope, 'clusterType', '(serverless) takes no broker configuration');
  if (express) {
    for (const prop of ['defaultReplicationFactor', 'minInsyncReplicas', 'uncleanLeaderElection', 'uncleanLeaderElectionAcknowledgement'] as const) {
      if (options[prop] !== undefined) {
        throw propError(scope, prop, 'does not apply to Express brokers: AWS fixes default.replication.factor=3, min.insync.replicas=2 and unclean.leader.election.enable=false (read-only)');
      }
    }
  }
  const rf = options.defaultReplicationFactor ?? 3;
  const minIsr = options.minInsyncReplicas ?? 2;
  if (!express) validateReplication(scope, rf, minIsr, brokerCount);
  const unclean = validateUnclean(scope, options);
  const partitions = options.numPartitions ?? 6;
  if (!Number.isInteger(partitions) || partitions < 1) throw propError(scope, 'numPartitions', `(${partitions}) must be a whole number of at least 1`);
  const retentionMs = (options.logRetention ?? Duration.days(7)).toMilliseconds();
  if (retentionMs < 60_000) throw propError(scope, 'logRetention', `(${retentionMs} ms) must be at least one minute`);

  const props: { [key: string]: string } = express ? {} : {
    'default.replication.factor': String(rf),
    'min.insync.replicas': String(minIsr),
    'unclean.leader.election.enable': String(unclean),
    'offsets.topic.replication.factor': String(rf),
    'transaction.state.log.replication.factor': String(rf),
    'transaction.state.log.min.isr': String(minIsr),
  };
  props['auto.create.topics.enable'] = 'false';
  props['allow.everyone.if.no.acl.found'] = 'false';
  props['num.partitions'] = String(partitions);
  props['log.retention.ms'] = String(retentionMs);
  for (const [key, value] of Object.entries(options.additionalServerProperties ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    validateAdditional(scope, key, value, express);
    props[key] = value;
  }
  return props;
}

/** `server.properties` text: one `key=value` line per property, as `AWS::MSK::Configuration` takes it. */
export function serverPropertiesText(properties: { [key: string]: string }): string {
  return Object.entries(properties).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
}

/**
 * The broker topology rules of the no-loss profile: 3 AZs (with replication factor 3 and
 * min.insync.replicas 2, losing one AZ leaves 2 in-sync replicas and writes go on) and a broker count
 * that is a multiple of the AZ count (MSK spreads brokers evenly; rack-aware placement puts each
 * partition's replicas in different AZs).
 */
export function validateBrokerLayout(scope: IConstruct, zones: number, brokerCount: number): void {
  if (zones < 3) {
    throw propError(scope, 'vpcSubnets', `(${zones} availability zone${zones === 1 ? '' : 's'}) must span 3 availability zones: with replication factor 3 and min.insync.replicas 2, one AZ lost must leave 2 in-sync replicas`);
  }
  if (!Number.isInteger(brokerCount) || brokerCount < zones || brokerCount % zones !== 0) {
    throw propError(scope, 'brokerCount', `(${brokerCount}) must be a multiple of the number of availability zones (${zones}): MSK places the same number of brokers in each AZ`);
  }
}

function validateReplication(scope: IConstruct, rf: number, minIsr: number, brokerCount: number): void {
  if (!Number.isInteger(rf) || rf > brokerCount) {
    throw propError(scope, 'defaultReplicationFactor', `(${rf}) must be a whole number no greater than the broker count (${brokerCount}): each replica needs its own broker`);
  }
  if (!Number.isInteger(minIsr) || minIsr < 2) {
    throw propError(scope, 'minInsyncReplicas', `(${minIsr}) must be at least 2: with 1, an acknowledged record may exist on a single broker, and losing it loses the record`);
  }
  if (minIsr >= rf) {
    throw propError(scope, 'minInsyncReplicas', `(${minIsr}) must be below \`defaultReplicationFactor\` (${rf}): otherwise acks=all writes stop whenever one broker is down, as in every rolling patch`);
  }
}

function validateUnclean(scope: IConstruct, options: KafkaBrokerProfileOptions): boolean {
  const ack = options.uncleanLeaderElectionAcknowledgement;
  if (options.uncleanLeaderElection) {
    if (!ack) {
      throw propError(scope, 'uncleanLeaderElection', '(true) lets a replica that missed acknowledged records become leader, and those records are lost; set `uncleanLeaderElectionAcknowledgement: { reason }` to accept that');
    }
    if (!ack.reason?.trim()) throw propError(scope, 'uncleanLeaderElectionAcknowledgement.reason', 'must say why losing acknowledged records is acceptable');
    return true;
  }
  if (ack) throw propError(scope, 'uncleanLeaderElectionAcknowledgement', 'is given but `uncleanLeaderElection` is not true: remove it, or turn unclean election on deliberately');
  return false;
}

function validateAdditional(scope: IConstruct, key: string, value: string, express: boolean): void {
  const prop = `additionalServerProperties.${key}`;
  if (OWNED[key] !== undefined) throw propError(scope, prop, `is set by the prop \`${OWNED[key]}\`, which the no-loss rules check`);
  if (FIXED[key] !== undefined) throw propError(scope, prop, FIXED[key]);
  if (express && EXPRESS_READ_ONLY.includes(key)) throw propError(scope, prop, 'is read-only on Express brokers: AWS sets it');
  if (!/^[a-z][a-z0-9._-]*$/.test(key)) throw propError(scope, prop, 'is not a broker property name (lower-case words separated by dots)');
  if (value === '' || /[\r\n]/.test(value)) throw propError(scope, prop, `('${value}') must be a non-empty single-line value`);
}

/**
 * The `AWS::MSK::Configuration` of a Standard or Express cluster, holding the no-loss profile.
 * Its name is unique to this construct and it lists no Kafka versions: both are create-only, so
 * an edit of the properties is an in-place new revision (a rolling broker restart), never a
 * replacement that would collide with the configuration still in use.
 */
export class KafkaConfiguration extends Construct {
  /** The configuration resource; the cluster references `attrArn` and `attrLatestRevisionRevision`. */
  public readonly resource: msk.CfnConfiguration;
  /** The broker properties it holds, as written into `ServerProperties`. */
  public readonly serverProperties: { [key: string]: string };

  constructor(scope: Construct, id: string, props: KafkaConfigurationProps) {
    super(scope, id);
    this.serverProperties = brokerServerProperties(this, props.clusterType, props.brokerCount, props);
    this.resource = new msk.CfnConfiguration(this, 'Resource', {
      name: Names.uniqueResourceName(this, { maxLength: 64, separator: '-' }),
      description: 'cdk-streaming-pipelines no-loss broker profile',
      serverProperties: serverPropertiesText(this.serverProperties),
    });
    this.resource.applyRemovalPolicy(props.removalPolicy ?? RemovalPolicy.RETAIN);
  }
}
