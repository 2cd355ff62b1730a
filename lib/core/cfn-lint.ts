import type { CfnResource } from 'aws-cdk-lib';

/**
 * Tells the AWS CloudFormation Linter (cfn-lint) to skip one rule on one resource: the
 * resource's `Metadata.cfn-lint.config.ignore_checks`, the narrowest scope cfn-lint offers.
 * The reason travels beside it (`Metadata.cfn-lint.reasons`), for whoever reads the template.
 */
export function ignoreCfnLint(resource: CfnResource, rule: string, reason: string): void {
  const current = resource.getMetadata('cfn-lint') ?? {};
  const checks: string[] = current.config?.ignore_checks ?? [];
  resource.addMetadata('cfn-lint', {
    ...current,
    config: { ...current.config, ignore_checks: checks.includes(rule) ? checks : [...checks, rule] },
    reasons: { ...current.reasons, [rule]: reason },
  });
}

/**
 * Why W3005 ("dependency already enforced by a GetAtt") is skipped on the Lambda functions and
 * state machines we build: aws-cdk-lib makes each depend on its whole role construct. Only the
 * role entry is redundant, and dropping it would mean overriding how the L2 renders DependsOn.
 */
export const ROLE_DEPENDS_ON = 'aws-cdk-lib makes this resource depend on its whole role construct: the role, already implied by the GetAtt of its ARN, and the role\'s default policy, which keeps it from running before its permissions attach. The redundant role entry is harmless.';
