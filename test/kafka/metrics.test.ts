/**
 * The metrics KafkaMonitor alarms on, read over JMX from a real KRaft cluster (separate controller,
 * 3 brokers, RF 3, min ISR 2): which node publishes each one, and how each moves as brokers go down.
 * This is what the CloudWatch dimensions mirror: controller metrics have `Cluster Name` only (MSK never
 * names its controllers), broker metrics `Cluster Name` + `Broker ID`, each broker counting the
 * partitions it leads, so the cluster's count is the sum over brokers.
 * Figures go to stderr as `KAFKA {json}` lines.
 */
import { Admin } from 'kafkajs';
import { KafkaTestCluster } from './cluster';
import { readMBeans } from './jmx/jmx';

const NO_LOSS = {
  'default.replication.factor': '3',
  'min.insync.replicas': '2',
  'unclean.leader.election.enable': 'false',
  'auto.create.topics.enable': 'false',
};
const TOPIC = 'metrics';
const PARTITIONS = 6;

/** The CloudWatch metric name → its MBean (Apache Kafka's names; MSK publishes the same gauges). */
const MBEANS = {
  ActiveControllerCount: 'kafka.controller:type=KafkaController,name=ActiveControllerCount',
  OfflinePartitionsCount: 'kafka.controller:type=KafkaController,name=OfflinePartitionsCount',
  UnderReplicatedPartitions: 'kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions',
  UnderMinIsrPartitionCount: 'kafka.server:type=ReplicaManager,name=UnderMinIsrPartitionCount',
} as const;
type MetricName = keyof typeof MBEANS;
/** Node id → metric → value (null: the node has no such MBean). Only running nodes. */
type Snapshot = Record<number, Record<MetricName, number | null>>;

function report(scenario: string, figures: Record<string, unknown>): void {
  process.stderr.write(`KAFKA ${JSON.stringify({ scenario, ...figures })}\n`);
}

