import { Duration, Names, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, type IConstruct } from 'constructs';
import { BundledFunction } from './bundled-function';
import { pollingProvider } from '../core/provider-framework';
import type { IRedshiftWarehouse } from '../core/redshift-refs';

/** The waiter's poll interval: an integration takes minutes to become active. */
const QUERY_INTERVAL = Duration.seconds(30);
/** The Provider framework's limit. */
const TOTAL_TIMEOUT = Duration.hours(2);

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
    const handler = (name: string, mode: string, timeout: Duration) => {
      const fn = new BundledFunction(this, name, {
        handler: 'redshift-sql',
        environment: { MODE: mode },
        encryptionKey: warehouse.encryptionKey,
        timeout,
        synchronousInvoker: 'The CDK Provider framework invokes this function synchronously and fails the custom resource on an error.',
      }).function;
      // Statements run as the admin user, whose managed secret the Data API reads with the caller's rights.
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['redshift-data:ExecuteStatement'], resources: [warehouse.workgroupArn] }));
      fn.addToRolePolicy(new iam.PolicyStatement({
        // These take no resource; the condition limits them to statements this role started.
        actions: ['redshift-data:DescribeStatement', 'redshift-data:CancelStatement'],
        resources: ['*'],
        conditions: { StringEquals: { 'redshift-data:statement-owner-iam-userid': '${aws:userid}' } },
      }));
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [warehouse.adminSecretArn] }));
      warehouse.adminSecretKey.grantDecrypt(fn);
      return fn;
    };
    // The whole statement list runs in one invocation, with the function's 15 minutes as its budget.
    this.onEvent = handler('OnEvent', 'onEvent', Duration.minutes(15));
    this.isComplete = handler('IsComplete', 'isComplete', Duration.minutes(15));
    this.provider = pollingProvider(this, 'Provider', {
      onEvent: this.onEvent, isComplete: this.isComplete, encryptionKey: warehouse.encryptionKey,
      queryInterval: QUERY_INTERVAL, totalTimeout: TOTAL_TIMEOUT,
    });
    this.serviceToken = this.provider.serviceToken;
  }

  /** Lets the waiter read the state of integration `integrationArn`. */
  public allowIntegration(integrationArn: string): void {
    if (this.integrations.has(integrationArn)) return;
    this.integrations.add(integrationArn);
    this.isComplete.addToRolePolicy(new iam.PolicyStatement({
      actions: ['rds:DescribeIntegrations', 'redshift:DescribeIntegrations'],
      resources: [integrationArn],
    }));
  }
}
