import { Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { ConsumerOrdering, IngestStream, PipelineMonitor, ReplayArchive, StreamConsumer, StreamingLake } from '../lib';
import { addCustomerTotals, addDefaultLake, addFailureQueue, addFullLake, addLakeOnExistingResources, addStandaloneArchive, exampleSchema } from '../bin/examples';
import { expectAlarmTopicsAllowCloudWatch } from './support/alarm-topics';
import { newApp } from './support/nag';
import { synth, userFunction } from './support/template';

/** A user's own encrypted, TLS-only alarm topic (its policy holds the TLS Deny). */
function userTopic(stack: Stack, id = 'Pager'): sns.Topic {
  return new sns.Topic(stack, id, { enforceSSL: true, masterKey: new kms.Key(stack, `${id}Key`, { enableKeyRotation: true }) });
}

describe('the example app\'s alarm topics let CloudWatch publish', () => {
  test.each([
    ['defaults', (s: Stack) => addCustomerTotals(s, addDefaultLake(s))],
    ['full', (s: Stack) => addCustomerTotals(s, addFullLake(s), { ordering: ConsumerOrdering.PER_KEY, enhancedFanOut: true })],
    ['existing resources', (s: Stack) => {
      const lake = addLakeOnExistingResources(s);
      addCustomerTotals(s, lake, { failureQueue: addFailureQueue(s, lake.encryptionKey) });
      addStandaloneArchive(s, lake);
    }],
  ])('%s', (_name, build) => {
    expect(expectAlarmTopicsAllowCloudWatch(synth(build))).toHaveLength(1);
  });
});

describe('every configuration\'s alarm topic lets CloudWatch publish', () => {
  test('StreamingLake on defaults (created topic) and with a user topic', () => {
    expectAlarmTopicsAllowCloudWatch(synth((s) => addDefaultLake(s)));
    expectAlarmTopicsAllowCloudWatch(synth((s) => addFullLake(s)));
  });

  test('ReplayArchive with its own monitor, created topic and user topic', () => {
    for (const withTopic of [false, true]) {
      expectAlarmTopicsAllowCloudWatch(synth((s) => {
        const key = new kms.Key(s, 'Key', { enableKeyRotation: true });
        const stream = new IngestStream(s, 'Source', { encryptionKey: key }).stream;
        new ReplayArchive(s, 'Archive', { stream, encryptionKey: key, alarmAction: withTopic ? new cwActions.SnsAction(userTopic(s)) : undefined });
      }));
    }
  });

  test('StreamConsumer watched by a PipelineMonitor, created topic and user topic', () => {
    for (const withTopic of [false, true]) {
      expectAlarmTopicsAllowCloudWatch(synth((s) => {
        const key = new kms.Key(s, 'Key', { enableKeyRotation: true });
        const stream = new kinesis.Stream(s, 'Stream', { encryptionKey: key, encryption: kinesis.StreamEncryption.KMS });
        const fn = userFunction(s, 'Fn', 'exports.handler=async()=>({})', 'index.handler');
        const consumer = new StreamConsumer(s, 'Consumer', { function: fn, stream, encryptionKey: key });
        const monitor = new PipelineMonitor(s, 'Monitor', { encryptionKey: key, alarmAction: withTopic ? new cwActions.SnsAction(userTopic(s)) : undefined });
        monitor.addConsumer('Processor', {
          function: fn, maxRecordAge: consumer.maxRecordAge, failureBucket: consumer.failureBucket,
          eventSourceMappingId: consumer.eventSource.eventSourceMappingId,

        });
      }));
    }
  });
});

describe('the helper', () => {
  test('fails on a TLS-only alarm topic without the CloudWatch Allow (what every monitor shipped before)', () => {
    const t = synth((s) => {
      const topic = userTopic(s);
      new cw.Alarm(s, 'A', { metric: new cw.Metric({ namespace: 'N', metricName: 'M' }), threshold: 1, evaluationPeriods: 1 }).addAlarmAction(new cwActions.SnsAction(topic));
    });
    expect(() => expectAlarmTopicsAllowCloudWatch(t)).toThrow(/topic Pager[0-9A-F]{8}: its TopicPolicy has no Allow for cloudwatch.amazonaws.com on sns:Publish/);
  });

  test('fails when the topic allows CloudWatch but its key does not, under the same conditions', () => {
    const t = synth((s) => {
      const topic = userTopic(s);
      topic.addToResourcePolicy(new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')], actions: ['sns:Publish'], resources: [topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': s.account }, ArnLike: { 'aws:SourceArn': `arn:${s.partition}:cloudwatch:${s.region}:${s.account}:alarm:*` } },
      }));
      // Unconditioned: any account's alarm could use the key through CloudWatch.
      topic.masterKey!.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
      new cw.Alarm(s, 'A', { metric: new cw.Metric({ namespace: 'N', metricName: 'M' }), threshold: 1, evaluationPeriods: 1 }).addAlarmAction(new cwActions.SnsAction(topic));
    });
    expect(() => expectAlarmTopicsAllowCloudWatch(t)).toThrow(/key PagerKey[0-9A-F]{8} has no Allow for cloudwatch.amazonaws.com/);
  });
});

