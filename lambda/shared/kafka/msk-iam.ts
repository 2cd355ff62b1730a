/**
 * A kafkajs client for an MSK cluster with IAM access control, as the bundled handlers run it
 * (the topics custom resource, the replay worker's topic sink).
 *
 * - Brokers come from `kafka:GetBootstrapBrokers` (the SASL/IAM string, port 9098), so the
 *   template needs only the cluster ARN, which is all CloudFormation knows of a Serverless cluster.
 * - SASL/OAUTHBEARER with a token signed by aws-msk-iam-sasl-signer-js from the function's role;
 *   the role needs `kafka-cluster:Connect` plus the data-plane actions of what it does.
 * - TLS is mandatory with IAM.
 */
import { GetBootstrapBrokersCommand, KafkaClient } from '@aws-sdk/client-kafka';
import { generateAuthToken } from 'aws-msk-iam-sasl-signer-js';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';

/** The region of a `arn:<partition>:kafka:<region>:<account>:cluster/<name>/<uuid>` ARN. */
export function regionOfClusterArn(clusterArn: string): string {
  const parts = clusterArn.split(':');
  if (parts.length < 6 || parts[2] !== 'kafka' || !parts[3]) throw new Error(`not an MSK cluster ARN: '${clusterArn}'`);
  return parts[3];
}

/** The cluster's SASL/IAM bootstrap brokers (`host:9098,...`). */
export async function iamBootstrapBrokers(clusterArn: string, client = new KafkaClient({ region: regionOfClusterArn(clusterArn) })): Promise<string[]> {
  const out = await client.send(new GetBootstrapBrokersCommand({ ClusterArn: clusterArn }));
  const brokers = out.BootstrapBrokerStringSaslIam ?? out.BootstrapBrokerStringPublicSaslIam;
  if (!brokers) throw new Error(`cluster ${clusterArn} has no SASL/IAM bootstrap brokers: IAM access control must be on`);
  return brokers.split(',').map((b) => b.trim()).filter(Boolean);
}

/** kafkajs settings for IAM auth over TLS (exported for tests: no network). */
export function iamKafkaConfig(clientId: string, brokers: string[], region: string): KafkaConfig {
  return {
    clientId,
    brokers,
    ssl: true,
    sasl: {
      mechanism: 'oauthbearer',
      oauthBearerProvider: async () => ({ value: (await generateAuthToken({ region })).token }),
    },
    logLevel: logLevel.WARN,
  };
}

/** A kafkajs client for `clusterArn`, authenticated as the function's role. */
export async function mskKafka(clusterArn: string, clientId: string): Promise<Kafka> {
  const region = regionOfClusterArn(clusterArn);
  return new Kafka(iamKafkaConfig(clientId, await iamBootstrapBrokers(clusterArn), region));
}
