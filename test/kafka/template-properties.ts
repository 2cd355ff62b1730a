/**
 * The broker properties our template ships, for the tests on the real Kafka cluster: a stack with a
 * default KafkaCluster is synthesized, and its `AWS::MSK::Configuration` ServerProperties (the
 * plain-text server.properties CloudFormation hands to MSK) are parsed into key/value pairs. The
 * brokers then run with exactly those, so what the failure tests prove is what we ship.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { KafkaCluster, type KafkaClusterProps } from '../../lib';
import { newApp } from '../support/nag';

/** Parses server.properties text: `key=value` lines; blank lines and `#` comments are skipped. */
export function parseServerProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`not a key=value line in ServerProperties: '${line}'`);
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/** The ServerProperties of the (single) `AWS::MSK::Configuration` a KafkaCluster with `props` synthesizes. */
export function templateServerProperties(props: Partial<KafkaClusterProps> = {}): Record<string, string> {
  const stack = new Stack(newApp(), 'KafkaTemplate');
  // An existing 3-AZ VPC: the configuration does not depend on it, and the template keeps to the cluster.
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-0123456789abcdef0', availabilityZones: ['us-east-1a', 'us-east-1b', 'us-east-1c'], privateSubnetIds: ['subnet-a', 'subnet-b', 'subnet-c'],
  });
  new KafkaCluster(stack, 'Kafka', { vpc, ...props });
  const configs = Object.values(Template.fromStack(stack).findResources('AWS::MSK::Configuration'));
  if (configs.length !== 1) throw new Error(`expected one AWS::MSK::Configuration, found ${configs.length}`);
  const text = (configs[0] as any).Properties.ServerProperties;
  if (typeof text !== 'string') throw new Error(`ServerProperties is not plain text: ${JSON.stringify(text)}`);
  return parseServerProperties(text);
}
