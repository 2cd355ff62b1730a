/**
 * The topics custom resource's decisions, without I/O: from the topic the template asks for, what
 * it asked for before and what the cluster holds, the Kafka admin operations to run, or a refusal.
 *
 * - Kafka cannot decrease partitions or change a replication factor in place; a rename is a new
 *   topic. None of these is done silently: the request fails and CloudFormation rolls back.
 * - Configs are applied before a partition increase, because a partition increase cannot be
 *   undone: if it fails, the rollback can still restore the configs.
 * - Serverless accepts `cleanup.policy` only at creation (MSK developer guide, serverless-config).
 * - Nothing is deleted unless the resource's removal policy says `destroy`.
 */

/** The topic the template asks for (the custom resource's properties, decoded). */
export interface TopicSpec {
  readonly clusterArn: string;
  readonly topicName: string;
  readonly partitions: number;
  /** Undefined: the cluster's default (MSK Serverless fixes it). */
  readonly replicationFactor?: number;
  /** Topic-level configs this resource manages. */
  readonly configs: Readonly<Record<string, string>>;
  /** Whether a new name (or cluster) may replace the topic: the old one is kept unless `removalPolicy` is destroy. */
  readonly allowReplacement: boolean;
  readonly removalPolicy: 'retain' | 'destroy';
  readonly serverless: boolean;
}

/** What the cluster holds for a topic. */
export interface TopicState {
  readonly partitions: number;
  readonly replicationFactor: number;
  /** Its dynamic topic-level configs (those set on the topic, not inherited from the broker). */
  readonly configs: Readonly<Record<string, string>>;
}

/** What the core needs of a Kafka admin client (lambda/kafka-topics/admin.ts implements it with kafkajs). */
export interface TopicAdmin {
  /** The topic as the cluster holds it, or undefined if it does not exist. */
  describe(topicName: string): Promise<TopicState | undefined>;
  create(topicName: string, partitions: number, replicationFactor: number | undefined, configs: Record<string, string>): Promise<void>;
  increasePartitions(topicName: string, count: number): Promise<void>;
  /** Replaces the topic's dynamic configs with `configs` (Kafka AlterConfigs); `validateOnly` changes nothing. */
  setConfigs(topicName: string, configs: Record<string, string>, validateOnly: boolean): Promise<void>;
  delete(topicName: string): Promise<void>;
}

export type TopicOperation =
  | { readonly op: 'create'; readonly topicName: string; readonly partitions: number; readonly replicationFactor?: number; readonly configs: Record<string, string> }
  | { readonly op: 'setConfigs'; readonly topicName: string; readonly configs: Record<string, string>; readonly changed: string[] }
  | { readonly op: 'increasePartitions'; readonly topicName: string; readonly from: number; readonly to: number }
  | { readonly op: 'delete'; readonly topicName: string };

/** A change the resource will not make: the request fails with this message and nothing is changed. */
export class RefusedChange extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RefusedChange';
  }
}

