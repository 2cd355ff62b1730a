import { CfnResource, Duration, Names, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { acknowledge, INLINE_GRANT_POLICY, inCompliancePacks, wildcardFindings, wildcardResourceFindings } from './acknowledge';
import { ignoreCfnLint, ROLE_DEPENDS_ON } from './cfn-lint';
import { propError, userPropName } from './errors';
import type { IKafkaCluster, IKafkaTopic } from './kafka-refs';
import { SecureBucket } from './secure-bucket';
import { BundledFunction } from '../handlers/bundled-function';

/** How replayed records are marked as replays. */
export enum ReplayTagging {
  /**
   * Each record goes out as a one-record KPL aggregate whose record carries the tag
   * `replay_id=<id>`; partition key and payload bytes are unchanged for every consumer that
   * de-aggregates (KCL, Firehose, this library's runtime, which exposes the tag). Into an MSK
   * topic, a record carries the header `replay_id=<id>` instead (key and value unchanged).
   */
  KPL_TAG = 'kpl-tag',
  /** Records go out exactly as archived, untagged (no KPL wrapper, no Kafka header). */
  NONE = 'none',
}

/** Write capacity of a target stream, for on-demand streams whose capacity is not a shard count. */
export interface WriteCapacity {
  readonly recordsPerSecond: number;
  readonly bytesPerSecond: number;
}

/** Properties of a {@link ReplayMachine}. */
export interface ReplayMachineProps {
  /** The archive bucket. */
  readonly archiveBucket: s3.IBucket;
  /** The archive prefix. */
  readonly archivePrefix: string;
  /** The archive's lanes. */
  readonly lanes: number;
  /** Streams a replay may write to; the first is the default target. May be empty when `topics` lists one. */
  readonly targets: kinesis.IStream[];
  /**
   * MSK topics a replay may write to (`"targetTopic"` in the execution input); the first is the
   * default target when `targets` is empty. The worker then runs in the topics' cluster VPC (all
   * topics must share it) with access to the brokers on the IAM port, and produces with idempotence
   * and acks=all.
   * @default - none
   */
  readonly topics?: IKafkaTopic[];
  /** Write capacity assumed for a topic target; a replay uses `writeShare` of it. @default 5,000 records/s and 5 MiB/s */
  readonly topicWriteCapacity?: WriteCapacity;
  /** Key for the state bucket, log groups and function environments. */
  readonly encryptionKey: kms.IKey;
  /** Bucket for the state bucket's access logs. */
  readonly accessLogs: s3.IBucket;
  /** Share of the target's write capacity a replay may use, (0, 1]. @default 0.5 */
  readonly writeShare?: number;
  /** Capacity assumed for an on-demand target. @default 4,000 records/s and 4 MiB/s (a new on-demand stream's write capacity) */
  readonly onDemandWriteCapacity?: WriteCapacity;
  /** How replayed records are marked. @default ReplayTagging.KPL_TAG */
  readonly tagging?: ReplayTagging;
  /** Log retention. @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
}

/** Namespace of the replay workers' EMF progress metrics. */
export const REPLAY_METRICS_NAMESPACE = 'StreamingPipelines/Replay';

/**
 * The replay state machine: a planner validates `[from, to)`, the target and
 * the filters and splits the work by archive lane; a Distributed Map runs one
 * lane per iteration, each a loop of worker invocations (resumable through
 * per-object markers in the state bucket) until the lane is done; a summary
 * adds up the progress into the execution output.
 */
export class ReplayMachine extends Construct {
  /** The state machine. */
  public readonly stateMachine: sfn.StateMachine;
  /** The bucket holding per-replay markers and checkpoints. */
  public readonly stateBucket: s3.IBucket;
  /** The planner function. */
  public readonly planner: lambda.IFunction;
  /** The worker function. */
  public readonly worker: lambda.IFunction;
  /** Value of the workers' `ReplayStateMachine` metric dimension. */
  public readonly metricsDimension: string;

  constructor(scope: Construct, id: string, props: ReplayMachineProps) {
    super(scope, id);
    const share = props.writeShare ?? 0.5;
    if (!(share > 0 && share <= 1)) throw propError(this, 'writeShare', `(${share}) must be in (0, 1]: the share of the target's write capacity a replay may use`);
    const topics = props.topics ?? [];
    if (props.targets.length === 0 && topics.length === 0) throw propError(this, 'targets', `must list at least one stream (or \`${userPropName(this, 'topics')}\` one topic)`);
    const topicCapacity = props.topicWriteCapacity ?? { recordsPerSecond: 5000, bytesPerSecond: 5 * 1024 * 1024 };
    if (!(topicCapacity.recordsPerSecond > 0) || !(topicCapacity.bytesPerSecond > 0)) throw propError(this, 'topicWriteCapacity', 'must give positive recordsPerSecond and bytesPerSecond');
    const topicVpc = this.topicsVpc(topics);
    const onDemand = props.onDemandWriteCapacity ?? { recordsPerSecond: 4000, bytesPerSecond: 4 * 1024 * 1024 };
    if (!(onDemand.recordsPerSecond > 0) || !(onDemand.bytesPerSecond > 0)) throw propError(this, 'onDemandWriteCapacity', 'must give positive recordsPerSecond and bytesPerSecond');

    this.stateBucket = new SecureBucket(this, 'State', {
      encryptionKey: props.encryptionKey,
      accessLogs: props.accessLogs,
      accessLogsPrefix: 'replay-state/',
      // Markers only matter while a replay may be resumed. Retained like every data bucket: a versioned
      // bucket with objects cannot be deleted by CloudFormation anyway.
      lifecycle: { expireAfter: Duration.days(180) },
      removalPolicy: RemovalPolicy.RETAIN,
    }).bucket;
    const statePrefix = 'replays/';
    this.metricsDimension = Names.uniqueResourceName(this, { maxLength: 64 });

    const planner = new BundledFunction(this, 'Planner', {
      handler: 'replay-planner',
      encryptionKey: props.encryptionKey,
      timeout: Duration.minutes(1),
      logRetention: props.logRetention,
      environment: {
        ARCHIVE_BUCKET: props.archiveBucket.bucketName,
        ARCHIVE_PREFIX: props.archivePrefix,
        LANES: String(props.lanes),
        TARGET_STREAMS: JSON.stringify(props.targets.map((t) => t.streamArn)),
        ...(topics.length > 0 ? {
          TARGET_TOPICS: JSON.stringify(topics.map((t) => t.topicArn)),
          TOPIC_RECORDS_PER_SECOND: String(topicCapacity.recordsPerSecond),
          TOPIC_BYTES_PER_SECOND: String(topicCapacity.bytesPerSecond),
        } : {}),
        WRITE_SHARE: String(share),
        ON_DEMAND_RECORDS_PER_SECOND: String(onDemand.recordsPerSecond),
        ON_DEMAND_BYTES_PER_SECOND: String(onDemand.bytesPerSecond),
        STATE_BUCKET: this.stateBucket.bucketName,
        STATE_PREFIX: statePrefix,
        TAGGING: props.tagging ?? ReplayTagging.KPL_TAG,
      },
      synchronousInvoker: 'The replay state machine invokes this function synchronously and fails the execution on its errors.',
    }).function;
    planner.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [props.archiveBucket.bucketArn] }));
    for (const t of props.targets) t.grant(planner, 'kinesis:DescribeStreamSummary');

    const worker = new BundledFunction(this, 'Worker', {
      handler: 'replay-worker',
      encryptionKey: props.encryptionKey,
      timeout: Duration.minutes(15),
      memorySize: 1024,
      logRetention: props.logRetention,
      environment: { STATE_BUCKET: this.stateBucket.bucketName, STATE_PREFIX: statePrefix, REPLAY_STATE_MACHINE_NAME: this.metricsDimension },
      synchronousInvoker: 'The replay state machine invokes this function synchronously, retries it and fails the lane on its errors.',
      ...(topicVpc ? this.workerNetwork(topicVpc, topics[0].cluster) : {}),
    }).function;
    worker.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [props.archiveBucket.bucketArn, this.stateBucket.bucketArn] }));
    worker.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [props.archiveBucket.arnForObjects(`${props.archivePrefix}*`)] }));
    worker.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: [this.stateBucket.arnForObjects(`${statePrefix}*`)] }));
    if (props.archiveBucket.encryptionKey && props.archiveBucket.encryptionKey !== props.encryptionKey) props.archiveBucket.encryptionKey.grant(worker, 'kms:Decrypt');
    props.encryptionKey.grant(worker, 'kms:Decrypt', 'kms:GenerateDataKey');
    for (const t of props.targets) {
      t.grant(worker, 'kinesis:PutRecords');
      t.encryptionKey?.grant(worker, 'kms:GenerateDataKey');
    }
    this.grantTopics(worker, topics);
    this.planner = planner;
    this.worker = worker;
    acknowledge(worker.role!, wildcardFindings(this, [
      [props.archiveBucket.bucketArn, `/${props.archivePrefix}*`, 'The worker reads archive objects whose names Firehose generates under the archive prefix.'],
      [this.stateBucket.bucketArn, `/${statePrefix}*`, 'The worker reads and writes its own per-replay markers and checkpoints under the state prefix.'],
    ]));

    // ---- the definition
    const plan = new tasks.LambdaInvoke(this, 'Plan', {
      lambdaFunction: planner,
      payload: sfn.TaskInput.fromObject({ action: 'plan', request: sfn.JsonPath.executionInput, executionName: sfn.JsonPath.executionName }),
      payloadResponseOnly: true,
      comment: 'Validate [from, to), the target and the filters against the archive; one work item per lane',
    });
    const replayLane = new tasks.LambdaInvoke(this, 'ReplayLane', {
      lambdaFunction: worker,
      payloadResponseOnly: true,
      comment: 'Replay the lane\'s objects in time order until done or out of time; resumes from its markers',
      retryOnServiceExceptions: true,
    });
    // Many lanes start at once; Lambda's concurrency limit answers with TooManyRequests, which is worth waiting out.
    replayLane.addRetry({ errors: ['Lambda.TooManyRequestsException'], interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 8, jitterStrategy: sfn.JitterType.FULL });
    // Records that exhausted their PutRecords attempts (sustained throttling): the lane resumes from its
    // checkpoint, so waiting and invoking again is safe. After these, the execution fails and says so.
    replayLane.addRetry({ errors: ['ReplayWorkerError'], interval: Duration.seconds(30), backoffRate: 2, maxAttempts: 3, jitterStrategy: sfn.JitterType.FULL });
    const laneDone = new sfn.Choice(this, 'LaneDone?')
      .when(sfn.Condition.booleanEquals('$.done', true), new sfn.Succeed(this, 'LaneReplayed'))
      .otherwise(replayLane);
    const lanes = new sfn.DistributedMap(this, 'Lanes', {
      itemsPath: '$.lanes',
      maxConcurrency: props.lanes,
      resultPath: '$.laneResults',
      toleratedFailurePercentage: 0,
      comment: 'One iteration per lane: lanes run in parallel, each in time order, so per-key order holds',
    });
    lanes.itemProcessor(replayLane.next(laneDone));
    const summarize = new tasks.LambdaInvoke(this, 'Summarize', {
      lambdaFunction: planner,
      payload: sfn.TaskInput.fromObject({ action: 'summarize', lanes: sfn.JsonPath.objectAt('$.laneResults') }),
      payloadResponseOnly: true,
      resultPath: '$.progress',
    });
    const output = new sfn.Pass(this, 'Output', {
      parameters: {
        'replayId.$': '$.replayId', 'from.$': '$.from', 'to.$': '$.to', 'targetStream.$': '$.targetStream', 'targetTopic.$': '$.targetTopic',
        'replayRate.$': '$.replayRate', 'progress.$': '$.progress',
      },
    });

    const logGroup = new logs.LogGroup(this, 'Logs', {
      encryptionKey: props.encryptionKey,
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stateMachine = new sfn.StateMachine(this, 'Resource', {
      definitionBody: sfn.DefinitionBody.fromChainable(plan.next(lanes).next(summarize).next(output)),
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
      comment: `Replays [from, to) of the archive into a ${topics.length > 0 ? 'stream or topic' : 'stream'}; start with {"from","to"} and reuse replayId to resume`,
    });
    ignoreCfnLint(this.stateMachine.node.defaultChild as CfnResource, 'W3005', ROLE_DEPENDS_ON);
    const mapPolicy = this.stateMachine.node.tryFindChild('DistributedMapPolicy') as iam.Policy | undefined;
    if (mapPolicy) {
      acknowledge(mapPolicy, {
        ...inCompliancePacks('IAMNoInlinePolicy', INLINE_GRANT_POLICY),
        ...wildcardResourceFindings(mapPolicy, mapPolicy.document, 'A Distributed Map starts and manages child executions of this one state machine, whose names Step Functions generates; the wildcard covers only those executions.'),
      });
    }
    acknowledge(this.stateMachine.role, {
      ...inCompliancePacks('IAMNoInlinePolicy', INLINE_GRANT_POLICY),
      'AwsSolutions-IAM5[Resource::*]': 'CloudWatch Logs delivery (logs:CreateLogDelivery and related) and X-Ray tracing do not support resource-level permissions.',
      ...wildcardFindings(this, [planner, worker].map((fn): [string, string, string] => [fn.functionArn, ':*', 'lambda:InvokeFunction on this replay\'s own function and its versions only.'])),
    });
  }

  /** The VPC every topic's cluster runs in: one function runs in one VPC. */
  private topicsVpc(topics: IKafkaTopic[]): ec2.IVpc | undefined {
    if (topics.length === 0) return undefined;
    const vpcId = (t: IKafkaTopic): string => JSON.stringify(Stack.of(this).resolve(t.cluster.vpc.vpcId));
    const other = topics.findIndex((t) => vpcId(t) !== vpcId(topics[0]));
    if (other >= 0) {
      throw propError(this, 'topics', `[${other}] ('${topics[other].node.path}') is on a cluster in another VPC than [0]: the replay worker runs in one VPC, so every topic's cluster must share it`);
    }
    return topics[0].cluster.vpc;
  }

  /**
   * The worker in the cluster's client subnets, with a security group that allows only HTTPS out (S3, KMS,
   * Kinesis and the MSK API, through a NAT gateway or VPC endpoints); `grantTopics` adds the brokers' port.
   */
  private workerNetwork(vpc: ec2.IVpc, cluster: IKafkaCluster): { vpc: ec2.IVpc; vpcSubnets: ec2.SubnetSelection; securityGroups: ec2.ISecurityGroup[] } {
    const sg = new ec2.SecurityGroup(this, 'WorkerSecurityGroup', {
      vpc,
      allowAllOutbound: false,
      description: 'Replay worker: HTTPS to AWS APIs and the IAM port of the target topic brokers',
    });
    sg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to S3, KMS, Kinesis and the MSK API (GetBootstrapBrokers)');
    return { vpc, vpcSubnets: cluster.vpcSubnets, securityGroups: [sg] };
  }

  /** Produce with idempotence on each topic, find each cluster's brokers, and reach them. */
  private grantTopics(worker: lambda.IFunction, topics: IKafkaTopic[]): void {
    const clusters = new Map<string, IKafkaCluster>();
    for (const topic of topics) {
      topic.cluster.grantProduce(worker, topic);
      clusters.set(JSON.stringify(Stack.of(this).resolve(topic.cluster.clusterArn)), topic.cluster);
    }
    for (const cluster of clusters.values()) {
      worker.addToRolePolicy(new iam.PolicyStatement({ actions: ['kafka:GetBootstrapBrokers'], resources: [cluster.clusterArn] }));
      cluster.connections.allowDefaultPortFrom(worker, 'Replay worker: produce replayed records (IAM over TLS)');
    }
  }
}