describe('a topic the user passes in', () => {
  test('created in the same app: the Allow is added to its own policy, which keeps the user\'s statements', () => {
    const t = synth((s) => {
      const topic = userTopic(s);
      topic.addToResourcePolicy(new iam.PolicyStatement({ sid: 'UsersOwn', principals: [new iam.AccountRootPrincipal()], actions: ['sns:Subscribe'], resources: [topic.topicArn] }));
      addLakeNotifying(s, topic);
    });
    const policies = Object.values(t.findResources('AWS::SNS::TopicPolicy')) as any[];
    expect(policies).toHaveLength(1);
    const sids = policies[0].Properties.PolicyDocument.Statement.map((st: any) => st.Sid ?? st.Effect);
    expect(sids).toEqual(expect.arrayContaining(['AllowPublishThroughSSLOnly', 'UsersOwn', 'AllowCloudWatchAlarmsToPublish']));
    expectAlarmTopicsAllowCloudWatch(t);
  });

  test('imported: nothing is added to a policy the app does not own, and synth warns with the statement to add', () => {
    const stack = new Stack(newApp(), 'S');
    const topic = sns.Topic.fromTopicArn(stack, 'Pager', 'arn:aws:sns:eu-west-1:111122223333:pager');
    addLakeNotifying(stack, topic);
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::SNS::TopicPolicy', 0);
    Annotations.fromStack(stack).hasWarning('/S/Lake/Monitor', Match.stringLikeRegexp('imported.*cloudwatch.amazonaws.com.*sns:Publish.*aws:SourceAccount.*aws:SourceArn'));
  });
});

/** A lake on defaults whose alarms notify `topic`. */
function addLakeNotifying(stack: Stack, topic: sns.ITopic): StreamingLake {
  return new StreamingLake(stack, 'Lake', { schema: exampleSchema, eventTime: { field: 'event_time' }, alarmAction: new cwActions.SnsAction(topic) });
}

test('two monitors notifying one topic add one Allow to its policy and one to its key\'s', () => {
  const t = synth((s) => {
    const topic = userTopic(s);
    const lake = addLakeNotifying(s, topic);
    new PipelineMonitor(s, 'Second', { alarmAction: new cwActions.SnsAction(topic) })
      .addReplay('R', { stateMachine: lake.archive!.stateMachine, metricsNamespace: 'N', dimension: 'D' });
  });
  const policy = Object.values(t.findResources('AWS::SNS::TopicPolicy'))[0] as any;
  expect(policy.Properties.PolicyDocument.Statement.filter((st: any) => st.Sid === 'AllowCloudWatchAlarmsToPublish')).toHaveLength(1);
  const key = Object.entries(t.findResources('AWS::KMS::Key')).find(([id]) => id.startsWith('PagerKey'))![1] as any;
  expect(key.Properties.KeyPolicy.Statement.filter((st: any) => st.Sid === 'AllowCloudWatchAlarmsToUseKey')).toHaveLength(1);
  expect(Object.keys(t.findResources('AWS::CloudWatch::Alarm')).filter((id) => id.startsWith('SecondRExecutionsFailed'))).toHaveLength(1);
});
