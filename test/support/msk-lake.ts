/**
 * Fixtures for the tests of the lake on MSK: a stub cluster in a VPC standing for the user's, and
 * a topic on it.
 */
import { Validations, type Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { KafkaClusterType } from '../../lib/core/kafka-refs';
import { StubKafkaCluster, StubKafkaTopic } from './kafka-cluster-stub';

/** The stub cluster's VPC is the user's network, not part of what these tests check: its findings are the user's. */
const USER_VPC = 'Test fixture: the VPC of the user\'s MSK cluster, which the lake does not create; its network hardening is the user\'s.';

/** A stub cluster and one topic of it. */
export function stubTopic(stack: Stack, options: { clusterType?: KafkaClusterType; topicName?: string; id?: string } = {}): StubKafkaTopic {
  const cluster = new StubKafkaCluster(stack, options.id ?? 'Msk', { clusterType: options.clusterType });
  for (const c of cluster.vpc.node.findAll()) {
    for (const id of [
      'AwsSolutions-VPC7', 'HIPAA.Security-VPCFlowLogsEnabled', 'NIST.800.53.R5-VPCFlowLogsEnabled', 'PCI.DSS.321-VPCFlowLogsEnabled',
      'HIPAA.Security-VPCDefaultSecurityGroupClosed', 'NIST.800.53.R5-VPCDefaultSecurityGroupClosed', 'PCI.DSS.321-VPCDefaultSecurityGroupClosed',
      'HIPAA.Security-VPCSubnetAutoAssignPublicIpDisabled', 'NIST.800.53.R5-VPCSubnetAutoAssignPublicIpDisabled', 'PCI.DSS.321-VPCSubnetAutoAssignPublicIpDisabled',
      'HIPAA.Security-VPCNoUnrestrictedRouteToIGW', 'NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW', 'PCI.DSS.321-VPCNoUnrestrictedRouteToIGW',
    ]) if (c instanceof ec2.CfnVPC || c instanceof ec2.CfnSubnet || c instanceof ec2.CfnRoute) Validations.of(c).acknowledge({ id, reason: USER_VPC });
  }
  return new StubKafkaTopic(stack, `${options.id ?? 'Msk'}Topic`, cluster, options.topicName ?? 'orders');
}
