/**
 * Shared builders of the KafkaCluster tests: a 3-AZ VPC (an env-agnostic stack gets only 2 AZs
 * from CDK, so the VPC names its zones) and the cluster on it.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { KafkaCluster, KafkaClusterProps } from '../lib';
import { newApp } from './support/nag';

/**
 * An existing VPC with public and private subnets in `zones` availability zones (imported, so the
 * tests see only the cluster's own resources and findings).
 */
export function threeAzVpc(stack: Stack, zones = 3): ec2.IVpc {
  const azs = ['us-east-1a', 'us-east-1b', 'us-east-1c'].slice(0, zones);
  return ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-0123456789abcdef0',
    availabilityZones: azs,
    privateSubnetIds: azs.map((_, i) => `subnet-private${i + 1}`),
    publicSubnetIds: azs.map((_, i) => `subnet-public${i + 1}`),
  });
}

/** A cluster with `props` on a 3-AZ VPC in a fresh stack. */
export function clusterStack(props: Partial<KafkaClusterProps> = {}, zones = 3): { stack: Stack; cluster: KafkaCluster } {
  const stack = new Stack(newApp(), 'K');
  const cluster = new KafkaCluster(stack, 'Kafka', { vpc: threeAzVpc(stack, zones), ...props });
  return { stack, cluster };
}

/** The template of {@link clusterStack}. */
export function clusterTemplate(props: Partial<KafkaClusterProps> = {}): Template {
  return Template.fromStack(clusterStack(props).stack);
}

/** Parses `key=value` lines of a server.properties text. */
export function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const eq = t.indexOf('=');
    out[t.slice(0, eq)] = t.slice(eq + 1);
  }
  return out;
}
