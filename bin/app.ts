#!/usr/bin/env node
import { App, Stack } from 'aws-cdk-lib';
import { applyAllPacks, formatFindings, synthFindings } from './compliance';
import { addDefaultLake, addFullLake, addLakeOnExistingResources } from './examples';

// Env-agnostic stacks: nothing here needs an AWS account or region.
const app = new App();
applyAllPacks(app);
addDefaultLake(new Stack(app, 'StreamingLakeDefaults'));
addFullLake(new Stack(app, 'StreamingLakeFull'));
addLakeOnExistingResources(new Stack(app, 'StreamingLakeOnExistingResources'));

// Errors make synth throw; warnings don't, so every remaining finding fails the synth here.
const findings = synthFindings(app);
if (findings.length > 0) {
  process.stderr.write(`cdk-nag: ${findings.length} unacknowledged finding(s):\n${formatFindings(findings)}\n`);
  process.exit(1);
}