/** The topic's ARN (the resource's physical id): its cluster's ARN with `:topic/` and the name. */
export function topicArnOf(clusterArn: string, topicName: string): string {
  if (!/:cluster\/[^/]+\/[^/]+$/.test(clusterArn)) throw new Error(`not an MSK cluster ARN: '${clusterArn}'`);
  return `${clusterArn.replace(':cluster/', ':topic/')}/${topicName}`;
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** Decodes CloudFormation's resource properties (every scalar arrives as a string). */
export function specFromProperties(props: Record<string, unknown>): TopicSpec {
  const str = (k: string): string => {
    const v = props[k];
    if (typeof v !== 'string' || v === '') throw new Error(`property ${k} is required`);
    return v;
  };
  const int = (k: string): number | undefined => {
    if (props[k] === undefined || props[k] === '') return undefined;
    const n = Number(props[k]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`property ${k} must be a positive integer, got '${String(props[k])}'`);
    return n;
  };
  const topicName = str('TopicName');
  if (!TOPIC_NAME.test(topicName) || topicName === '.' || topicName === '..') throw new Error(`TopicName '${topicName}' is not a valid Kafka topic name`);
  const configs = (props.Configs ?? {}) as Record<string, unknown>;
  if (typeof configs !== 'object' || Array.isArray(configs)) throw new Error('property Configs must be a map of strings');
  const removal = props.RemovalPolicy ?? 'retain';
  if (removal !== 'retain' && removal !== 'destroy') throw new Error(`property RemovalPolicy must be retain or destroy, got '${String(removal)}'`);
  return {
    clusterArn: str('ClusterArn'),
    topicName,
    partitions: int('Partitions') ?? (() => { throw new Error('property Partitions is required'); })(),
    replicationFactor: int('ReplicationFactor'),
    configs: Object.fromEntries(Object.entries(configs).map(([k, v]) => [k, String(v)])),
    allowReplacement: String(props.AllowReplacement ?? 'false') === 'true',
    removalPolicy: removal,
    serverless: String(props.Serverless ?? 'false') === 'true',
  };
}

const cleanupPolicy = (configs: Readonly<Record<string, string>>): string => configs['cleanup.policy'] ?? 'delete';

/** Refuses what Kafka cannot do in place, or what would lose data, before anything runs. */
function refusals(desired: TopicSpec, previous: TopicSpec | undefined, current: TopicState | undefined): void {
  const t = `topic '${desired.topicName}'`;
  if (previous && !desired.allowReplacement && (previous.topicName !== desired.topicName || previous.clusterArn !== desired.clusterArn)) {
    throw new RefusedChange(`${t}: renaming topic '${previous.topicName}' to '${desired.topicName}' (or moving it to another cluster) creates a new, empty topic; `
      + 'its consumers would start from nothing. Set allowReplacement to make this change (the old topic is kept unless the removal policy is destroy).');
  }
  if (!current) return;
  if (desired.partitions < current.partitions) {
    throw new RefusedChange(`${t}: cannot decrease partitions from ${current.partitions} to ${desired.partitions}: Kafka can only add partitions.`);
  }
  if (desired.replicationFactor !== undefined && desired.replicationFactor !== current.replicationFactor) {
    throw new RefusedChange(`${t}: cannot change the replication factor from ${current.replicationFactor} to ${desired.replicationFactor} in place `
      + '(that is a partition reassignment, not a topic setting). Create a topic with a new name instead.');
  }
  if (desired.serverless && cleanupPolicy(desired.configs) !== cleanupPolicy(current.configs)) {
    throw new RefusedChange(`${t}: MSK Serverless sets cleanup.policy only at topic creation; it is '${cleanupPolicy(current.configs)}', `
      + `the template asks for '${cleanupPolicy(desired.configs)}'. Create a topic with a new name instead.`);
  }
}

/**
 * The configs to set on an existing topic: its current dynamic configs, less those this resource
 * managed before and no longer asks for (they return to the broker default), plus the desired ones.
 * Configs set by someone else are kept, since Kafka's AlterConfigs replaces the whole set.
 */
function targetConfigs(desired: TopicSpec, previous: TopicSpec | undefined, current: TopicState): Record<string, string> {
  const target: Record<string, string> = {};
  for (const [k, v] of Object.entries(current.configs)) {
    if (previous && k in previous.configs && !(k in desired.configs)) continue;
    target[k] = v;
  }
  return { ...target, ...desired.configs };
}

/**
 * The operations that bring the cluster to `desired`, for a Create or an Update (`previous` =
 * the properties before the update). Throws {@link RefusedChange} for a destructive change.
 */
export function planUpsert(desired: TopicSpec, previous: TopicSpec | undefined, current: TopicState | undefined): TopicOperation[] {
  refusals(desired, previous, current);
  const topicName = desired.topicName;
  if (!current) {
    return [{ op: 'create', topicName, partitions: desired.partitions, replicationFactor: desired.replicationFactor, configs: { ...desired.configs } }];
  }
  const ops: TopicOperation[] = [];
  // After a rename, the previous properties describe another topic: they say nothing of this one's configs.
  const same = previous && previous.topicName === desired.topicName && previous.clusterArn === desired.clusterArn;
  const configs = targetConfigs(desired, same ? previous : undefined, current);
  const keys = new Set([...Object.keys(configs), ...Object.keys(current.configs)]);
  const changed = [...keys].filter((k) => configs[k] !== current.configs[k]).sort();
  if (changed.length > 0) ops.push({ op: 'setConfigs', topicName, configs, changed });
  if (desired.partitions > current.partitions) ops.push({ op: 'increasePartitions', topicName, from: current.partitions, to: desired.partitions });
  return ops;
}

/** The operations for a Delete: none unless the removal policy is destroy and the topic exists. */
export function planDelete(spec: TopicSpec, current: TopicState | undefined): TopicOperation[] {
  return spec.removalPolicy === 'destroy' && current ? [{ op: 'delete', topicName: spec.topicName }] : [];
}

/** Runs the operations in order; config changes are validated by the cluster before any operation runs. */
export async function applyOperations(admin: TopicAdmin, ops: TopicOperation[]): Promise<void> {
  for (const o of ops) {
    if (o.op === 'setConfigs') await admin.setConfigs(o.topicName, o.configs, true);
  }
  for (const o of ops) {
    switch (o.op) {
      case 'create': await admin.create(o.topicName, o.partitions, o.replicationFactor, o.configs); break;
      case 'setConfigs': await admin.setConfigs(o.topicName, o.configs, false); break;
      case 'increasePartitions': await admin.increasePartitions(o.topicName, o.to); break;
      case 'delete': await admin.delete(o.topicName); break;
    }
  }
}

/** A CloudFormation custom-resource request, as far as the core reads it. */
export interface TopicRequest {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly RequestId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: Record<string, unknown>;
  readonly OldResourceProperties?: Record<string, unknown>;
}

/** The outcome reported to CloudFormation. */
export interface TopicOutcome {
  readonly physicalResourceId: string;
  readonly operations: TopicOperation[];
  readonly data: { TopicArn: string; TopicName: string };
}

/** Physical id of a Create that failed: a later Delete of it (the rollback) must touch no topic. */
export function failedCreateId(requestId: string): string {
  return `kafka-topic-not-created-${requestId}`;
}

/** Plans and applies one request. Throws (RefusedChange or the admin's error) to fail it. */
export async function handleTopicRequest(admin: TopicAdmin, request: TopicRequest): Promise<TopicOutcome> {
  const spec = specFromProperties(request.ResourceProperties);
  const arn = topicArnOf(spec.clusterArn, spec.topicName);
  const data = { TopicArn: arn, TopicName: spec.topicName };
  if (request.RequestType === 'Delete') {
    // A Delete for another id (a failed Create, a renamed topic's old id from an older version) touches nothing.
    if (request.PhysicalResourceId !== arn) return { physicalResourceId: request.PhysicalResourceId ?? arn, operations: [], data };
    const ops = planDelete(spec, spec.removalPolicy === 'destroy' ? await admin.describe(spec.topicName) : undefined);
    await applyOperations(admin, ops);
    return { physicalResourceId: arn, operations: ops, data };
  }
  const previous = request.RequestType === 'Update' && request.OldResourceProperties ? specFromProperties(request.OldResourceProperties) : undefined;
  const ops = planUpsert(spec, previous, await admin.describe(spec.topicName));
  await applyOperations(admin, ops);
  return { physicalResourceId: arn, operations: ops, data };
}
