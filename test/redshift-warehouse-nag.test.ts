import * as iam from 'aws-cdk-lib/aws-iam';
import { RedshiftWarehouse } from '../lib/core/redshift-warehouse';
import { UsageLimitBreachAction } from '../lib/core/warehouse-admin';
import { warehouseVpc } from './redshift-warehouse-support';
import { expectNagClean } from './support/nag';

describe('RedshiftWarehouse compliance', () => {
  test('is nag-clean under the five packs with defaults', () => {
    expectNagClean((stack) => {
      new RedshiftWarehouse(stack, 'Warehouse', { vpc: warehouseVpc(stack) });
    });
  });

  test('is nag-clean with a usage limit, a role, a resource policy and a second warehouse', () => {
    expectNagClean((stack) => {
      const vpc = warehouseVpc(stack);
      const w = new RedshiftWarehouse(stack, 'Warehouse', { vpc, maxCapacity: 64, usageLimit: { rpuHours: 50, breachAction: UsageLimitBreachAction.DEACTIVATE } });
      w.addRole(new iam.Role(stack, 'CopyRole', { assumedBy: new iam.ServicePrincipal('redshift.amazonaws.com') }));
      w.addToResourcePolicy(new iam.PolicyStatement({ principals: [new iam.AccountRootPrincipal()], actions: ['redshift:CreateInboundIntegration'], resources: [w.namespaceArn] }));
      w.monitor.addIntegration('11111111-2222-3333-4444-555555555555', 'orders');
      new RedshiftWarehouse(stack, 'Second', { vpc });
    });
  });
});
