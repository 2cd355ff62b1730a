/**
 * Reads MBeans of the test cluster's nodes over remote JMX (KafkaTestCluster `jmx` option) with
 * JmxRead.java, a JDK-only reader compiled here with javac on first use into
 * test/kafka/target/jmx/<sha256 of the source>/ (git-ignored). One JVM per read, for every node at once.
 */
import { execFile, spawnSync } from 'child_process';
import { createHash } from 'crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'fs';
import * as path from 'path';

const SOURCE = path.join(__dirname, 'JmxRead.java');
const TARGET = path.resolve(__dirname, '..', 'target', 'jmx');

/** One MBean of one node: its JMX port and object name. */
export interface MBeanRead {
  readonly port: number;
  readonly name: string;
}

/** The folder holding JmxRead.class, compiled now if its source changed. */
export function jmxReaderClasses(): string {
  const source = readFileSync(SOURCE);
  const dir = path.join(TARGET, createHash('sha256').update(source).digest('hex').slice(0, 16));
  if (existsSync(path.join(dir, 'JmxRead.class'))) return dir;
  mkdirSync(TARGET, { recursive: true });
  const tmp = mkdtempSync(path.join(TARGET, 'build-'));
  const javac = process.env.JAVAC || 'javac';
  const r = spawnSync(javac, ['-d', tmp, SOURCE], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`${javac} JmxRead.java failed (a JDK 17+ is needed): ${r.error ?? ''}${r.stdout}${r.stderr}`);
  try {
    renameSync(tmp, dir); // atomic: a concurrent compile of the same source loses the race harmlessly
  } catch {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

/** The `Value` of each MBean (null where the node has no such MBean), read in one JVM. */
export function readMBeans(reads: MBeanRead[]): Promise<(number | string | null)[]> {
  const classes = jmxReaderClasses();
  const args = ['-Xmx32m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', classes, 'JmxRead', ...reads.map((r) => `${r.port}=${r.name}`)];
  return new Promise((resolve, reject) => {
    execFile(process.env.JAVA || 'java', args, { encoding: 'utf8', timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`JmxRead failed: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout));
    });
  });
}
