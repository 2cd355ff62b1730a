import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { applyAllPacks, formatFindings, synthFindings } from '../../bin/compliance';
import { collectTemplates, currentTestFile } from './lint-collect';

const outdirs: string[] = [];
afterAll(() => {
  const origin = currentTestFile();
  for (const dir of outdirs.splice(0)) {
    collectTemplates(dir, origin); // every synthesized template goes through cfn-lint after jest
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * A fresh app writing to its own temp folder (removed after the suite), so parallel suites
 * never share a cloud assembly. Every template it synthesizes is kept for `npm test`'s cfn-lint
 * step; test/no-bare-app.test.ts makes sure no test builds an App any other way.
 */
export function newApp(context?: { [key: string]: unknown }): App {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'csp-test-'));
  outdirs.push(outdir);
  // Tests never write the Kafka topics lock file (kafka-topics.lock.json) into the working directory; lock tests pass their own path.
  return new App({ outdir, context: { 'cdk-streaming-pipelines:kafkaTopicLock': false, ...context } });
}

/**
 * Applies the five cdk-nag packs, synthesizes, and fails listing every
 * unacknowledged finding (errors and warnings) by construct path and rule id.
 */
export function expectNagClean(build: (stack: Stack) => void): void {
  const app = newApp();
  applyAllPacks(app);
  build(new Stack(app, 'NagStack'));
  const findings = synthFindings(app);
  if (findings.length > 0) {
    throw new Error(`${findings.length} unacknowledged cdk-nag finding(s):\n${formatFindings(findings)}`);
  }
}
