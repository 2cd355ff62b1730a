/**
 * A real Apache Kafka cluster in KRaft mode on 127.0.0.1, for tests.
 *
 * Brokers and controllers are separate JVMs (`java -cp <jars> kafka.Kafka node.properties`),
 * as on Amazon MSK's KRaft clusters, where the controllers are not brokers. That matters for the
 * failure tests: with combined nodes, killing two of three brokers would also kill the controller
 * quorum, and no leader election (clean or unclean) could happen at all.
 *
 * The jars come from Maven Central (test/kafka/pom.xml, fetched by scripts/kafka-env.mjs).
 * Every node runs in its own process group behind a small shell guard that kills it when this
 * process's pipe to it closes, so no JVM outlives the test run even if jest dies.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import { closeSync, fstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { AddressInfo, createServer } from 'net';
import { tmpdir } from 'os';
import * as path from 'path';
import { Admin, Kafka, logLevel } from 'kafkajs';

const ROOT = path.resolve(__dirname, '..', '..');

export interface KafkaTestClusterOptions {
  /** Number of brokers (node ids 1..n). @default 3 */
  readonly brokers?: number;
  /** Number of KRaft controllers (node ids 1001..). The failure tests stop brokers, never controllers. @default 1 */
  readonly controllers?: number;
  /**
   * Server properties, as an `AWS::MSK::Configuration` holds them. They go to brokers AND controllers:
   * in KRaft the controller applies the cluster-wide defaults (num.partitions, default.replication.factor,
   * unclean.leader.election.enable) when it creates topics and elects leaders.
   * @default {}
   */
  readonly serverProperties?: Record<string, string>;
  /** Maximum JVM heap of each node. @default '256m' */
  readonly heap?: string;
  /** How long start() and startBroker() may take before they fail with the nodes' log tails. @default 90000 */
  readonly startupTimeoutMs?: number;
  /**
   * Remote JMX on 127.0.0.1 for every node (its own free port, the same after a restart; no auth, no TLS:
   * loopback only), to read the nodes' MBeans (test/kafka/jmx). `jmxPort(id)` gives a node's port.
   * @default false
   */
  readonly jmx?: boolean;
}

interface Node {
  readonly id: number;
  readonly role: 'broker' | 'controller';
  readonly port: number;
  readonly dir: string;
  readonly props: string;
  readonly log: string;
  /** Remote JMX port, when the cluster was started with `jmx`. */
  readonly jmxPort?: number;
  proc?: ChildProcess;
  /** Size of the log when the running JVM was launched: what it wrote since starts there. */
  logStart?: number;
  exited?: Promise<number | null>;
}

/** Settings that keep a 2-core test machine responsive and failures quick to detect; serverProperties may override them. */
const TEST_DEFAULTS: Record<string, string> = {
  'num.network.threads': '2',
  'num.io.threads': '2',
  'background.threads': '2',
  'num.replica.fetchers': '1',
  'group.initial.rebalance.delay.ms': '0',
  // A killed broker is fenced after this (default 9 s), and its partitions led elsewhere.
  'broker.heartbeat.interval.ms': '500',
  'broker.session.timeout.ms': '3000',
  // Unclean elections in KRaft run on this period (default 5 minutes, KAFKA-17412).
  'unclean.leader.election.interval.ms': '1000',
};

export class KafkaTestCluster {
  /** Starts the cluster and resolves once every broker is registered and unfenced in the cluster's metadata. */
  public static async start(options: KafkaTestClusterOptions = {}): Promise<KafkaTestCluster> {
    const nodes = (options.brokers ?? 3) + (options.controllers ?? 1);
    const cluster = new KafkaTestCluster(options, await freePorts(options.jmx ? 2 * nodes : nodes));
    try {
      await cluster.format();
      for (const node of cluster.nodes) cluster.launch(node);
      await cluster.waitForBrokers(cluster.brokerIds, true);
      return cluster;
    } catch (e) {
      await cluster.stop();
      throw e;
    }
  }

  public readonly dir: string;
  public readonly clusterId: string;
  /** Milliseconds from start() to all brokers registered (jars already fetched). */
  public startupMs = 0;
  private readonly nodes: Node[];
  private readonly jars: string;
  private readonly heap: string;
  private readonly timeoutMs: number;
  private readonly t0 = Date.now();

