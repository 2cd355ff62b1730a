import { Annotations, Stack } from 'aws-cdk-lib';
import type * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { IConstruct } from 'constructs';

const CLOUDWATCH = 'cloudwatch.amazonaws.com';
export const ALARM_PUBLISH_SID = 'AllowCloudWatchAlarmsToPublish';
export const ALARM_KEY_SID = 'AllowCloudWatchAlarmsToUseKey';

/**
 * Limits a grant to CloudWatch to alarms of this account and region (the confused-deputy guard
 * of AWS Knowledge Center "cloudwatch-receive-sns-for-alarm-trigger"). Composite alarms have
 * `alarm:` ARNs too.
 */
function alarmConditions(scope: IConstruct): { [op: string]: { [key: string]: string } } {
  const stack = Stack.of(scope);
  return {
    StringEquals: { 'aws:SourceAccount': stack.account },
    ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*` },
  };
}

/** CloudWatch may publish this account's alarms to `topicArn`. */
export function alarmPublishStatement(scope: IConstruct, topicArn: string): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: ALARM_PUBLISH_SID,
    principals: [new iam.ServicePrincipal(CLOUDWATCH)],
    actions: ['sns:Publish'],
    resources: [topicArn],
    conditions: alarmConditions(scope),
  });
}

/** CloudWatch may use the key of an encrypted topic to publish this account's alarms to it. */
export function alarmKeyStatement(scope: IConstruct): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: ALARM_KEY_SID,
    principals: [new iam.ServicePrincipal(CLOUDWATCH)],
    actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
    resources: ['*'],
    conditions: alarmConditions(scope),
  });
}

/** Lets CloudWatch use `key` for alarm notifications; false when the key is imported (its policy is not ours). */
export function allowAlarmsToUseKey(scope: IConstruct, key: kms.IKey): boolean {
  return key.addToResourcePolicy(alarmKeyStatement(scope)).statementAdded;
}

/**
 * The topic of an `SnsAction`, found in the app by the ARN the action binds to (SnsAction keeps
 * its topic private). Undefined for any other action, or when no topic of the app has that ARN.
 */
export function topicOfAction(scope: IConstruct, action: cw.IAlarmAction, alarm: cw.IAlarm): sns.ITopic | undefined {
  // Only SnsAction: its bind is pure; other actions' bind may create resources (e.g. Lambda permissions).
  if (!(action instanceof cwActions.SnsAction)) return undefined;
  const arn = action.bind(scope, alarm).alarmActionArn;
  return scope.node.root.node.findAll().find((c): c is sns.TopicBase => c instanceof sns.TopicBase && c.topicArn === arn);
}

/**
 * Lets CloudWatch alarms publish to `topic`: an Allow on its policy and, for an encrypted topic, on
 * its key's policy. A topic policy replaces SNS's default policy, so a policy holding only a TLS
 * Deny leaves alarms unable to publish. The statements are added to the policy the topic already
 * has (never replacing it); for an imported topic or key, whose policy the app does not own, synth
 * warns with the statement its owner must add.
 */
export function letAlarmsPublish(scope: IConstruct, topic: sns.ITopic): void {
  const imported: string[] = [];
  if (!topic.addToResourcePolicy(alarmPublishStatement(scope, topic.topicArn)).statementAdded) imported.push(`topic ${topic.topicArn}`);
  if (topic.masterKey && !allowAlarmsToUseKey(scope, topic.masterKey)) imported.push(`key ${topic.masterKey.keyArn}`);
  if (imported.length > 0) warnImported(scope, imported.join(' and '));
}

/** Warns that an imported topic (or key) needs its owner to allow this account's alarms. */
export function warnImported(scope: IConstruct, what: string): void {
  const stack = Stack.of(scope);
  const arn = `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*`;
  Annotations.of(scope).addWarningV2('cdk-streaming-pipelines:ImportedAlarmTopic',
    `The alarm ${what} is imported, so this app cannot change its policy. Its owner must allow ${CLOUDWATCH} `
    + `sns:Publish on the topic (and kms:Decrypt, kms:GenerateDataKey* on its key) with conditions StringEquals aws:SourceAccount `
    + `= this account and ArnLike aws:SourceArn = ${stack.resolve(arn) === arn ? arn : 'arn:<partition>:cloudwatch:<region>:<account>:alarm:*'}; `
    + 'without it every alarm action fails (see the README, "Alarm topic policy").');
}
