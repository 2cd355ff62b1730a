import { CfnResource, type Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import { acknowledge, INLINE_GRANT_POLICY, inCompliancePacks, wildcardResourceFindings } from './acknowledge';
import { ignoreCfnLint } from './cfn-lint';

/** Options of {@link pollingProvider}. */
export interface PollingProviderOptions {
  /** The handler CloudFormation's events go to. */
  readonly onEvent: lambda.IFunction;
  /** The handler the waiter polls until it answers complete. */
  readonly isComplete: lambda.IFunction;
  /** Key for the framework's logs and environment. */
  readonly encryptionKey: kms.IKey;
  /** Time between isComplete calls. */
  readonly queryInterval: Duration;
  /** How long the waiter polls before failing the resource (at most 2 hours). */
  readonly totalTimeout: Duration;
}

/**
 * A CDK Provider framework (onEvent, isComplete and its waiter state machine) with KMS-encrypted,
 * logged framework functions and waiter, and the compliance findings on aws-cdk-lib's own parts
 * acknowledged with their reasons.
 */
export function pollingProvider(scope: Construct, id: string, options: PollingProviderOptions): cr.Provider {
  const frameworkLogs = new logs.LogGroup(scope, `${id}Logs`, { encryptionKey: options.encryptionKey, retention: logs.RetentionDays.ONE_YEAR, removalPolicy: RemovalPolicy.RETAIN });
  const provider = new cr.Provider(scope, id, {
    onEventHandler: options.onEvent,
    isCompleteHandler: options.isComplete,
    queryInterval: options.queryInterval,
    totalTimeout: options.totalTimeout,
    logGroup: frameworkLogs,
    providerFunctionEnvEncryption: options.encryptionKey,
    // aws-cdk-lib leaves the waiter unlogged unless told otherwise.
    disableWaiterStateMachineLogging: false,
    waiterStateMachineLogOptions: { destination: frameworkLogs, level: sfn.LogLevel.ALL },
  });
  acknowledgeProviderFramework(provider);
  return provider;
}

/** Acknowledges the findings on the Provider framework's own functions, roles and waiter, each with its reason. */
export function acknowledgeProviderFramework(provider: cr.Provider): void {
  const framework = 'Function of the CDK Provider framework (aws-cdk-lib), deployed and versioned with aws-cdk-lib; it only relays custom-resource events to this construct\'s handlers.';
  for (const child of provider.node.findAll()) {
    if (child instanceof CfnResource && child.cfnResourceType === 'AWS::Lambda::Function') {
      ignoreCfnLint(child, 'W3005', 'aws-cdk-lib makes the framework function depend on its role and default policy.');
      acknowledge(child, {
        'AwsSolutions-L1': framework,
        'Serverless-LambdaLatestVersion': framework,
        'Serverless-LambdaTracing': framework,
        'Serverless-LambdaDefaultMemorySize': `${framework} aws-cdk-lib sizes it; it only relays one event at a time.`,
        'Serverless-LambdaDLQ': framework,
        'Serverless-LambdaAsyncFailureDestination': `${framework} CloudFormation waits for its answer; a failure fails the resource.`,
        ...inCompliancePacks('LambdaInsideVPC', `${framework} It calls only AWS APIs (Lambda, Step Functions, CloudFormation's response URL).`),
        ...inCompliancePacks('LambdaDLQ', framework, ['HIPAA.Security', 'NIST.800.53.R5']),
        ...inCompliancePacks('LambdaConcurrency', framework, ['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321']),
      });
    }
    if (child instanceof iam.Role) {
      acknowledge(child, {
        ...inCompliancePacks('IAMNoInlinePolicy', INLINE_GRANT_POLICY),
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]': `${framework} aws-cdk-lib attaches this policy to it for its logs.`,
        ...wildcardResourceFindings(child, (child.node.tryFindChild('DefaultPolicy') as iam.Policy | undefined)?.document, 'The Provider framework invokes this construct\'s handlers and their versions, and polls its own waiter state machine executions; aws-cdk-lib generates these grants.'),
      });
    }
    if (child instanceof CfnResource && child.cfnResourceType === 'AWS::StepFunctions::StateMachine') {
      ignoreCfnLint(child, 'W3005', 'aws-cdk-lib makes the waiter state machine depend on its role and default policy.');
      acknowledge(child, {
        'AwsSolutions-SF2': 'The waiter state machine of the CDK Provider framework only loops isComplete calls; X-Ray traces of it would show no application work.',
        'Serverless-StepFunctionStateMachineXray': 'The waiter state machine of the CDK Provider framework only loops isComplete calls; X-Ray traces of it would show no application work.',
      });
    }
  }
}
