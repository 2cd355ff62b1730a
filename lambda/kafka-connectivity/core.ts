/**
 * Turns on multi-VPC private connectivity for IAM on an MSK Provisioned cluster, which MSK refuses
 * at cluster creation (cloudformation-coverage-roadmap #1775) and applies in up to an hour. Pure: the
 * MSK API comes in as {@link MskConnectivityApi}; the Lambda adapter (index.ts) wires the SDK.
 *
 * One {@link step} reads the cluster and does the next thing: nothing while the cluster is busy, one
 * `UpdateConnectivity` with its CurrentVersion when it is ACTIVE without IAM multi-VPC, done when it
 * is ACTIVE with it. Steps repeat (the Provider framework's isComplete polling) until done, so the
 * custom resource is idempotent: an enabled cluster is left alone.
 */

/** The parts of `DescribeClusterV2`'s `ClusterInfo` we read (same field names as the API). */
export interface ClusterInfoView {
  readonly ClusterType?: string;
  readonly State?: string;
  readonly CurrentVersion?: string;
  readonly StateInfo?: { readonly Code?: string; readonly Message?: string };
  readonly Provisioned?: {
    readonly BrokerNodeGroupInfo?: {
      readonly InstanceType?: string;
      readonly ConnectivityInfo?: { readonly VpcConnectivity?: VpcConnectivityView };
    };
    readonly ClientAuthentication?: { readonly Sasl?: { readonly Iam?: { readonly Enabled?: boolean } } };
  };
}

/** `ConnectivityInfo.VpcConnectivity`, kept whole so other schemes (SCRAM, TLS) are not switched off. */
export interface VpcConnectivityView {
  readonly ClientAuthentication?: {
    readonly Sasl?: { readonly Iam?: { readonly Enabled?: boolean }; readonly Scram?: { readonly Enabled?: boolean } };
    readonly Tls?: { readonly Enabled?: boolean };
  };
}

/** What the core needs of MSK. */
export interface MskConnectivityApi {
  describeClusterV2(clusterArn: string): Promise<ClusterInfoView>;
  updateConnectivity(request: { ClusterArn: string; CurrentVersion: string; ConnectivityInfo: { VpcConnectivity: VpcConnectivityView } }): Promise<void>;
}

/** The outcome of one step. */
export type StepResult =
  | { readonly done: true; readonly currentVersion: string }
  | { readonly done: false; readonly waitingFor: string };

/** A cluster that can never get IAM multi-VPC connectivity: the resource fails at once instead of polling for hours. */
export class ConnectivityError extends Error {}

/** MSK errors that mean "not now" (another operation, a stale CurrentVersion, throttling): the next step retries. */
export function isRetryable(error: unknown): boolean {
  const e = error as { name?: string; message?: string };
  if (['ConflictException', 'TooManyRequestsException', 'ThrottlingException', 'ServiceUnavailableException', 'InternalServerErrorException'].includes(e?.name ?? '')) return true;
  return e?.name === 'BadRequestException' && /current version|cluster version|in progress|ongoing|another operation|UPDATING|not (in )?ACTIVE/i.test(e.message ?? '');
}

export const iamVpcEnabled = (info: ClusterInfoView): boolean =>
  info.Provisioned?.BrokerNodeGroupInfo?.ConnectivityInfo?.VpcConnectivity?.ClientAuthentication?.Sasl?.Iam?.Enabled === true;

/** The cluster's VPC connectivity with IAM on and every other scheme as it was. */
export function withIamEnabled(current: VpcConnectivityView | undefined): VpcConnectivityView {
  const auth = current?.ClientAuthentication ?? {};
  return { ClientAuthentication: { ...auth, Sasl: { ...auth.Sasl, Iam: { Enabled: true } } } };
}

