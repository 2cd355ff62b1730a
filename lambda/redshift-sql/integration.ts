/**
 * The state of a zero-ETL integration (`AWS::RDS::Integration`, read with `rds:DescribeIntegrations`)
 * or an S3 event integration (`AWS::Redshift::Integration`, read with `redshift:DescribeIntegrations`),
 * for statements that need it active first (`CREATE DATABASE … FROM INTEGRATION`). Pure: the
 * describe call comes in as {@link IntegrationApi}.
 *
 * Both APIs report the same statuses: creating, active, modifying, failed, deleting, syncing,
 * needs_attention (the SDKs' IntegrationStatus / ZeroETLIntegrationStatus enums).
 */

/** The parts of an `Integration` the runner reads (same field names in both APIs). */
export interface IntegrationView {
  readonly Status?: string;
  readonly Errors?: readonly { readonly ErrorCode?: string; readonly ErrorMessage?: string }[];
}

/** What the waiter needs: the integration by ARN, undefined when the API does not know it. */
export interface IntegrationApi {
  describeIntegration(arn: string, service: 'rds' | 'redshift'): Promise<IntegrationView | undefined>;
}

/** An integration that will not become active by waiting: fails the resource with the reason. */
export class IntegrationError extends Error {}

/** Statuses that may still turn active: keep waiting. */
const TRANSIENT = new Set(['creating', 'modifying', 'syncing']);

/** Which API describes the integration: the service in its ARN. */
export function integrationServiceOf(arn: string): 'rds' | 'redshift' {
  const service = arn.split(':')[2];
  if (service === 'rds' || service === 'redshift') return service;
  throw new IntegrationError(`redshift-sql: ${arn} is not an RDS or Redshift integration ARN`);
}

/** `{ ready: true }` when active, `{ ready: false, status }` while it may still become active; throws otherwise. */
export async function integrationState(api: IntegrationApi, arn: string): Promise<{ ready: true } | { ready: false; status: string }> {
  const view = await api.describeIntegration(arn, integrationServiceOf(arn));
  if (view === undefined) throw new IntegrationError(`redshift-sql: integration ${arn} was not found`);
  const status = view.Status ?? 'unknown';
  if (status === 'active') return { ready: true };
  if (TRANSIENT.has(status)) return { ready: false, status };
  const errors = (view.Errors ?? []).map((e) => `${e.ErrorCode ?? 'error'}: ${e.ErrorMessage ?? '(no message)'}`).join('; ');
  throw new IntegrationError(`redshift-sql: integration ${arn} is ${status}${errors ? ` (${errors})` : ''}; the statements that need it were not run`);
}
