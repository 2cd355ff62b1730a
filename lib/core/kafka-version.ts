import type { IConstruct } from 'constructs';
import { propError } from './errors';

/** MSK accepts these as KRaft-mode versions; `.x` is literal (MSK picks the patch release). */
const KRAFT = /^(\d+)\.(\d+)\.(x|\d+)\.kraft$/;

/**
 * An Amazon MSK Kafka version in KRaft mode (no ZooKeeper). KRaft is chosen at creation and can
 * never be switched afterwards, and from 3.9 it honours `unclean.leader.election.enable`
 * (KAFKA-12670), which the no-loss profile relies on.
 */
export class KafkaVersion {
  /** Apache Kafka 3.9.x, KRaft mode: the last 3.x line and the first whose KRaft honours the unclean-election setting. */
  public static readonly V3_9_X_KRAFT = new KafkaVersion('3.9.x.kraft', false);
  /** Apache Kafka 4.0.x (KRaft only). */
  public static readonly V4_0_X_KRAFT = new KafkaVersion('4.0.x.kraft', false);
  /** Apache Kafka 4.1.x (KRaft only). */
  public static readonly V4_1_X_KRAFT = new KafkaVersion('4.1.x.kraft', false);
  /** Apache Kafka 4.2.x (KRaft only). MSK offers it on Express brokers only. */
  public static readonly V4_2_X_KRAFT = new KafkaVersion('4.2.x.kraft', true);

  /**
   * Any other MSK version string, e.g. a newer `4.3.x.kraft`. The cluster checks at synth that it
   * is a KRaft string (`<major>.<minor>.<patch or x>.kraft`, 3.7 or later).
   */
  public static of(version: string): KafkaVersion {
    const known = [KafkaVersion.V3_9_X_KRAFT, KafkaVersion.V4_0_X_KRAFT, KafkaVersion.V4_1_X_KRAFT, KafkaVersion.V4_2_X_KRAFT];
    return known.find((v) => v.version === version) ?? new KafkaVersion(version, false);
  }

  /**
   * @param version the version string MSK takes (`KafkaVersion` of `AWS::MSK::Cluster`)
   * @param expressOnly whether MSK offers it only on Express brokers
   */
  private constructor(public readonly version: string, public readonly expressOnly: boolean) {}

  /**
   * Throws a synth error naming `prop` unless this is a KRaft version MSK can run on `express`
   * (Express) or Standard brokers.
   */
  public validate(scope: IConstruct, prop: string, express: boolean): void {
    const m = KRAFT.exec(this.version);
    if (!m) {
      const zk = /^\d+\.\d+\.(x|\d+)$/.test(this.version) ? ` is a ZooKeeper-mode version: use '${this.version}.kraft'` : ' is not an MSK KRaft version';
      throw propError(scope, prop, `('${this.version}')${zk} (\`<major>.<minor>.x.kraft\`, e.g. '3.9.x.kraft'); ZooKeeper mode cannot be left after creation`);
    }
    const [major, minor] = [Number(m[1]), Number(m[2])];
    if (major < 3 || (major === 3 && minor < 7)) {
      throw propError(scope, prop, `('${this.version}') predates KRaft on MSK, which starts at 3.7.x.kraft`);
    }
    if (this.expressOnly && !express) {
      throw propError(scope, prop, `('${this.version}') is offered by MSK on Express brokers only; use \`clusterType: KafkaClusterType.EXPRESS\` or an earlier version`);
    }
  }
}
