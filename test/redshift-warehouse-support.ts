/**
 * Shared builders of the RedshiftWarehouse tests: an imported VPC whose subnets name their AZs
 * (an env-agnostic stack's own VPC gets two AZs, and Serverless needs three), so the tests see
 * only the warehouse's resources and findings.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { RedshiftWarehouse, type RedshiftWarehouseProps } from '../lib/core/redshift-warehouse';
import { newApp } from './support/nag';

/** An existing VPC with private subnets in the first `zones` AZs of us-east-1, `perZone` subnets each. */
export function warehouseVpc(scope: Stack, zones = 3, perZone = 1, id = 'Vpc'): ec2.IVpc {
  const azs = ['us-east-1a', 'us-east-1b', 'us-east-1c'].slice(0, zones);
  const all = Array.from({ length: zones * perZone }, (_, i) => azs[i % zones]);
  return ec2.Vpc.fromVpcAttributes(scope, id, {
    vpcId: 'vpc-0123456789abcdef0',
    availabilityZones: azs,
    // Subnet ids must match the workgroup schema's pattern (subnet- and 8+ hex digits) for cfn-lint.
    privateSubnetIds: all.map((_, i) => `subnet-0a${String(i).padStart(15, '0')}`),
    privateSubnetRouteTableIds: all.map((_, i) => `rtb-0a${String(i).padStart(15, '0')}`),
  });
}

/** A warehouse with `props` on a 3-AZ VPC in a fresh env-agnostic stack. */
export function warehouseStack(props: Partial<RedshiftWarehouseProps> = {}, stackProps: { env?: { account: string; region: string } } = {}):
{ stack: Stack; warehouse: RedshiftWarehouse; template: () => Template } {
  const stack = new Stack(newApp(), 'W', stackProps);
  const warehouse = new RedshiftWarehouse(stack, 'Warehouse', { vpc: warehouseVpc(stack), ...props });
  return { stack, warehouse, template: () => Template.fromStack(stack) };
}

/** The properties of the only resource of `type`. */
export function propsOf(template: Template, type: string): any {
  const all = Object.values(template.findResources(type));
  if (all.length !== 1) throw new Error(`expected one ${type}, found ${all.length}`);
  return (all[0] as any).Properties;
}
