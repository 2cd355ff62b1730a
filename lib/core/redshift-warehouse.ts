import { Lazy, Names, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as rss from 'aws-cdk-lib/aws-redshiftserverless';
import { Construct } from 'constructs';
import { propError } from './errors';
import { PipelineKey } from './pipeline-key';
import type { IRedshiftWarehouse } from './redshift-refs';
import { checkBaseCapacity, checkMaxCapacity, checkName, checkSubnets, checkUsageLimit } from './redshift-warehouse-rules';
import { adminSecretArnOf, UsageLimitBreachAction, usageLimitOf, type WarehouseUsageLimit } from './warehouse-admin';
import { WarehouseMonitor } from './warehouse-monitor';

/** Properties of a {@link RedshiftWarehouse}. */
export interface RedshiftWarehouseProps {
  /** The VPC the workgroup's endpoint lives in. */
  readonly vpc: ec2.IVpc;
  /**
   * The workgroup's subnets: at least three, in three Availability Zones (us-west-1: two AZs).
   * @default - the VPC's PRIVATE_WITH_EGRESS subnets, or its PRIVATE_ISOLATED ones when it has none
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * The key of the namespace's data and of the managed admin secret; the loading blocks reuse it.
   * @default - a customer-managed key with rotation (`PipelineKey`)
   */
  readonly encryptionKey?: kms.IKey;
  /** The database the namespace creates and the SQL runner connects to: lowercase letters, digits and underscores, starting with a letter. @default 'dev' */
  readonly databaseName?: string;
  /** The admin user, whose password Redshift generates and keeps in Secrets Manager: same rule as `databaseName`. @default 'admin' */
  readonly adminUsername?: string;
  /**
   * Base capacity in RPUs: 4, or 8 to 512 in steps of 8; 512 to 1,024 in steps of 32 only in us-east-1,
   * us-east-2, us-west-2, eu-west-1 and eu-central-1 (a warning when the stack's Region is unknown).
   * @default 8
   */
  readonly baseCapacity?: number;
  /**
   * Maximum capacity in RPUs the workgroup may scale to, at least `baseCapacity`; with it the monitor
   * alarms when the workgroup runs at it.
   * @default - no maximum (Serverless scales as it sees fit)
   */
  readonly maxCapacity?: number;
  /** A cap on the RPU-hours used per day, week or month. @default - none */
  readonly usageLimit?: WarehouseUsageLimit;
  /** Must stay false: the warehouse is reachable only inside the VPC. @default false */
  readonly publiclyAccessible?: boolean;
  /**
   * What happens to the namespace (the data) and the workgroup when they leave the stack. A retained
   * namespace keeps its name, so a re-created stack with the same construct path fails until it is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /** Action of the monitor's alarms that page and of its composite alarm. @default - an SNS topic encrypted with `encryptionKey` */
  readonly alarmAction?: cw.IAlarmAction;
}

/** The workgroup's port (Redshift's default). */
const PORT = 5439;
/** A namespace holds at most 50 IAM roles (Management Guide, quotas for Amazon Redshift Serverless objects). */
const MAX_ROLES = 50;

/**
 * A Redshift Serverless warehouse: a KMS-encrypted namespace with a Secrets Manager-managed admin
 * password and exported user, connection and user-activity logs, and a workgroup in private subnets,
 * not publicly accessible, with enhanced VPC routing and `require_ssl`, `enable_case_sensitive_identifier`
 * (zero-ETL needs it) and `enable_user_activity_logging` on; plus an optional usage limit and a monitor.
 * Integrations and roles are added through `addToResourcePolicy` and `addRole`, at any time before synth.
 */
export class RedshiftWarehouse extends Construct implements IRedshiftWarehouse {
  /** The namespace (L1). */
  public readonly cfnNamespace: rss.CfnNamespace;
  /** The workgroup (L1). */
  public readonly cfnWorkgroup: rss.CfnWorkgroup;
  /** The workgroup's security group: no ingress until `connections` opens it; egress HTTPS only. */
  public readonly securityGroup: ec2.SecurityGroup;
  /** Alarms and dashboard of the workgroup; `addIntegration` adds a zero-ETL integration's. */
  public readonly monitor: WarehouseMonitor;
  public readonly namespaceName: string;
  public readonly namespaceArn: string;
  public readonly workgroupName: string;
  public readonly workgroupArn: string;
  public readonly databaseName: string;
  public readonly adminUsername: string;
  public readonly adminSecretArn: string;
  public readonly adminSecretKey: kms.IKey;
  public readonly encryptionKey: kms.IKey;
  public readonly vpc: ec2.IVpc;
  public readonly vpcSubnets: ec2.SubnetSelection;
  public readonly connections: ec2.Connections;
  /** The usage limit's id, when `usageLimit` is set. */
  public readonly usageLimitId?: string;
  private readonly roleArns: string[] = [];
  private readonly resourcePolicy = new iam.PolicyDocument();

  constructor(scope: Construct, id: string, props: RedshiftWarehouseProps) {
    super(scope, id);
    const region = Stack.of(this).region;
    if (props.publiclyAccessible) {
      throw propError(this, 'publiclyAccessible', '(true) is not allowed: the warehouse is reachable only from inside its VPC (use `connections` to let clients in)');
    }
    const baseCapacity = props.baseCapacity ?? 8;
    checkBaseCapacity(this, baseCapacity, region);
    checkMaxCapacity(this, props.maxCapacity, baseCapacity);
    checkUsageLimit(this, props.usageLimit);
    this.databaseName = props.databaseName ?? 'dev';
    this.adminUsername = props.adminUsername ?? 'admin';
    checkName(this, 'databaseName', this.databaseName);
    checkName(this, 'adminUsername', this.adminUsername);

    this.vpc = props.vpc;
    this.vpcSubnets = props.vpcSubnets ?? defaultSubnets(props.vpc);
    const subnets = props.vpc.selectSubnets(this.vpcSubnets).subnets;
    checkSubnets(this, subnets, region);

    this.encryptionKey = props.encryptionKey ?? new PipelineKey(this, 'Key', { description: 'cdk-streaming-pipelines Redshift Serverless warehouse key' }).key;
    this.adminSecretKey = this.encryptionKey;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.cfnNamespace = this.createNamespace();
    this.cfnNamespace.applyRemovalPolicy(removalPolicy);
    this.namespaceName = this.cfnNamespace.ref;
    this.namespaceArn = this.cfnNamespace.attrNamespaceNamespaceArn;

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc, allowAllOutbound: false,
      description: 'Redshift Serverless workgroup: clients are let in through connections',
    });
    // Enhanced VPC routing sends COPY's S3 reads, streaming ingestion's Kinesis reads and KMS calls through the VPC:
    // HTTPS to the AWS endpoints (a gateway/interface endpoint or the NAT). An MSK source opens its own port.
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS service endpoints (S3, Kinesis, KMS, STS)');
    this.connections = new ec2.Connections({ securityGroups: [this.securityGroup], defaultPort: ec2.Port.tcp(PORT) });

    const physicalWorkgroupName = physicalName(this, 'wg');
    this.cfnWorkgroup = new rss.CfnWorkgroup(this, 'Workgroup', {
      workgroupName: physicalWorkgroupName,
      namespaceName: this.namespaceName,
      baseCapacity,
      maxCapacity: props.maxCapacity,
      port: PORT,
      publiclyAccessible: false,
      enhancedVpcRouting: true,
      subnetIds: subnets.map((s) => s.subnetId),
      securityGroupIds: [this.securityGroup.securityGroupId],
      configParameters: [
        { parameterKey: 'require_ssl', parameterValue: 'true' },
        // Zero-ETL refuses a target without it (Management Guide, "Turn on case sensitivity for your data warehouse").
        { parameterKey: 'enable_case_sensitive_identifier', parameterValue: 'true' },
        { parameterKey: 'enable_user_activity_logging', parameterValue: 'true' },
      ],
    });
    this.cfnWorkgroup.applyRemovalPolicy(removalPolicy);
    this.workgroupName = this.cfnWorkgroup.ref;
    this.workgroupArn = this.cfnWorkgroup.attrWorkgroupWorkgroupArn;

    this.adminSecretArn = adminSecretArnOf(this, this.namespaceName, this.namespaceArn);
    if (props.usageLimit) this.usageLimitId = usageLimitOf(this, this.workgroupArn, props.usageLimit);

    this.monitor = new WarehouseMonitor(this, 'Monitor', {
      workgroupName: physicalWorkgroupName, maxCapacity: props.maxCapacity,
      alarmAction: props.alarmAction, encryptionKey: props.alarmAction ? undefined : this.encryptionKey,
    });
    if (props.usageLimit && this.usageLimitId) {
      this.monitor.addUsageLimit(this.usageLimitId, props.usageLimit.rpuHours, props.usageLimit.breachAction === UsageLimitBreachAction.DEACTIVATE);
    }
  }

  public addToResourcePolicy(statement: iam.PolicyStatement): void {
    this.resourcePolicy.addStatements(statement);
  }

  public addRole(role: iam.IRole): void {
    const arn = role.roleArn;
    if (this.roleArns.includes(arn)) return;
    if (this.roleArns.length >= MAX_ROLES) {
      throw propError(this, 'addRole', `(${role.node.path}) would be role ${MAX_ROLES + 1}: a Redshift Serverless namespace holds at most ${MAX_ROLES} IAM roles`);
    }
    this.roleArns.push(arn);
  }

  /** The namespace: the key, the managed admin password (encrypted with the key), the logs, and the lazily filled roles and policy. */
  private createNamespace(): rss.CfnNamespace {
    return new rss.CfnNamespace(this, 'Namespace', {
      namespaceName: physicalName(this, 'ns'),
      dbName: this.databaseName,
      adminUsername: this.adminUsername,
      manageAdminPassword: true,
      adminPasswordSecretKmsKeyId: this.encryptionKey.keyArn,
      kmsKeyId: this.encryptionKey.keyArn,
      logExports: ['userlog', 'connectionlog', 'useractivitylog'],
      iamRoles: Lazy.list({ produce: () => (this.roleArns.length > 0 ? [...this.roleArns] : undefined) }),
      namespaceResourcePolicy: Lazy.any({ produce: () => this.renderResourcePolicy() }),
    });
  }

  /**
   * The resource policy as added, less every reference to this namespace's own ARN: the policy is a
   * property of the namespace, so naming its ARN would be a circular dependency. The policy applies to
   * the namespace it is attached to, and CloudFormation's own zero-ETL example (AWS::RDS::Integration)
   * writes these statements with no `Resource`; a statement left with no other resource gets none.
   */
  private renderResourcePolicy(): any {
    if (this.resourcePolicy.isEmpty) return undefined;
    const stack = Stack.of(this);
    const document = stack.resolve(this.resourcePolicy);
    const self = JSON.stringify(stack.resolve(this.cfnNamespace.attrNamespaceNamespaceArn));
    for (const statement of document.Statement) {
      if (statement.Resource === undefined) continue;
      const others = ([] as unknown[]).concat(statement.Resource).filter((r) => JSON.stringify(r) !== self);
      if (others.length === 0) delete statement.Resource;
      else statement.Resource = others.length === 1 ? others[0] : others;
    }
    return document;
  }
}

/** PRIVATE_WITH_EGRESS subnets when the VPC has them, else PRIVATE_ISOLATED. */
function defaultSubnets(vpc: ec2.IVpc): ec2.SubnetSelection {
  return vpc.privateSubnets.length > 0 ? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } : { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
}

/**
 * A name unique in the account and Region for this construct path (CloudFormation requires the
 * namespace and workgroup names): lowercase letters, digits and hyphens, at most 64 characters.
 */
function physicalName(scope: Construct, suffix: string): string {
  const base = Names.uniqueResourceName(scope, { maxLength: 64 - suffix.length - 1, separator: '-' }).toLowerCase().replace(/[^a-z0-9-]/g, '-');
  return `${base}-${suffix}`;
}
