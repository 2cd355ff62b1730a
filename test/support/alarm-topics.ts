import type { Template } from 'aws-cdk-lib/assertions';
import { joinToString } from './template';

const ALARM_TYPES = ['AWS::CloudWatch::Alarm', 'AWS::CloudWatch::CompositeAlarm'];
const ACTION_PROPS = ['AlarmActions', 'OKActions', 'InsufficientDataActions'];
const CLOUDWATCH = 'cloudwatch.amazonaws.com';

const asArray = (v: unknown): any[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Logical ids of the SNS topics of `template` that some alarm or composite alarm notifies. */
export function alarmTopicIds(template: Template): string[] {
  const resources = template.toJSON().Resources ?? {};
  const ids = new Set<string>();
  for (const r of Object.values<any>(resources)) {
    if (!ALARM_TYPES.includes(r.Type)) continue;
    for (const prop of ACTION_PROPS) {
      for (const action of asArray(r.Properties?.[prop])) {
        const ref = action?.Ref;
        if (ref && resources[ref]?.Type === 'AWS::SNS::TopicPolicy') continue;
        if (ref && resources[ref]?.Type === 'AWS::SNS::Topic') ids.add(ref);
      }
    }
  }
  return [...ids].sort();
}

/**
 * The condition block of a statement, if it limits a CloudWatch grant to this account's alarms:
 * `StringEquals aws:SourceAccount` and `ArnLike aws:SourceArn` of `…:cloudwatch:…:alarm:…`.
 */
function alarmConditions(statement: any): { account: string; arn: string } | undefined {
  const account = statement.Condition?.StringEquals?.['aws:SourceAccount'];
  const arn = statement.Condition?.ArnLike?.['aws:SourceArn'];
  if (account === undefined || arn === undefined) return undefined;
  const arnText = joinToString(arn);
  if (!/:cloudwatch:/.test(arnText) || !/:alarm:/.test(arnText)) return undefined;
  return { account: JSON.stringify(account), arn: arnText };
}

/** The Allow statements for the CloudWatch service principal that grant every one of `actions`. */
function cloudWatchAllows(statements: any[], actions: string[]): any[] {
  return statements.filter((s) => s.Effect === 'Allow'
    && asArray(s.Principal?.Service).includes(CLOUDWATCH)
    && actions.every((a) => asArray(s.Action).includes(a)));
}

/** The logical id of the key a topic's `KmsMasterKeyId` points at, when it is a key of the template. */
function keyIdOf(topic: any): string | undefined {
  const k = topic.Properties?.KmsMasterKeyId;
  return k?.['Fn::GetAtt']?.[0] ?? k?.Ref;
}

/**
 * Fails unless every SNS topic of `template` that an alarm or composite alarm notifies (through its
 * AlarmActions, OKActions or InsufficientDataActions) lets CloudWatch publish: its AWS::SNS::TopicPolicy
 * has an Allow for `cloudwatch.amazonaws.com` on `sns:Publish` with `aws:SourceAccount` and an
 * `aws:SourceArn` of this account's alarms, and, for an encrypted topic, its KMS key's policy lets
 * CloudWatch use the key (`kms:Decrypt`, `kms:GenerateDataKey*`) under the same conditions.
 * (A topic policy replaces SNS's default policy, so without the Allow every alarm action fails.)
 * Returns the topics checked; fails when there are none, so it never passes vacuously.
 */
export function expectAlarmTopicsAllowCloudWatch(template: Template): string[] {
  const resources = template.toJSON().Resources ?? {};
  const topics = alarmTopicIds(template);
  if (topics.length === 0) throw new Error('no alarm of this template notifies an SNS topic of this template');
  const problems: string[] = [];
  for (const id of topics) {
    const statements = Object.values<any>(resources)
      .filter((r) => r.Type === 'AWS::SNS::TopicPolicy' && asArray(r.Properties.Topics).some((t: any) => t?.Ref === id))
      .flatMap((r) => asArray(r.Properties.PolicyDocument?.Statement));
    const publish = cloudWatchAllows(statements, ['sns:Publish'])
      .filter((s) => asArray(s.Resource).some((r: any) => r?.Ref === id));
    const conditions = publish.map(alarmConditions).find((c) => c !== undefined);
    if (!conditions) {
      problems.push(`topic ${id}: its TopicPolicy has no Allow for ${CLOUDWATCH} on sns:Publish with aws:SourceAccount and an aws:SourceArn of the account's alarms`);
      continue;
    }
    if (resources[id].Properties?.KmsMasterKeyId === undefined) continue;
    const keyId = keyIdOf(resources[id]);
    const key = keyId ? resources[keyId] : undefined;
    if (key?.Type !== 'AWS::KMS::Key') {
      problems.push(`topic ${id}: encrypted with ${JSON.stringify(resources[id].Properties.KmsMasterKeyId)}, not a key of this template whose policy can allow CloudWatch`);
      continue;
    }
    const keyAllows = cloudWatchAllows(asArray(key.Properties.KeyPolicy?.Statement), ['kms:Decrypt', 'kms:GenerateDataKey*'])
      .map(alarmConditions)
      .filter((c) => c !== undefined && c.account === conditions.account && c.arn === conditions.arn);
    if (keyAllows.length === 0) {
      problems.push(`topic ${id}: key ${keyId} has no Allow for ${CLOUDWATCH} on kms:Decrypt and kms:GenerateDataKey* with the topic's aws:SourceAccount and aws:SourceArn conditions`);
    }
  }
  if (problems.length > 0) throw new Error(`alarms cannot notify:\n${problems.join('\n')}`);
  return topics;
}
