/**
 * ActiveControllerCount with a KRaft quorum of 3 controllers (as MSK runs them), read over JMX: every
 * controller publishes it (1 on the active one, 0 on standbys), and MSK puts them all under the one
 * `Cluster Name` dimension. So the CloudWatch Maximum is 1 exactly while some controller leads, and
 * KafkaMonitor's `NoActiveController` alarms on Maximum < 1. Figures go to stderr as `KAFKA {json}` lines.
 */
import { KafkaTestCluster } from './cluster';
import { readMBeans } from './jmx/jmx';

const ACTIVE = 'kafka.controller:type=KafkaController,name=ActiveControllerCount';

function report(scenario: string, figures: Record<string, unknown>): void {
  process.stderr.write(`KAFKA ${JSON.stringify({ scenario, ...figures })}\n`);
}

describe('ActiveControllerCount across a 3-controller quorum (JMX)', () => {
  let cluster: KafkaTestCluster;

  /** ActiveControllerCount of every running controller. */
  async function counts(): Promise<Record<number, number | null>> {
    const ids = cluster.controllerIds.filter((id) => cluster.isRunning(id));
    const values = await readMBeans(ids.map((id) => ({ port: cluster.jmxPort(id), name: ACTIVE })));
    return Object.fromEntries(ids.map((id, i) => [id, values[i] as number | null]));
  }

  async function waitForCounts(what: string, ok: (c: Record<number, number | null>) => boolean, timeoutMs = 30_000) {
    const t0 = Date.now();
    let last: Record<number, number | null> = {};
    while (Date.now() - t0 < timeoutMs) {
      last = await counts();
      if (ok(last)) return { counts: last, ms: Date.now() - t0 };
      await new Promise((r) => setTimeout(r, 250)); // poll interval; the condition is what we wait for
    }
    throw new Error(`timed out waiting for ${what}; last counts: ${JSON.stringify(last)}`);
  }

  const values = (c: Record<number, number | null>): number[] => Object.values(c).map((v) => v ?? -1);
  const max = (c: Record<number, number | null>): number => Math.max(...values(c));
  const sum = (c: Record<number, number | null>): number => values(c).reduce((a, b) => a + b, 0);

  beforeAll(async () => {
    cluster = await KafkaTestCluster.start({ brokers: 1, controllers: 3, jmx: true });
    report('controllers-startup', { brokers: 1, controllers: 3, startupMs: cluster.startupMs });
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  test('every controller publishes it: 1 on the active one, 0 on the two standbys (Maximum 1, Sum 1); the broker has none', async () => {
    const { counts: c } = await waitForCounts('one active controller', (x) => values(x).filter((v) => v === 1).length === 1);
    expect(values(c).sort()).toEqual([0, 0, 1]);
    expect(max(c)).toBe(1);
    expect(sum(c)).toBe(1);
    expect(await readMBeans([{ port: cluster.jmxPort(1), name: ACTIVE }])).toEqual([null]);
    report('controllers-steady', { counts: c });
  }, 60_000);

  test('the active controller stops: a standby takes over, and Maximum is back to 1', async () => {
    const before = await counts();
    const active = Number(Object.keys(before).find((id) => before[Number(id)] === 1));
    await cluster.stopBroker(active); // any node id: SIGTERM, controlled shutdown
    const { counts: c, ms } = await waitForCounts('a new active controller', (x) => max(x) === 1);
    expect(Object.keys(c)).not.toContain(String(active));
    expect(values(c).sort()).toEqual([0, 1]);
    report('controllers-failover', { stopped: active, counts: c, newActiveAfterMs: ms });
  }, 60_000);

  test('quorum lost (2 of 3 controllers down): no controller is active, Maximum 0 — what NoActiveController alarms on', async () => {
    const before = await counts();
    const active = Number(Object.keys(before).find((id) => before[Number(id)] === 1));
    await cluster.stopBroker(active);
    const { counts: c, ms } = await waitForCounts('no active controller', (x) => max(x) === 0);
    expect(values(c)).toEqual([0]);
    report('controllers-quorum-lost', { stopped: active, counts: c, ms });
  }, 60_000);
});