/** Why the cluster can never have IAM multi-VPC connectivity, or undefined. */
function refusal(info: ClusterInfoView): string | undefined {
  if (info.ClusterType !== undefined && info.ClusterType !== 'PROVISIONED') {
    return `is an MSK ${info.ClusterType} cluster; UpdateConnectivity (multi-VPC private connectivity) applies to MSK Provisioned clusters`;
  }
  if (info.State === 'FAILED' || info.State === 'DELETING') return `is ${info.State}${info.StateInfo?.Message ? ` (${info.StateInfo.Message})` : ''}`;
  const type = info.Provisioned?.BrokerNodeGroupInfo?.InstanceType;
  if (type?.startsWith('kafka.t3.')) return `runs ${type} brokers; multi-VPC private connectivity does not support t3 brokers`;
  if (info.Provisioned?.ClientAuthentication?.Sasl?.Iam?.Enabled !== true) return 'does not have IAM client authentication; multi-VPC connectivity for IAM needs it';
  return undefined;
}

/** One step towards an ACTIVE cluster with IAM multi-VPC connectivity. */
export async function step(api: MskConnectivityApi, clusterArn: string): Promise<StepResult> {
  const info = await api.describeClusterV2(clusterArn);
  const refused = refusal(info);
  if (refused) throw new ConnectivityError(`kafka-connectivity: cluster ${clusterArn} ${refused}`);
  const state = info.State ?? 'UNKNOWN';
  if (iamVpcEnabled(info)) {
    return state === 'ACTIVE' && info.CurrentVersion ? { done: true, currentVersion: info.CurrentVersion } : { done: false, waitingFor: `cluster ${state} with IAM multi-VPC connectivity on` };
  }
  // MSK runs one operation at a time: a creating or updating cluster is waited for, not failed.
  if (state !== 'ACTIVE' || !info.CurrentVersion) return { done: false, waitingFor: `cluster ${state} before UpdateConnectivity` };
  try {
    await api.updateConnectivity({
      ClusterArn: clusterArn,
      CurrentVersion: info.CurrentVersion,
      ConnectivityInfo: { VpcConnectivity: withIamEnabled(info.Provisioned?.BrokerNodeGroupInfo?.ConnectivityInfo?.VpcConnectivity) },
    });
  } catch (e) {
    if (isRetryable(e)) return { done: false, waitingFor: `UpdateConnectivity retry after ${(e as Error).name}: ${(e as Error).message}` };
    throw new ConnectivityError(`kafka-connectivity: UpdateConnectivity on ${clusterArn} failed: ${(e as Error).name}: ${(e as Error).message}`);
  }
  return { done: false, waitingFor: 'UpdateConnectivity requested (MSK takes up to an hour)' };
}

/** The custom resource event fields we read (Provider framework: onEvent and isComplete get the same shape). */
export interface ConnectivityEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: { readonly ClusterArn?: unknown };
}

const physicalId = (clusterArn: string): string => `${clusterArn}/multi-vpc-iam`;

function clusterArnOf(event: ConnectivityEvent): string {
  const arn = event.ResourceProperties.ClusterArn;
  if (typeof arn !== 'string' || !/^arn:[a-z-]+:kafka:[a-z0-9-]+:\d{12}:cluster\/[^/]+\/[^/]+$/.test(arn)) {
    throw new ConnectivityError(`kafka-connectivity: ClusterArn must be an MSK cluster ARN; got ${JSON.stringify(arn)}`);
  }
  return arn;
}

/**
 * onEvent: Create/Update take the first step (a refusal fails the resource at once); Delete leaves
 * connectivity alone, since other VPC connections (other stacks' Firehose streams) may use it and MSK
 * refuses to turn it off while they exist.
 */
export async function onEvent(api: MskConnectivityApi, event: ConnectivityEvent): Promise<{ PhysicalResourceId: string }> {
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId ?? 'none' };
  const arn = clusterArnOf(event);
  await step(api, arn);
  return { PhysicalResourceId: physicalId(arn) };
}

/** isComplete: steps until the cluster is ACTIVE with IAM multi-VPC connectivity; Delete is complete at once. */
export async function isComplete(api: MskConnectivityApi, event: ConnectivityEvent): Promise<{ IsComplete: boolean; Data?: { CurrentVersion: string } }> {
  if (event.RequestType === 'Delete') return { IsComplete: true };
  const result = await step(api, clusterArnOf(event));
  if (!result.done) {
    console.log(JSON.stringify({ level: 'INFO', message: 'kafka-connectivity waiting', waitingFor: result.waitingFor }));
    return { IsComplete: false };
  }
  return { IsComplete: true, Data: { CurrentVersion: result.currentVersion } };
}
