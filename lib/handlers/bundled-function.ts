import * as path from 'path';
import { CfnResource, Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledge, INLINE_GRANT_POLICY, inCompliancePacks } from '../core/acknowledge';
import { ignoreCfnLint, ROLE_DEPENDS_ON } from '../core/cfn-lint';

/** Properties of a {@link BundledFunction}. */
export interface BundledFunctionProps {
  /** Folder name of the handler under `lambda/` (and of its pre-bundled asset). */
  readonly handler: string;
  /**
   * The code, for a handler bundled outside the package (e.g. your own, built with the runtime);
   * it must export `handler` from `index.js`.
   * @default - the package's pre-bundled asset for `handler`
   */
  readonly code?: lambda.Code;
  /** Environment variables. @default - none */
  readonly environment?: { [key: string]: string };
  /** Key for the log group and environment variables. */
  readonly encryptionKey: kms.IKey;
  /** Memory. @default 512 */
  readonly memorySize?: number;
  /** Timeout. @default Duration.minutes(1) */
  readonly timeout?: Duration;
  /** Log retention. @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /** Why the function has no DLQ or on-failure destination, for the compliance acknowledgement. */
  readonly synchronousInvoker: string;
  /**
   * For a function invoked asynchronously (a schedule): why a failed invocation needs no DLQ or
   * on-failure destination. It replaces the synchronous-invoker reason of those acknowledgements.
   * @default - the function is invoked synchronously (`synchronousInvoker`)
   */
  readonly asynchronousInvoker?: string;
  /**
   * A VPC to run in, for a handler that talks to a resource inside one (an MSK cluster).
   * Lambda then needs ENI permissions: AWS's `AWSLambdaVPCAccessExecutionRole` is attached.
   * @default - not in a VPC
   */
  readonly vpc?: ec2.IVpc;
  /** Subnets in `vpc`. @default - the VPC's private subnets */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** Security groups in `vpc`. @default - one is created, allowing all outbound traffic */
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/** Where `npm run build` puts the pre-bundled handlers: consumers need neither Docker nor esbuild. */
export const ASSET_ROOT = path.join(__dirname, '..', '..', 'assets', 'lambda');

/**
 * A Lambda function running one of the package's pre-bundled handlers on
 * Node.js 22 / arm64, with its own KMS-encrypted log group, X-Ray tracing and a
 * role holding only what it is granted.
 */
export class BundledFunction extends Construct {
  /** The function. */
  public readonly function: lambda.Function;
  /** Its log group. */
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: BundledFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      encryptionKey: props.encryptionKey,
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // An explicit role avoids the AWSLambdaBasicExecutionRole managed policy and its log:* on every group.
    const role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    this.logGroup.grantWrite(role);
    this.function = new lambda.Function(this, 'Resource', {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      code: props.code ?? lambda.Code.fromAsset(path.join(ASSET_ROOT, props.handler)),
      handler: 'index.handler',
      role,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.minutes(1),
      environment: props.environment,
      environmentEncryption: props.encryptionKey,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      vpc: props.vpc,
      vpcSubnets: props.vpc ? props.vpcSubnets : undefined,
      securityGroups: props.vpc ? props.securityGroups : undefined,
    });
    ignoreCfnLint(this.function.node.defaultChild as CfnResource, 'W3005', ROLE_DEPENDS_ON);
    acknowledge(role, {
      ...inCompliancePacks('IAMNoInlinePolicy', INLINE_GRANT_POLICY),
      ...(props.vpc ? { 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]': 'Lambda attaches this AWS managed policy to a function in a VPC for its network interfaces (ec2:CreateNetworkInterface and friends); the actions take no resource-level scoping.' } : {}),
      'AwsSolutions-IAM5[Resource::*]': 'X-Ray PutTraceSegments and PutTelemetryRecords do not support resource-level permissions.',
    });
    const noDlq = props.asynchronousInvoker ?? `${props.synchronousInvoker} A DLQ only applies to asynchronous invocations.`;
    const noDestination = props.asynchronousInvoker ?? `${props.synchronousInvoker} On-failure destinations only apply to asynchronous invocations.`;
    const runtime = 'The pre-bundled handler is built by esbuild for node22 and tested on it; the runtime moves with a package release that rebuilds and retests the bundle, not implicitly.';
    acknowledge(this.function, {
      'AwsSolutions-L1': runtime,
      'Serverless-LambdaLatestVersion': runtime,
      ...(props.vpc ? {} : inCompliancePacks('LambdaInsideVPC', 'The function calls no VPC resource; it only receives records from a managed AWS service and returns them. A VPC would add ENIs and NAT cost without reducing exposure.')),
      ...inCompliancePacks('LambdaDLQ', noDlq, ['HIPAA.Security', 'NIST.800.53.R5']),
      ...inCompliancePacks('LambdaConcurrency', 'Reserved concurrency would throttle the invoking service and, in a new account with a 10-execution limit, fail deployment; the invoker bounds its own concurrency.', ['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321']),
      'Serverless-LambdaDLQ': noDlq,
      'Serverless-LambdaAsyncFailureDestination': noDestination,
    });
  }
}
