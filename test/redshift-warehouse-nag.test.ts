import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { RedshiftSql } from '../lib/core/redshift-sql';
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

  test('the SQL runner works against it: nag-clean, allowed the managed admin secret and its key', () => {
    let w: RedshiftWarehouse | undefined;
    expectNagClean((stack) => {
      w = new RedshiftWarehouse(stack, 'Warehouse', { vpc: warehouseVpc(stack) });
      new RedshiftSql(stack, 'Schema', { warehouse: w, create: [{ sql: 'CREATE SCHEMA IF NOT EXISTS "sales"' }], drop: [{ sql: 'DROP SCHEMA "sales"' }] });
    });
    const stack = Stack.of(w!);
    const t = Template.fromStack(stack);
    const secret = stack.resolve(w!.adminSecretArn);
    const statements = Object.values<any>(t.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement);
    expect(statements).toContainEqual(expect.objectContaining({ Action: 'secretsmanager:GetSecretValue', Resource: secret }));
    expect(JSON.stringify(Object.values<any>(t.findResources('Custom::RedshiftSql'))[0].Properties)).toContain(JSON.stringify(secret));
  });
});
