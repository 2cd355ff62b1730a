import { CfnResource, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { acknowledge, INLINE_GRANT_POLICY, inCompliancePacks } from './acknowledge';
import { ignoreCfnLint, ROLE_DEPENDS_ON } from './cfn-lint';

/** How often a usage limit's RPU-hours start again (the API's `period`). */
export class UsageLimitPeriod {
  /** The limit applies per day. */
  public static readonly DAILY = new UsageLimitPeriod('daily');
  /** The limit applies per week (a week begins on Sunday). */
  public static readonly WEEKLY = new UsageLimitPeriod('weekly');
  /** The limit applies per month. */
  public static readonly MONTHLY = new UsageLimitPeriod('monthly');
  private constructor(
    /** The API value. */
    public readonly value: string,
  ) {}
}

/** What Redshift Serverless does when a usage limit is reached (the API's `breachAction`). */
export class UsageLimitBreachAction {
  /** Write a row to `SYS_QUERY_HISTORY` (`usage_limit` column); queries go on. */
  public static readonly LOG = new UsageLimitBreachAction('log');
  /** Publish the breach as a metric (and, from the console, to an SNS topic); queries go on. */
  public static readonly EMIT_METRIC = new UsageLimitBreachAction('emit-metric');
  /** Turn user queries off until the period ends: loading stops too. */
  public static readonly DEACTIVATE = new UsageLimitBreachAction('deactivate');
  private constructor(
    /** The API value. */
    public readonly value: string,
  ) {}
}

/** A cap on the RPU-hours the workgroup may use per period (`CreateUsageLimit`, usage type `serverless-compute`). */
export interface WarehouseUsageLimit {
  /** RPU-hours per period: a whole number of at least 1. */
  readonly rpuHours: number;
  /** The period the RPU-hours apply to. @default UsageLimitPeriod.MONTHLY (the API's default) */
  readonly period?: UsageLimitPeriod;
  /** What happens when the limit is reached. @default UsageLimitBreachAction.EMIT_METRIC */
  readonly breachAction?: UsageLimitBreachAction;
}

/** The finding ids every AwsCustomResource singleton function draws, acknowledged once per stack. */
const SINGLETON_ID = 'AWS679f53fac002430cb0da5b7982bd2287';

/**
 * Acknowledges the findings on aws-cdk-lib's AwsCustomResource function (one per stack, shared by
 * every AwsCustomResource in it) and its role: aws-cdk-lib owns both, and they only relay one SDK call.
 */
function acknowledgeSingleton(scope: Construct): void {
  const singleton = Stack.of(scope).node.tryFindChild(SINGLETON_ID);
  if (!singleton) return;
  const fn = singleton.node.defaultChild;
  const why = 'Function of aws-cdk-lib\'s AwsCustomResource (one per stack), deployed and versioned with aws-cdk-lib; it makes one Redshift Serverless API call per CloudFormation event and answers CloudFormation.';
  if (fn instanceof CfnResource) {
    ignoreCfnLint(fn, 'W3005', ROLE_DEPENDS_ON);
    acknowledge(fn, {
      'AwsSolutions-L1': `${why} aws-cdk-lib picks its runtime.`,
      'Serverless-LambdaDefaultMemorySize': `${why} aws-cdk-lib sizes it; it makes one small API call at a time.`,
      'Serverless-LambdaDLQ': `${why} CloudFormation waits for its answer; a failure fails the stack operation.`,
      'Serverless-LambdaTracing': `${why} A trace would show one SDK call.`,
      ...inCompliancePacks('LambdaInsideVPC', `${why} It calls only the Redshift Serverless API and CloudFormation's response URL.`),
      ...inCompliancePacks('LambdaDLQ', `${why} CloudFormation waits for its answer; a failure fails the stack operation.`, ['HIPAA.Security', 'NIST.800.53.R5']),
      ...inCompliancePacks('LambdaConcurrency', `${why} It runs once per stack operation.`, ['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321']),
    });
  }
  const role = singleton.node.tryFindChild('ServiceRole');
  if (role) {
    acknowledge(role, {
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]': `${why} aws-cdk-lib attaches this policy to it for its logs.`,
    });
  }
}

/**
 * Reads the ARN of the namespace's managed admin secret. CloudFormation does not return it
 * (`AWS::RedshiftServerless::Namespace` has no such attribute: cloudformation-coverage-roadmap
 * #2021 and #2148, aws-cdk #29930), so one `GetNamespace` call on create and update reads it.
 */
