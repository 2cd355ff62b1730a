import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as kms from 'aws-cdk-lib/aws-kms';
import { StreamingLake } from '../lib';
import { KafkaClusterType } from '../lib/core/kafka-refs';
import { KafkaMultiVpcConnectivity } from '../lib/core/kafka-multi-vpc';
import { StubKafkaCluster } from './support/kafka-cluster-stub';
import { stubTopic } from './support/msk-lake';
import { expectNagClean, newApp } from './support/nag';
import { only } from './support/template';

function build(stack: Stack): { cluster: StubKafkaCluster; first: KafkaMultiVpcConnectivity; second: KafkaMultiVpcConnectivity } {
  const cluster = stubTopic(stack, { id: 'Cluster' }).cluster as StubKafkaCluster;
  const encryptionKey = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const first = KafkaMultiVpcConnectivity.of(stack, 'topic', { cluster, encryptionKey });
  const second = KafkaMultiVpcConnectivity.of(stack, 'topic', { cluster, encryptionKey });
  return { cluster, first, second };
}

describe('KafkaMultiVpcConnectivity', () => {
  const stack = new Stack(newApp(), 'TestStack');
  const { cluster, first, second } = build(stack);
  const template = Template.fromStack(stack);

  test('is one custom resource per cluster, under the cluster construct', () => {
    expect(second).toBe(first);
    expect(first.node.scope).toBe(cluster);
    const cr = only(template, 'Custom::KafkaMultiVpcIamConnectivity');
    expect(cr.Properties.ClusterArn).toEqual(stack.resolve(cluster.clusterArn));
  });

  test('polls through the Provider framework every minute for up to two hours', () => {
    const sm = only(template, 'AWS::StepFunctions::StateMachine');
    const definition = JSON.stringify(sm.Properties.DefinitionString);
    expect(definition).toContain('\\"IntervalSeconds\\":60');
    expect(definition).toContain('\\"MaxAttempts\\":120');
  });

  test('its handlers may describe the cluster and update its connectivity, on the cluster ARN only', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).map((p: any) => p.Properties.PolicyDocument.Statement).flat();
    const kafka = policies.filter((s: any) => JSON.stringify(s.Action).includes('kafka:UpdateConnectivity'));
    expect(kafka).toHaveLength(2); // onEvent and isComplete
    for (const s of kafka) {
      expect(s.Action).toEqual(['kafka:DescribeClusterV2', 'kafka:UpdateConnectivity']);
      expect(s.Resource).toEqual(stack.resolve(cluster.clusterArn));
    }
    const fns = Object.values(template.findResources('AWS::Lambda::Function')).filter((f: any) => f.Properties.Environment?.Variables?.MODE);
    expect(fns.map((f: any) => f.Properties.Environment.Variables.MODE).sort()).toEqual(['isComplete', 'onEvent']);
  });

  test('adds one cluster-policy statement letting the Firehose service create its VPC connection', () => {
    expect(cluster.policyStatements.map((s) => stack.resolve(s.toStatementJson()))).toEqual([{
      Effect: 'Allow',
      Principal: { Service: 'firehose.amazonaws.com' },
      Action: 'kafka:CreateVpcConnection',
      Resource: stack.resolve(cluster.clusterArn),
    }]);
  });

  test('is nag-clean under the five packs', () => {
    expectNagClean((s) => { build(s); });
  });
});

describe('KafkaMultiVpcConnectivity.validate', () => {
  const clusterOf = (setup: (c: StubKafkaCluster) => void, type?: KafkaClusterType): [Stack, StubKafkaCluster] => {
    const stack = new Stack(newApp(), 'S');
    const c = new StubKafkaCluster(stack, 'C', { clusterType: type });
    setup(c);
    return [stack, c];
  };
  const set = (c: StubKafkaCluster, key: 'brokerInstanceType' | 'kafkaVersion', value: string): void => {
    (c as unknown as Record<string, string>)[key] = value;
  };

  test('refuses a Serverless cluster, naming the prop', () => {
    const [stack, c] = clusterOf(() => undefined, KafkaClusterType.SERVERLESS);
    expect(() => KafkaMultiVpcConnectivity.validate(stack, 'topic', c)).toThrow(/`topic` is on an MSK Serverless cluster/);
  });

  test('refuses t3 brokers', () => {
    const [stack, c] = clusterOf((x) => set(x, 'brokerInstanceType', 'kafka.t3.small'));
    expect(() => KafkaMultiVpcConnectivity.validate(stack, 'topic', c)).toThrow(/kafka.t3.small brokers: multi-VPC private connectivity, .* does not support t3/);
  });

  test('refuses Kafka older than 2.7.1', () => {
    const [stack, c] = clusterOf((x) => set(x, 'kafkaVersion', '2.6.2'));
    expect(() => KafkaMultiVpcConnectivity.validate(stack, 'topic', c)).toThrow(/Kafka 2.6.2: .*2.7.1 or later/);
  });

  test.each(['3.9.x.kraft', '2.7.1', '4.1.x.kraft', '2.8.x'])('accepts Kafka %s, Express and m7g brokers', (version) => {
    const [stack, c] = clusterOf((x) => set(x, 'kafkaVersion', version), KafkaClusterType.EXPRESS);
    expect(() => KafkaMultiVpcConnectivity.validate(stack, 'topic', c)).not.toThrow();
  });
});

describe('KafkaMultiVpcConnectivity across stacks', () => {
  test('a lake in another stack than its cluster synthesizes without a reference cycle', () => {
    const app = newApp();
    const clusterStack = new Stack(app, 'ClusterStack');
    const lakeStack = new Stack(app, 'LakeStack');
    const topic = stubTopic(clusterStack);
    new StreamingLake(lakeStack, 'Lake', { schema: [{ name: 'ts', type: glue.Schema.STRING }], eventTime: { field: 'ts' }, topic });
    expect(() => app.synth()).not.toThrow();
    expect(lakeStack.dependencies).toContain(clusterStack);
    // The custom resource's functions use a key of the cluster's stack.
    Template.fromStack(clusterStack).resourceCountIs('AWS::KMS::Key', 1);
  });
});
