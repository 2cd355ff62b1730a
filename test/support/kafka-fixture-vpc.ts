import type { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { acknowledge, inCompliancePacks } from '../../lib/core/acknowledge';

/**
 * The stub cluster's VPC, its findings acknowledged: it is the test's fixture (a user's network),
 * not something the topic constructs create, so the nag tests judge only what they add.
 */
export function fixtureVpc(stack: Stack): ec2.Vpc {
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3, natGateways: 1 });
  const reason = 'Test fixture: the user\'s VPC, which the topic constructs only use.';
  acknowledge(vpc, {
    'AwsSolutions-VPC7': reason,
    ...inCompliancePacks('VPCFlowLogsEnabled', reason),
    ...inCompliancePacks('VPCDefaultSecurityGroupClosed', reason),
  });
  for (const subnet of vpc.publicSubnets) {
    acknowledge(subnet, { ...inCompliancePacks('VPCSubnetAutoAssignPublicIpDisabled', reason), ...inCompliancePacks('VPCNoUnrestrictedRouteToIGW', reason) });
  }
  return vpc;
}