  private constructor(options: KafkaTestClusterOptions, ports: number[]) {
    this.jars = kafkaJars();
    this.heap = options.heap ?? '256m';
    this.timeoutMs = options.startupTimeoutMs ?? Number(process.env.KAFKA_TEST_STARTUP_MS ?? 90_000);
    this.dir = mkdtempSync(path.join(tmpdir(), 'kafka-test-'));
    this.clusterId = clusterId();
    const brokers = options.brokers ?? 3;
    const controllers = options.controllers ?? 1;
    // With jmx, ports[n..2n) are the nodes' JMX ports, in the same order as their listener ports.
    const jmxPort = (i: number): number | undefined => (options.jmx ? ports[brokers + controllers + i] : undefined);
    const node = (id: number, role: Node['role'], port: number, jmx?: number): Node => {
      const dir = path.join(this.dir, `${role}-${id}`);
      mkdirSync(dir);
      return { id, role, port, jmxPort: jmx, dir, props: path.join(dir, 'node.properties'), log: path.join(dir, 'node.log') };
    };
    this.nodes = [
      ...Array.from({ length: controllers }, (_, i) => node(1001 + i, 'controller', ports[brokers + i], jmxPort(brokers + i))),
      ...Array.from({ length: brokers }, (_, i) => node(1 + i, 'broker', ports[i], jmxPort(i))),
    ];
    const voters = this.nodes.filter((n) => n.role === 'controller').map((n) => `${n.id}@127.0.0.1:${n.port}`).join(',');
    const internalRf = String(Math.min(3, brokers));
    for (const n of this.nodes) {
      const own: Record<string, string> = n.role === 'controller'
        ? { 'listeners': `CONTROLLER://127.0.0.1:${n.port}` }
        : {
          'listeners': `PLAINTEXT://127.0.0.1:${n.port}`,
          'advertised.listeners': `PLAINTEXT://127.0.0.1:${n.port}`,
          'inter.broker.listener.name': 'PLAINTEXT',
        };
      const props = {
        'offsets.topic.replication.factor': internalRf,
        'transaction.state.log.replication.factor': internalRf,
        'transaction.state.log.min.isr': String(Math.min(2, brokers)),
        ...TEST_DEFAULTS,
        ...options.serverProperties,
        ...own,
        'process.roles': n.role,
        'node.id': String(n.id),
        'controller.quorum.voters': voters,
        'controller.listener.names': 'CONTROLLER',
        'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
        'log.dirs': path.join(n.dir, 'data'),
      };
      writeFileSync(n.props, Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
    }
  }

  /** Broker node ids, 1..n. */
  public get brokerIds(): number[] {
    return this.brokers().map((n) => n.id);
  }

  /** host:port of every broker, for a client's `brokers`. */
  public get bootstrap(): string[] {
    return this.brokers().map((n) => `127.0.0.1:${n.port}`);
  }

  /** The properties file a node runs with (for assertions on what the harness passed). */
  public nodeProperties(id: number): string {
    return readFileSync(this.node(id).props, 'utf8');
  }

  /** A node's remote JMX port on 127.0.0.1; the cluster must have been started with `jmx`. */
  public jmxPort(id: number): number {
    const port = this.node(id).jmxPort;
    if (port === undefined) throw new Error('this cluster was started without the jmx option');
    return port;
  }

  /** Controller node ids, 1001.. */
  public get controllerIds(): number[] {
    return this.nodes.filter((n) => n.role === 'controller').map((n) => n.id);
  }

  /** Whether a node's JVM is running. */
  public isRunning(id: number): boolean {
    return this.node(id).proc !== undefined;
  }

  /** Controlled shutdown (SIGTERM): the broker leaves every ISR before it exits. */
  public async stopBroker(id: number): Promise<void> {
    await this.halt(this.node(id), 'SIGTERM');
  }

  /** kill -9: no controlled shutdown; the controller fences the broker when its session times out. */
  public async killBroker(id: number): Promise<void> {
    await this.halt(this.node(id), 'SIGKILL');
  }

  /** Starts a stopped broker again and resolves once it is registered and unfenced. */
  public async startBroker(id: number): Promise<void> {
    const node = this.node(id);
    if (node.proc) throw new Error(`broker ${id} is already running`);
    this.launch(node);
    await this.waitForBrokers([id]);
  }

  /** A kafkajs client on this cluster; its logs are off unless KAFKA_TEST_LOG is set. */
  public client(clientId = 'test'): Kafka {
    return new Kafka({
      clientId,
      brokers: this.bootstrap,
      logLevel: process.env.KAFKA_TEST_LOG ? logLevel.INFO : logLevel.NOTHING,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
      connectionTimeout: 3000,
    });
  }

  /** Stops every node (SIGTERM, then SIGKILL after 10 s) and removes the data folders unless KAFKA_TEST_KEEP is set. */
  public async stop(): Promise<void> {
    const brokers = this.brokers().filter((n) => n.proc);
    await Promise.all(brokers.map((n) => this.halt(n, 'SIGTERM')));
    await Promise.all(this.nodes.filter((n) => n.proc).map((n) => this.halt(n, 'SIGTERM')));
    if (!process.env.KAFKA_TEST_KEEP) rmSync(this.dir, { recursive: true, force: true });
  }

  /** The last lines of a node's log, for failure messages. */
  public logTail(id: number, lines = 40): string {
    try {
      return readFileSync(this.node(id).log, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  private brokers(): Node[] {
    return this.nodes.filter((n) => n.role === 'broker');
  }

  private node(id: number): Node {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id} in this cluster (brokers ${this.brokerIds.join(', ')})`);
    return n;
  }

  private async format(): Promise<void> {
    // Static quorum (controller.quorum.voters): format needs only the cluster id.
    await Promise.all(this.nodes.map((n) => new Promise<void>((resolve, reject) => {
      const p = spawn('java', [...this.jvmArgs('128m'), 'kafka.tools.StorageTool', 'format', '-t', this.clusterId, '-c', n.props], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout!.on('data', (d) => (out += d));
      p.stderr!.on('data', (d) => (out += d));
      p.on('error', reject);
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kafka-storage format of node ${n.id} exited ${code}:\n${out}`))));
    })));
  }

  private jvmArgs(heap: string): string[] {
    // Serial GC and C1 only: a quicker start and fewer threads on a 2-core machine.
    return [`-Xmx${heap}`, '-Xms64m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true',
      '-cp', path.join(this.jars, '*')];
  }

  private launch(node: Node): void {
    const fd = openSync(node.log, 'a');
    node.logStart = fstatSync(fd).size;
    // The guard: java runs in the background; a watcher kills it when our pipe (fd 3, dup of stdin) closes,
    // which happens when this process exits however it exits. `wait` hands java's exit status to us.
    // SIGTERM to the shell is passed on to java (controlled shutdown), and the shell waits for java to finish.
    const script = 'exec 3<&0; "$@" </dev/null & pid=$!; trap \'kill -TERM $pid\' TERM; (read _ <&3; kill -9 $pid 2>/dev/null) & '
      + 'wait $pid; s=$?; while kill -0 $pid 2>/dev/null; do wait $pid; s=$?; done; exit $s';
    const proc = spawn('sh', ['-c', script, 'kafka-node', 'java', ...this.jvmArgs(this.heap), ...jmxArgs(node.jmxPort), 'kafka.Kafka', node.props], {
      detached: true, // its own process group, so halt() reaches java and the watcher at once
      stdio: ['pipe', fd, fd],
    });
    closeSync(fd);
    node.proc = proc;
    node.exited = new Promise((resolve) => proc.on('exit', (code, signal) => {
      if (node.proc === proc) node.proc = undefined;
      killGroup(proc, 'SIGKILL'); // the watcher, if java exited by itself
      resolve(signal ? null : code);
    }));
    LIVE.add(proc);
    proc.on('exit', () => LIVE.delete(proc));
  }

  private async halt(node: Node, signal: NodeJS.Signals): Promise<void> {
    const proc = node.proc;
    if (!proc) return;
    if (signal === 'SIGKILL') killGroup(proc, 'SIGKILL');
    else proc.kill('SIGTERM'); // the shell, which passes it on to java and waits for it
    const timer = setTimeout(() => killGroup(proc, 'SIGKILL'), 10_000);
    await node.exited;
    clearTimeout(timer);
  }

  /**
   * Whether the node's running JVM logged that it finished starting. A broker logs it only after it
   * registered with the controller and the controller unfenced it (BrokerServer waits for that), so the
   * line means "live broker in the cluster's metadata". Checking this JVM's own line keeps a restart after
   * kill -9 from passing on metadata that still lists the previous, not yet fenced, incarnation.
   */
  private started(node: Node): boolean {
    try {
      return readFileSync(node.log).subarray(node.logStart ?? 0).includes('Kafka Server started');
    } catch {
      return false;
    }
  }

  /**
   * Polls until every broker in `ids` logged its start and, with `viaMetadata`, a client's describeCluster
   * lists it too. Restarts skip the client check: kafkajs refuses any metadata while a partition has no
   * leader (LEADER_NOT_AVAILABLE), which is exactly the state the failure tests restart brokers in.
   */
  private async waitForBrokers(ids: number[], viaMetadata = false): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    let admin: Admin | undefined;
    let seen: number[] = [];
    let lastError = '';
    try {
      for (;;) {
        for (const n of this.nodes) {
          if (!n.proc && (ids.includes(n.id) || n.role === 'controller')) {
            throw new Error(`kafka node ${n.id} exited during startup:\n${this.logTail(n.id)}`);
          }
        }
        const started = ids.every((id) => this.started(this.node(id)));
        if (started && !viaMetadata) break;
        if (started) {
          try {
            admin ??= this.client('harness').admin();
            await admin.connect();
            seen = (await admin.describeCluster()).brokers.map((b) => b.nodeId);
            if (ids.every((id) => seen.includes(id))) break;
          } catch (e) {
            lastError = String(e);
            await admin?.disconnect().catch(() => undefined);
            admin = undefined; // not answering yet: reconnect on the next round
          }
        }
        if (Date.now() > deadline) {
          throw new Error(`kafka brokers ${ids.join(', ')} not all registered after ${this.timeoutMs} ms (seen: ${seen.join(', ') || 'none'}; last error: ${lastError || 'none'}):\n`
            + ids.map((id) => `--- node ${id}\n${this.logTail(id, 15)}`).join('\n'));
        }
        await new Promise((r) => setTimeout(r, 200)); // poll interval; the condition above is what we wait for
      }
    } finally {
      await admin?.disconnect().catch(() => undefined);
    }
    if (!this.startupMs) this.startupMs = Date.now() - this.t0;
  }
}

