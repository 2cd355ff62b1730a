#!/usr/bin/env node
// The Apache Kafka jars the test cluster runs (test/kafka/cluster.ts), fetched by Maven.
//
//   node scripts/kafka-env.mjs            prints the folder holding the broker's classpath
//   import { ensureKafkaJars } from './kafka-env.mjs';  ensureKafkaJars() → that folder
//
// test/kafka/pom.xml pins every version. The jars are copied into test/kafka/target/kafka-libs
// (Maven's cache is ~/.m2) and the copy is stamped with the sha256 of the pom and the Java
// version, so changing a pin refetches on the next run and nothing placed by hand is relied on.
// Parallel callers (jest workers) take a lock folder so only one runs Maven.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withLock } from './dir-lock.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PROJECT = join(ROOT, 'test', 'kafka');
export const KAFKA_LIBS = join(PROJECT, 'target', 'kafka-libs');
const INSTALL_HELP = 'Install a JDK 17+ and Maven 3.6+: on Debian/Ubuntu `apt-get install -y openjdk-17-jdk-headless maven`, '
  + 'on macOS `brew install openjdk@17 maven`; or point $JAVA and $MVN at them.';

function tool(cmd, args, what) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`kafka-env: ${what} (${cmd}) is missing or broken. ${INSTALL_HELP}`);
  return `${r.stdout}${r.stderr}`;
}

/** `java -version` text; throws how to install a JDK when there is none. Kafka 4 brokers need Java 17+. */
export function javaVersion(java = process.env.JAVA || 'java') {
  const out = tool(java, ['-version'], 'Java');
  const m = /version "(\d+)/.exec(out);
  if (!m || Number(m[1]) < 17) throw new Error(`kafka-env: ${java} is not Java 17 or later (${out.split('\n')[0]}). ${INSTALL_HELP}`);
  return out.split('\n')[0].trim();
}

/** Makes KAFKA_LIBS hold exactly the classpath test/kafka/pom.xml pins, and returns it. */
export function ensureKafkaJars({ log = (m) => process.stderr.write(`${m}\n`) } = {}) {
  const java = javaVersion();
  const stamp = createHash('sha256').update(`${java}\n`).update(readFileSync(join(PROJECT, 'pom.xml'))).digest('hex');
  const stampFile = join(KAFKA_LIBS, '.pom.sha256');
  const fresh = () => existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === stamp;
  if (fresh()) return KAFKA_LIBS;
  return withLock(`${KAFKA_LIBS}.lock`, () => {
    if (fresh()) return KAFKA_LIBS; // another process fetched them while we waited
    const mvn = process.env.MVN || 'mvn';
    tool(mvn, ['-v'], 'Maven');
    const t0 = Date.now();
    log('kafka-env: fetching the Kafka broker jars with Maven (test/kafka/pom.xml)');
    rmSync(KAFKA_LIBS, { recursive: true, force: true }); // from scratch: no jar left from older pins
    const r = spawnSync(mvn, ['-B', '-q', '-f', join(PROJECT, 'pom.xml'), 'dependency:copy-dependencies'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) throw new Error(`kafka-env: mvn dependency:copy-dependencies failed:\n${r.error ?? ''}${r.stdout}${r.stderr}`);
    const jars = readdirSync(KAFKA_LIBS).filter((f) => f.endsWith('.jar'));
    writeFileSync(`${stampFile}.tmp`, `${stamp}\n`);
    renameSync(`${stampFile}.tmp`, stampFile);
    log(`kafka-env: ${jars.length} jars ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return KAFKA_LIBS;
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.stdout.write(`${ensureKafkaJars()}\n`);
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
}