export function adminSecretArnOf(scope: Construct, namespaceName: string, namespaceArn: string): string {
  const call: cr.AwsSdkCall = {
    service: 'redshift-serverless', action: 'GetNamespace', parameters: { namespaceName },
    physicalResourceId: cr.PhysicalResourceId.of(namespaceName),
    outputPaths: ['namespace.adminPasswordSecretArn'],
    logging: cr.Logging.withDataHidden(),
  };
  const reader = new cr.AwsCustomResource(scope, 'AdminSecretArn', {
    onCreate: call, onUpdate: call, installLatestAwsSdk: false, resourceType: 'Custom::RedshiftServerlessAdminSecretArn',
    policy: cr.AwsCustomResourcePolicy.fromStatements([
      new iam.PolicyStatement({ actions: ['redshift-serverless:GetNamespace'], resources: [namespaceArn] }),
    ]),
  });
  acknowledgePolicy(reader);
  acknowledgeSingleton(scope);
  return reader.getResponseField('namespace.adminPasswordSecretArn');
}

/**
 * The workgroup's usage limit. CloudFormation has no resource for Redshift Serverless usage limits
 * (`AWS::Redshift::UsageLimit` takes a provisioned `ClusterIdentifier`), so an AwsCustomResource calls
 * `CreateUsageLimit`, `UpdateUsageLimit` (amount and breach action) and `DeleteUsageLimit`. The usage
 * type and period cannot be updated: a change of period gets a new construct id, so CloudFormation
 * creates the new limit and then deletes the old one. Returns the usage limit id.
 */
export function usageLimitOf(scope: Construct, workgroupArn: string, limit: WarehouseUsageLimit): string {
  const period = (limit.period ?? UsageLimitPeriod.MONTHLY).value;
  const breachAction = (limit.breachAction ?? UsageLimitBreachAction.EMIT_METRIC).value;
  const id = { usageLimitId: new cr.PhysicalResourceIdReference() };
  const usage = new cr.AwsCustomResource(scope, `UsageLimit${period[0].toUpperCase()}${period.slice(1)}`, {
    installLatestAwsSdk: false, resourceType: 'Custom::RedshiftServerlessUsageLimit',
    onCreate: {
      service: 'redshift-serverless', action: 'CreateUsageLimit',
      parameters: { resourceArn: workgroupArn, usageType: 'serverless-compute', amount: limit.rpuHours, period, breachAction },
      physicalResourceId: cr.PhysicalResourceId.fromResponse('usageLimit.usageLimitId'),
      outputPaths: ['usageLimit.usageLimitId'],
    },
    onUpdate: {
      service: 'redshift-serverless', action: 'UpdateUsageLimit',
      parameters: { ...id, amount: limit.rpuHours, breachAction },
      physicalResourceId: cr.PhysicalResourceId.fromResponse('usageLimit.usageLimitId'),
      outputPaths: ['usageLimit.usageLimitId'],
    },
    onDelete: { service: 'redshift-serverless', action: 'DeleteUsageLimit', parameters: id },
    policy: cr.AwsCustomResourcePolicy.fromStatements([new iam.PolicyStatement({
      actions: ['redshift-serverless:CreateUsageLimit', 'redshift-serverless:UpdateUsageLimit', 'redshift-serverless:DeleteUsageLimit'],
      // The Service Authorization Reference lists no resource type for these three actions: only "*" is accepted.
      resources: ['*'],
    })]),
  });
  acknowledgePolicy(usage, {
    'AwsSolutions-IAM5[Resource::*]': 'redshift-serverless:CreateUsageLimit, UpdateUsageLimit and DeleteUsageLimit support no resource-level permissions '
      + '(Service Authorization Reference, Amazon Redshift Serverless: no resource type listed), so the statement must name "*". The role '
      + 'belongs to the AwsCustomResource function and carries only these three usage-limit actions.',
  });
  acknowledgeSingleton(scope);
  return usage.getResponseField('usageLimit.usageLimitId');
}

/** Acknowledges the inline-policy findings on an AwsCustomResource's own policy, plus `extra`. */
function acknowledgePolicy(resource: cr.AwsCustomResource, extra: { [id: string]: string } = {}): void {
  const policy = resource.node.tryFindChild('CustomResourcePolicy');
  if (policy) acknowledge(policy, { ...inCompliancePacks('IAMNoInlinePolicy', INLINE_GRANT_POLICY), ...extra });
}
