/**
 * One real Kafka cluster for a test file: started before its tests (3 brokers running the broker
 * properties our template ships, unless the options say otherwise) with a connected admin client,
 * and stopped after them. The startup time is reported as a `KAFKA {json}` line.
 */
import type { Admin } from 'kafkajs';
import { KafkaTestCluster, type KafkaTestClusterOptions } from './cluster';
import { templateServerProperties } from './template-properties';

export interface SharedKafkaCluster {
  readonly cluster: KafkaTestCluster;
  readonly admin: Admin;
}

/** Prints one `KAFKA {json}` figure line (stderr), as the README and the closing notes quote them. */
export function reportKafka(scenario: string, figures: Record<string, unknown>): void {
  process.stderr.write(`KAFKA ${JSON.stringify({ scenario, ...figures })}\n`);
}

/** Registers the file's beforeAll/afterAll; the returned object is filled in once beforeAll has run. */
export function useKafkaCluster(scenario: string, options: KafkaTestClusterOptions = {}): SharedKafkaCluster {
  const shared = {} as { cluster: KafkaTestCluster; admin: Admin };
  beforeAll(async () => {
    const brokers = options.brokers ?? 3;
    shared.cluster = await KafkaTestCluster.start({ serverProperties: templateServerProperties(), ...options, brokers });
    reportKafka(scenario, { brokers, controllers: options.controllers ?? 1, startupMs: shared.cluster.startupMs });
    shared.admin = shared.cluster.client('admin').admin();
    await shared.admin.connect();
  }, 120_000);
  afterAll(async () => {
    await shared.admin?.disconnect();
    await shared.cluster?.stop();
  }, 60_000);
  return shared;
}