describe('alarm metrics on a real KRaft cluster (JMX)', () => {
  let cluster: KafkaTestCluster;
  let admin: Admin;
  const controller = 1001;

  /** Every metric of every running node, in one JMX read. */
  async function snapshot(): Promise<Snapshot> {
    const nodes = [...cluster.controllerIds, ...cluster.brokerIds].filter((id) => cluster.isRunning(id));
    const names = Object.keys(MBEANS) as MetricName[];
    const values = await readMBeans(nodes.flatMap((id) => names.map((n) => ({ port: cluster.jmxPort(id), name: MBEANS[n] }))));
    const snap: Snapshot = {};
    nodes.forEach((id, i) => {
      snap[id] = Object.fromEntries(names.map((n, j) => [n, values[i * names.length + j]])) as Record<MetricName, number | null>;
    });
    return snap;
  }

  /** The sum over the running brokers of a broker metric: what the alarm's SUM over Broker IDs computes. */
  const brokerSum = (s: Snapshot, metric: MetricName): number => cluster.brokerIds.filter((id) => s[id]).reduce((sum, id) => sum + (s[id][metric] ?? 0), 0);

  /** Polls the JMX snapshot until `ok` holds (a state change is applied asynchronously by the controller and brokers). */
  async function waitForSnapshot(what: string, ok: (s: Snapshot) => boolean, timeoutMs = 30_000): Promise<{ snap: Snapshot; ms: number }> {
    const t0 = Date.now();
    let last: Snapshot | undefined;
    while (Date.now() - t0 < timeoutMs) {
      last = await snapshot();
      if (ok(last)) return { snap: last, ms: Date.now() - t0 };
      await new Promise((r) => setTimeout(r, 250)); // poll interval; the condition is what we wait for
    }
    throw new Error(`timed out waiting for ${what}; last JMX snapshot: ${JSON.stringify(last)}`);
  }

  beforeAll(async () => {
    cluster = await KafkaTestCluster.start({ brokers: 3, serverProperties: NO_LOSS, jmx: true });
    report('metrics-startup', { brokers: 3, controllers: 1, jmx: true, startupMs: cluster.startupMs });
    admin = cluster.client('admin').admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3 }] });
  }, 120_000);

  afterAll(async () => {
    await admin?.disconnect();
    await cluster?.stop();
  }, 60_000);

  test('controller metrics live on the controller only; replica metrics on the brokers only', async () => {
    const { snap } = await waitForSnapshot('all replicas in sync', (s) => brokerSum(s, 'UnderReplicatedPartitions') === 0);
    expect(cluster.controllerIds).toEqual([controller]);
    expect(snap[controller]).toEqual({ ActiveControllerCount: 1, OfflinePartitionsCount: 0, UnderReplicatedPartitions: null, UnderMinIsrPartitionCount: null });
    for (const id of cluster.brokerIds) {
      expect(snap[id]).toEqual({ ActiveControllerCount: null, OfflinePartitionsCount: null, UnderReplicatedPartitions: 0, UnderMinIsrPartitionCount: 0 });
    }
    report('metrics-where', { snapshot: snap });
  }, 60_000);

  test('one broker stopped: under-replicated > 0 (summed over brokers: every partition once), under min ISR 0, none offline', async () => {
    await cluster.stopBroker(3);
    const { snap, ms } = await waitForSnapshot('every partition under-replicated', (s) => brokerSum(s, 'UnderReplicatedPartitions') === PARTITIONS);
    expect(brokerSum(snap, 'UnderMinIsrPartitionCount')).toBe(0); // ISR {1,2} = min.insync.replicas: writes still accepted
    expect(snap[controller]).toMatchObject({ ActiveControllerCount: 1, OfflinePartitionsCount: 0 });
    // Each partition is counted by its leader only (1 or 2 now), so the sum is the partition count, never more.
    expect(snap[1].UnderReplicatedPartitions! + snap[2].UnderReplicatedPartitions!).toBe(PARTITIONS);
    report('metrics-one-broker-down', { ms, perBroker: { 1: snap[1].UnderReplicatedPartitions, 2: snap[2].UnderReplicatedPartitions }, underMinIsr: 0 });
  }, 60_000);

  test('two brokers stopped: every partition under min ISR, on the remaining broker; still none offline', async () => {
    await cluster.stopBroker(2);
    const { snap, ms } = await waitForSnapshot('every partition under min ISR', (s) => brokerSum(s, 'UnderMinIsrPartitionCount') === PARTITIONS);
    expect(snap[1]).toEqual({ ActiveControllerCount: null, OfflinePartitionsCount: null, UnderReplicatedPartitions: PARTITIONS, UnderMinIsrPartitionCount: PARTITIONS });
    expect(snap[controller]).toMatchObject({ ActiveControllerCount: 1, OfflinePartitionsCount: 0 });
    report('metrics-two-brokers-down', { ms, broker1: snap[1] });
  }, 60_000);

  test('every replica of the partitions down: offline partitions > 0 on the controller, which stays the one active controller', async () => {
    await cluster.stopBroker(1);
    const { snap, ms } = await waitForSnapshot('every partition offline', (s) => s[controller].OfflinePartitionsCount === PARTITIONS);
    expect(snap[controller].ActiveControllerCount).toBe(1);
    expect(Object.keys(snap)).toEqual([String(controller)]); // no broker left to publish replica metrics
    report('metrics-all-replicas-down', { ms, controller: snap[controller] });
  }, 60_000);

  test('brokers back: every count returns to 0', async () => {
    const t0 = Date.now();
    await Promise.all(cluster.brokerIds.map((id) => cluster.startBroker(id)));
    const { snap, ms } = await waitForSnapshot('all counts 0', (s) => s[controller].OfflinePartitionsCount === 0
      && cluster.brokerIds.every((id) => s[id]?.UnderReplicatedPartitions === 0 && s[id]?.UnderMinIsrPartitionCount === 0), 60_000);
    expect(snap[controller].ActiveControllerCount).toBe(1);
    report('metrics-recovered', { restartAndRecoverMs: Date.now() - t0, recoverAfterStartMs: ms });
  }, 120_000);
});
