import { CfnResource, Duration, Names, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, type IConstruct } from 'constructs';
import { BundledFunction } from './bundled-function';
import { acknowledge, INLINE_GRANT_POLICY, inCompliancePacks } from '../core/acknowledge';
import { pollingProvider } from '../core/provider-framework';
import type { IRedshiftWarehouse } from '../core/redshift-refs';

/** The waiter's poll interval: an integration takes minutes to become active. */
const QUERY_INTERVAL = Duration.seconds(30);
/**
 * CloudFormation fails a custom resource that has not answered within its ServiceTimeout, at most
 * one hour (AWS::CloudFormation::CustomResource), whatever the Provider framework would wait.
 */
const TOTAL_TIMEOUT = Duration.hours(1);
/**
 * The handlers' timeout, the statements' time budget: under the Provider framework functions' 15
 * minutes, so the runner's own failure (with the statement's reason) reaches CloudFormation first.
 */
export const RUNNER_TIMEOUT = Duration.minutes(14);
/** The longest integration wait that still leaves a whole statement run inside CloudFormation's hour. */
export const MAX_INTEGRATION_WAIT = Duration.minutes(40);

/** Why the statement policy holds `Resource: *`, for its AwsSolutions-IAM5 acknowledgement. */
const WILDCARD_REASON = 'Redshift Data API DescribeStatement and CancelStatement support no resource-level permissions '
  + '(Service Authorization Reference, Amazon Redshift Data API); the redshift-data:statement-owner-iam-userid condition '
  + 'limits them to statements the calling role started.';

/**
 * The SQL runner behind {@link RedshiftSql}: the bundled `redshift-sql` handler as a CDK Provider
 * framework (onEvent runs the statements through the Redshift Data API; isComplete waits for an
 * integration first when a resource asks). One per warehouse and stack: use {@link of}.
 */
export class RedshiftSqlProvider extends Construct {
  /** The stack's provider for `warehouse`, created on first use. */
  public static of(scope: IConstruct, warehouse: IRedshiftWarehouse): RedshiftSqlProvider {
    const stack = Stack.of(scope);
    const id = `RedshiftSql${Names.nodeUniqueId(warehouse.node).slice(-8)}`;
    return (stack.node.tryFindChild(id) as RedshiftSqlProvider | undefined) ?? new RedshiftSqlProvider(stack, id, warehouse);
  }

  /** The custom resources' service token. */
  public readonly serviceToken: string;
  /** The Provider framework. */
  public readonly provider: cr.Provider;
  /** The function running the statements. */
  public readonly onEvent: lambda.IFunction;
  /** The function the waiter polls. */
  public readonly isComplete: lambda.IFunction;
  private readonly integrations = new Set<string>();

  private constructor(scope: Construct, id: string, warehouse: IRedshiftWarehouse) {
    super(scope, id);
    const handler = (name: string, mode: string) => {
      const fn = new BundledFunction(this, name, {
        handler: 'redshift-sql',
        environment: { MODE: mode },
        encryptionKey: warehouse.encryptionKey,
        timeout: RUNNER_TIMEOUT,
        synchronousInvoker: 'The CDK Provider framework invokes this function synchronously and fails the custom resource on an error.',
      }).function;
      // With SecretArn the Data API signs in as the secret's user (the admin), reading the secret with the
      // caller's rights: GetSecretValue and the key's Decrypt, and no redshift-serverless:GetCredentials
      // (that is for temporary credentials only). ExecuteStatement's resource is the workgroup.
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['redshift-data:ExecuteStatement'], resources: [warehouse.workgroupArn] }));
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [warehouse.adminSecretArn] }));
      warehouse.adminSecretKey.grantDecrypt(fn);
      return fn;
    };
    // The whole statement list runs in one invocation, with the function's timeout as its budget.
    this.onEvent = handler('OnEvent', 'onEvent');
    this.isComplete = handler('IsComplete', 'isComplete');
    // Their own policy, so its one wildcard is acknowledged exactly there (not on the roles, whose
    // Resource:* acknowledgement is X-Ray's); the functions wait for it like for their default policies.
    const statements = new iam.Policy(this, 'OwnStatements', {
      roles: [this.onEvent.role!, this.isComplete.role!],
      statements: [new iam.PolicyStatement({
        actions: ['redshift-data:DescribeStatement', 'redshift-data:CancelStatement'],
        resources: ['*'],
        conditions: { StringEquals: { 'redshift-data:statement-owner-iam-userid': '${aws:userid}' } },
      })],
    });
    this.onEvent.node.addDependency(statements);
    this.isComplete.node.addDependency(statements);
    acknowledge(statements, { 'AwsSolutions-IAM5[Resource::*]': WILDCARD_REASON, ...inCompliancePacks('IAMNoInlinePolicy', INLINE_GRANT_POLICY) });
    this.provider = pollingProvider(this, 'Provider', {
      onEvent: this.onEvent, isComplete: this.isComplete, encryptionKey: warehouse.encryptionKey,
      queryInterval: QUERY_INTERVAL, totalTimeout: TOTAL_TIMEOUT,
    });
    this.serviceToken = this.provider.serviceToken;
  }

  /**
   * Lets the waiter read the state of integration `integrationArn`: `rds:DescribeIntegrations` for an
   * `AWS::RDS::Integration`, `redshift:DescribeIntegrations` for an `AWS::Redshift::Integration` (both
   * take the integration as resource). An ARN whose service cannot be seen at synth gets both.
   */
  public allowIntegration(integrationArn: string): void {
    const key = JSON.stringify(Stack.of(this).resolve(integrationArn));
    if (this.integrations.has(key)) return;
    this.integrations.add(key);
    this.isComplete.addToRolePolicy(new iam.PolicyStatement({
      actions: integrationServices(this, integrationArn).map((service) => `${service}:DescribeIntegrations`),
      resources: [integrationArn],
    }));
  }
}

/** The service(s) of an integration ARN: from a literal or joined ARN, or from the resource a GetAtt reads. */
function integrationServices(scope: IConstruct, arn: string): string[] {
  const literal = /^arn:[^:]+:(rds|redshift):/.exec(arn);
  if (literal) return [literal[1]];
  const stack = Stack.of(scope);
  const getAtt = (stack.resolve(arn) as { 'Fn::GetAtt'?: [string, string] })?.['Fn::GetAtt'];
  const source = getAtt && stack.node.findAll().find((c) => c instanceof CfnResource && stack.resolve(c.logicalId) === getAtt[0]) as CfnResource | undefined;
  if (source?.cfnResourceType === 'AWS::RDS::Integration') return ['rds'];
  if (source?.cfnResourceType === 'AWS::Redshift::Integration') return ['redshift'];
  return ['rds', 'redshift'];
}