/**
 * The JVM flags of remote JMX on 127.0.0.1:`port` (RMI registry and server on the one port), or none.
 * No authentication or TLS: the port is bound to loopback only, as every port of the test cluster.
 */
function jmxArgs(port: number | undefined): string[] {
  if (port === undefined) return [];
  return ['-Dcom.sun.management.jmxremote', `-Dcom.sun.management.jmxremote.port=${port}`, `-Dcom.sun.management.jmxremote.rmi.port=${port}`,
    '-Dcom.sun.management.jmxremote.host=127.0.0.1', '-Djava.rmi.server.hostname=127.0.0.1', '-Dcom.sun.management.jmxremote.local.only=true',
    '-Dcom.sun.management.jmxremote.authenticate=false', '-Dcom.sun.management.jmxremote.ssl=false'];
}

/** Every node group still running; killed synchronously if this process exits with any left. */
const LIVE = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of LIVE) killGroup(p, 'SIGKILL');
});

function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-proc.pid!, signal);
  } catch { /* already gone */ }
}

/** The broker's classpath folder, fetched by Maven on first use (scripts/kafka-env.mjs). */
export function kafkaJars(): string {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'kafka-env.mjs')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/kafka-env.mjs failed:\n${r.stderr}`);
  return r.stdout.trim();
}

/** A Kafka cluster id: 16 random bytes, base64url without padding, not starting with '-' (the CLI would read an option). */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** `count` distinct free ports on 127.0.0.1, held open together so none is handed out twice. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
