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

/** Parses `key=value` lines of a server.properties text (the Kafka tests' parser). */
export { parseServerProperties as parseProperties } from './kafka/template-properties';

/**
 * Evaluates a CloudFormation value built from Fn::Join / Fn::Select / Fn::Split, pseudo
 * parameters and the cluster's `GetAtt Arn`, as CloudFormation would with `clusterArn` as the
 * deployed cluster's ARN: so a test can compare the ARN an IAM statement names with the exact one.
 */
export function evaluate(value: any, clusterArn: string, env = { 'AWS::Partition': 'aws', 'AWS::Region': 'us-east-1', 'AWS::AccountId': '123456789012' }): any {
  if (typeof value === 'string' || typeof value === 'number') return value;
  if (Array.isArray(value)) return value.map((v) => evaluate(v, clusterArn, env));
  if (value.Ref !== undefined) {
    if (value.Ref in env) return (env as Record<string, string>)[value.Ref];
    throw new Error(`cannot evaluate Ref ${value.Ref}`);
  }
  if (value['Fn::GetAtt']) {
    if (value['Fn::GetAtt'][1] === 'Arn') return clusterArn;
    throw new Error(`cannot evaluate GetAtt ${value['Fn::GetAtt'].join('.')}`);
  }
  if (value['Fn::Join']) return (evaluate(value['Fn::Join'][1], clusterArn, env) as string[]).join(value['Fn::Join'][0]);
  if (value['Fn::Split']) return (evaluate(value['Fn::Split'][1], clusterArn, env) as string).split(value['Fn::Split'][0]);
  if (value['Fn::Select']) return (evaluate(value['Fn::Select'][1], clusterArn, env) as string[])[Number(value['Fn::Select'][0])];
  throw new Error(`cannot evaluate ${JSON.stringify(value)}`);
}

/** Every Allow statement of the template's IAM policies, with its actions and resources as lists. */
export function allowStatements(template: Template): { actions: string[]; resources: any[] }[] {
  const out: { actions: string[]; resources: any[] }[] = [];
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    for (const st of (policy as any).Properties.PolicyDocument.Statement) {
      if (st.Effect !== 'Allow') continue;
      out.push({ actions: [st.Action].flat(), resources: [st.Resource].flat() });
    }
  }
  return out;
}
