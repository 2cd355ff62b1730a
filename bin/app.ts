#!/usr/bin/env node
import { App, Stack } from 'aws-cdk-lib';
import { applyAllPacks, formatFindings, synthFindings } from './compliance';
import { ConsumerOrdering } from '../lib';
import {
  addCustomerTotals, addDefaultFraudPipeline, addDefaultLake, addFailureQueue, addFraudPipelineOnExistingStream, addFullFraudPipeline, addFullLake,
  addLakeOnExistingResources, addStandaloneArchive,
} from './examples';
import { addKafkaPipeline } from './examples-kafka';
import { addWarehousePipeline } from './examples-warehouse';

// Env-agnostic stacks: nothing here needs an AWS account or region (the Kafka stack's VPC names
// three us-east-1 AZs: MSK's no-loss profile needs three, and an env-agnostic VPC would get two).
const app = new App();
applyAllPacks(app);
const defaults = new Stack(app, 'StreamingLakeDefaults');
addCustomerTotals(defaults, addDefaultLake(defaults));
addDefaultFraudPipeline(defaults);
const full = new Stack(app, 'StreamingLakeFull');
addCustomerTotals(full, addFullLake(full), { ordering: ConsumerOrdering.PER_KEY, enhancedFanOut: true });
addFullFraudPipeline(full);
const existing = new Stack(app, 'StreamingLakeOnExistingResources');
const existingLake = addLakeOnExistingResources(existing);
const archive = addStandaloneArchive(existing, existingLake);
addCustomerTotals(existing, existingLake, { failureQueue: addFailureQueue(existing, existingLake.encryptionKey), replayStream: archive.replayStream });
addFraudPipelineOnExistingStream(existing, existingLake);
const kafka = new Stack(app, 'KafkaPipeline');
addKafkaPipeline(kafka);
const warehouse = new Stack(app, 'Warehouse');
addWarehousePipeline(warehouse);

// Errors make synth throw; warnings don't, so every remaining finding fails the synth here.
const findings = synthFindings(app);
if (findings.length > 0) {
  process.stderr.write(`cdk-nag: ${findings.length} unacknowledged finding(s):\n${formatFindings(findings)}\n`);
  process.exit(1);
}
