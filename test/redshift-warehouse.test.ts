import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { RedshiftWarehouse } from '../lib/core/redshift-warehouse';
import { UsageLimitBreachAction, UsageLimitPeriod } from '../lib/core/warehouse-admin';
import { propsOf, warehouseStack, warehouseVpc } from './redshift-warehouse-support';
import { newApp } from './support/nag';

const NAME = /^[a-z0-9-]{3,64}$/;

describe('RedshiftWarehouse: namespace', () => {
  const { template } = warehouseStack();
  const t = template();
  const ns = propsOf(t, 'AWS::RedshiftServerless::Namespace');

  test('is encrypted with the created key, which rotates', () => {
    const [keyId] = Object.keys(t.findResources('AWS::KMS::Key'));
    expect(ns.KmsKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  test('lets Redshift manage the admin password in Secrets Manager, encrypted with the same key', () => {
    expect(ns.ManageAdminPassword).toBe(true);
    expect(ns.AdminUserPassword).toBeUndefined();
    expect(ns.AdminPasswordSecretKmsKeyId).toEqual(ns.KmsKeyId);
  });

  test('names the admin user and database (defaults admin and dev)', () => {
    expect(ns.AdminUsername).toBe('admin');
    expect(ns.DbName).toBe('dev');
  });

  test('exports user, connection and user-activity logs', () => {
    expect([...ns.LogExports].sort()).toEqual(['connectionlog', 'useractivitylog', 'userlog']);
  });

  test('has a valid name derived from its path, and no roles or resource policy until added', () => {
    expect(ns.NamespaceName).toMatch(NAME);
    expect(ns.IamRoles).toBeUndefined();
    expect(ns.NamespaceResourcePolicy).toBeUndefined();
  });

  test('is retained by default, with the workgroup', () => {
    t.hasResource('AWS::RedshiftServerless::Namespace', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    t.hasResource('AWS::RedshiftServerless::Workgroup', { DeletionPolicy: 'Retain' });
  });
});

describe('RedshiftWarehouse: workgroup', () => {
  const { template, warehouse, stack } = warehouseStack();
  const t = template();
  const wg = propsOf(t, 'AWS::RedshiftServerless::Workgroup');

  test('belongs to the namespace, in the VPC\'s private subnets, not public, with enhanced VPC routing', () => {
    expect(wg.NamespaceName).toEqual({ Ref: Object.keys(t.findResources('AWS::RedshiftServerless::Namespace'))[0] });
    expect(wg.SubnetIds).toEqual(warehouse.vpc.privateSubnets.map((s) => s.subnetId));
    expect(wg.SubnetIds).toHaveLength(3);
    expect(wg.PubliclyAccessible).toBe(false);
    expect(wg.EnhancedVpcRouting).toBe(true);
    expect(wg.Port).toBe(5439);
  });

  test('turns on require_ssl, enable_case_sensitive_identifier and enable_user_activity_logging', () => {
    expect(wg.ConfigParameters).toEqual(expect.arrayContaining([
      { ParameterKey: 'require_ssl', ParameterValue: 'true' },
      { ParameterKey: 'enable_case_sensitive_identifier', ParameterValue: 'true' },
      { ParameterKey: 'enable_user_activity_logging', ParameterValue: 'true' },
    ]));
  });

  test('has base capacity 8 by default and no maximum', () => {
    expect(wg.BaseCapacity).toBe(8);
    expect(wg.MaxCapacity).toBeUndefined();
  });

  test('has its own security group: no ingress, egress HTTPS only', () => {
    const sg = propsOf(t, 'AWS::EC2::SecurityGroup');
    expect(wg.SecurityGroupIds).toEqual([{ 'Fn::GetAtt': [stack.getLogicalId(warehouse.securityGroup.node.defaultChild as any), 'GroupId'] }]);
    expect(sg.SecurityGroupIngress).toBeUndefined();
    expect(sg.SecurityGroupEgress).toEqual([{ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Description: expect.any(String) }]);
  });

  test('connections open the workgroup port to a client', () => {
    const s = new Stack(newApp(), 'C');
    const w = new RedshiftWarehouse(s, 'Warehouse', { vpc: warehouseVpc(s) });
    const client = new ec2.SecurityGroup(s, 'Client', { vpc: w.vpc });
    w.connections.allowDefaultPortFrom(client);
    Template.fromStack(s).hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp', FromPort: 5439, ToPort: 5439,
      GroupId: { 'Fn::GetAtt': [s.getLogicalId(w.securityGroup.node.defaultChild as any), 'GroupId'] },
    });
  });

  test('exposes the workgroup name and ARN from the resource', () => {
    const id = stack.getLogicalId(warehouse.cfnWorkgroup);
    expect(stack.resolve(warehouse.workgroupName)).toEqual({ Ref: id });
    expect(stack.resolve(warehouse.workgroupArn)).toEqual({ 'Fn::GetAtt': [id, 'Workgroup.WorkgroupArn'] });
    expect(wg.WorkgroupName).toMatch(NAME);
  });
});

describe('RedshiftWarehouse: admin secret', () => {
  const { template, warehouse, stack } = warehouseStack();
  const t = template();

  test('its ARN is read with GetNamespace (CloudFormation does not return it), with data kept out of the logs', () => {
    const [id, reader] = Object.entries<any>(t.findResources('Custom::RedshiftServerlessAdminSecretArn'))[0];
    expect(stack.resolve(warehouse.adminSecretArn)).toEqual({ 'Fn::GetAtt': [id, 'namespace.adminPasswordSecretArn'] });
    const create = JSON.stringify(reader.Properties.Create);
    expect(create).toContain('\\"action\\":\\"GetNamespace\\"');
    expect(create).toContain('\\"outputPaths\\":[\\"namespace.adminPasswordSecretArn\\"]');
    expect(create).toContain('\\"logApiResponseData\\":false');
  });

  test('the reader may call GetNamespace on this namespace only', () => {
    const nsId = stack.getLogicalId(warehouse.cfnNamespace);
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'redshift-serverless:GetNamespace', Resource: { 'Fn::GetAtt': [nsId, 'Namespace.NamespaceArn'] } }] },
    });
  });

  test('is encrypted with the warehouse key', () => {
    expect(warehouse.adminSecretKey).toBe(warehouse.encryptionKey);
  });
});

describe('RedshiftWarehouse: roles and resource policy', () => {
  test('roles added after construction land in IamRoles, once each', () => {
    const { stack, warehouse, template } = warehouseStack();
    const role = new iam.Role(stack, 'CopyRole', { assumedBy: new iam.ServicePrincipal('redshift.amazonaws.com') });
    warehouse.addRole(role);
    warehouse.addRole(role);
    expect(propsOf(template(), 'AWS::RedshiftServerless::Namespace').IamRoles).toEqual([{ 'Fn::GetAtt': [stack.getLogicalId(role.node.defaultChild as any), 'Arn'] }]);
  });

  test('a 51st role is refused', () => {
    const { stack, warehouse } = warehouseStack();
    for (let i = 0; i < 50; i++) warehouse.addRole(iam.Role.fromRoleArn(stack, `R${i}`, `arn:aws:iam::123456789012:role/r${i}`));
    expect(() => warehouse.addRole(iam.Role.fromRoleArn(stack, 'R50', 'arn:aws:iam::123456789012:role/r50')))
      .toThrow(/`addRole` \(W\/R50\) would be role 51: a Redshift Serverless namespace holds at most 50 IAM roles/);
  });

  test('statements added after construction land in NamespaceResourcePolicy, the namespace\'s own ARN left out (no cycle)', () => {
    const { stack, warehouse, template } = warehouseStack();
    warehouse.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('redshift.amazonaws.com')], actions: ['redshift:AuthorizeInboundIntegration'],
      resources: [warehouse.namespaceArn], conditions: { StringEquals: { 'aws:SourceArn': 'arn:aws:s3:::bucket' } },
    }));
    warehouse.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.AccountRootPrincipal()], actions: ['redshift:CreateInboundIntegration'],
      resources: [warehouse.namespaceArn, 'arn:aws:redshift-serverless:us-east-1:123456789012:namespace/other'],
    }));
    const t = template(); // Template.fromStack fails on a cyclic dependency
    expect(propsOf(t, 'AWS::RedshiftServerless::Namespace').NamespaceResourcePolicy).toEqual({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'redshift:AuthorizeInboundIntegration', Principal: { Service: 'redshift.amazonaws.com' },
          Condition: { StringEquals: { 'aws:SourceArn': 'arn:aws:s3:::bucket' } } },
        { Effect: 'Allow', Action: 'redshift:CreateInboundIntegration', Principal: { AWS: stack.resolve(new iam.AccountRootPrincipal().arn) },
          Resource: 'arn:aws:redshift-serverless:us-east-1:123456789012:namespace/other' },
      ],
    });
  });
});

describe('RedshiftWarehouse: options', () => {
  test('two warehouses fit in one stack, with distinct valid names', () => {
    const s = new Stack(newApp(), 'Two');
    const vpc = warehouseVpc(s);
    new RedshiftWarehouse(s, 'A', { vpc });
    new RedshiftWarehouse(s, 'B', { vpc });
    const t = Template.fromStack(s);
    const names = [
      ...Object.values<any>(t.findResources('AWS::RedshiftServerless::Namespace')).map((r) => r.Properties.NamespaceName),
      ...Object.values<any>(t.findResources('AWS::RedshiftServerless::Workgroup')).map((r) => r.Properties.WorkgroupName),
    ];
    expect(new Set(names).size).toBe(4);
    for (const n of names) expect(n).toMatch(NAME);
  });

  test('a long construct path still gives names of at most 64 characters', () => {
    const s = new Stack(newApp(), 'AVeryLongStackNameThatGoesOnAndOnForQuiteSomeTimeIndeed');
    new RedshiftWarehouse(s, 'AnEquallyLongConstructIdForTheWarehouseOfTheDataPlatform', { vpc: warehouseVpc(s) });
    const t = Template.fromStack(s);
    expect(propsOf(t, 'AWS::RedshiftServerless::Namespace').NamespaceName).toMatch(NAME);
    expect(propsOf(t, 'AWS::RedshiftServerless::Workgroup').WorkgroupName).toMatch(NAME);
  });

  test('a given key, names, capacities and removal policy are used', () => {
    const s = new Stack(newApp(), 'Given');
    const key = new kms.Key(s, 'MyKey', { enableKeyRotation: true });
    new RedshiftWarehouse(s, 'Warehouse', {
      vpc: warehouseVpc(s), encryptionKey: key, databaseName: 'analytics', adminUsername: 'loader',
      baseCapacity: 32, maxCapacity: 128, removalPolicy: RemovalPolicy.DESTROY,
    });
    const t = Template.fromStack(s);
    t.resourceCountIs('AWS::KMS::Key', 1);
    const ns = propsOf(t, 'AWS::RedshiftServerless::Namespace');
    expect(ns).toMatchObject({ DbName: 'analytics', AdminUsername: 'loader', KmsKeyId: { 'Fn::GetAtt': [s.getLogicalId(key.node.defaultChild as any), 'Arn'] } });
    expect(propsOf(t, 'AWS::RedshiftServerless::Workgroup')).toMatchObject({ BaseCapacity: 32, MaxCapacity: 128 });
    t.hasResource('AWS::RedshiftServerless::Namespace', { DeletionPolicy: 'Delete' });
  });

  test('an isolated-only VPC places the workgroup in its isolated subnets', () => {
    const s = new Stack(newApp(), 'Iso');
    const azs = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
    const vpc = ec2.Vpc.fromVpcAttributes(s, 'Vpc', {
      vpcId: 'vpc-0123456789abcdef0', availabilityZones: azs,
      isolatedSubnetIds: azs.map((_, i) => `subnet-0b${String(i).padStart(15, '0')}`),
      isolatedSubnetRouteTableIds: azs.map((_, i) => `rtb-0b${String(i).padStart(15, '0')}`),
    });
    const w = new RedshiftWarehouse(s, 'Warehouse', { vpc });
    expect(propsOf(Template.fromStack(s), 'AWS::RedshiftServerless::Workgroup').SubnetIds).toEqual(vpc.isolatedSubnets.map((x) => x.subnetId));
    expect(w.vpcSubnets).toEqual({ subnetType: 'Isolated' });
  });

  test('a usage limit is created on the workgroup (serverless-compute, period, breach action), updated by id, deleted by id', () => {
    const { stack, warehouse, template } = warehouseStack({ usageLimit: { rpuHours: 100, period: UsageLimitPeriod.DAILY, breachAction: UsageLimitBreachAction.DEACTIVATE } });
    const t = template();
    const [id, limit] = Object.entries<any>(t.findResources('Custom::RedshiftServerlessUsageLimit'))[0];
    const create = JSON.parse(stack.resolve(limit.Properties.Create)['Fn::Join'][1].map((p: any) => (typeof p === 'string' ? p : 'ARN')).join(''));
    expect(create).toMatchObject({
      service: 'redshift-serverless', action: 'CreateUsageLimit',
      parameters: { resourceArn: 'ARN', usageType: 'serverless-compute', amount: 100, period: 'daily', breachAction: 'deactivate' },
      physicalResourceId: { responsePath: 'usageLimit.usageLimitId' },
    });
    expect(JSON.stringify(limit.Properties.Create)).toContain(stack.getLogicalId(warehouse.cfnWorkgroup));
    expect(JSON.parse(limit.Properties.Update)).toMatchObject({ action: 'UpdateUsageLimit', parameters: { usageLimitId: 'PHYSICAL:RESOURCEID:', amount: 100, breachAction: 'deactivate' } });
    expect(JSON.parse(limit.Properties.Delete)).toMatchObject({ action: 'DeleteUsageLimit', parameters: { usageLimitId: 'PHYSICAL:RESOURCEID:' } });
    expect(stack.resolve(warehouse.usageLimitId)).toEqual({ 'Fn::GetAtt': [id, 'usageLimit.usageLimitId'] });
  });

  test('the usage limit may call the three usage-limit actions only (on "*", the only resource they accept)', () => {
    const { template } = warehouseStack({ usageLimit: { rpuHours: 10 } });
    template().hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [{ Effect: 'Allow', Resource: '*',
        Action: ['redshift-serverless:CreateUsageLimit', 'redshift-serverless:UpdateUsageLimit', 'redshift-serverless:DeleteUsageLimit'] }] },
    });
  });

  test('the usage limit defaults to monthly and emit-metric, which stops nothing and so gets no alarm', () => {
    const { warehouse, template } = warehouseStack({ usageLimit: { rpuHours: 10 } });
    const limit = Object.values<any>(template().findResources('Custom::RedshiftServerlessUsageLimit'))[0];
    const text = JSON.stringify(limit.Properties.Create);
    expect(text).toContain('\\"period\\":\\"monthly\\"');
    expect(text).toContain('\\"breachAction\\":\\"emit-metric\\"');
    expect(warehouse.monitor.alarmsByName.UsageLimitNearlyUsed).toBeUndefined();
  });

  test('a usage limit that deactivates pages before it is reached, on that usage limit\'s id', () => {
    const { stack, warehouse, template } = warehouseStack({ usageLimit: { rpuHours: 40, breachAction: UsageLimitBreachAction.DEACTIVATE } });
    const alarm = template().toJSON().Resources[stack.getLogicalId(warehouse.monitor.alarmsByName.UsageLimitNearlyUsed.node.defaultChild as any)].Properties;
    expect(alarm).toMatchObject({ MetricName: 'UsageLimitAvailable', Threshold: 4, AlarmActions: [{ Ref: expect.stringMatching(/^WarehouseMonitorAlarmTopic/) }] });
    expect(alarm.Dimensions[0]).toEqual({ Name: 'UsageLimitId', Value: stack.resolve(warehouse.usageLimitId) });
  });

  test('alarms page through the given action', () => {
    const s = new Stack(newApp(), 'Action');
    const topic = new sns.Topic(s, 'Pager', { masterKey: new kms.Key(s, 'TopicKey', { enableKeyRotation: true }), enforceSSL: true });
    const w = new RedshiftWarehouse(s, 'Warehouse', { vpc: warehouseVpc(s), alarmAction: new cwActions.SnsAction(topic) });
    expect(w.monitor.alarmTopic).toBeUndefined();
    Template.fromStack(s).hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'QueriesFailed', AlarmActions: [{ Ref: s.getLogicalId(topic.node.defaultChild as any) }] });
  });
});

test('snapshot: a warehouse with a maximum capacity and a usage limit', () => {
  const { template } = warehouseStack({ maxCapacity: 64, usageLimit: { rpuHours: 100, breachAction: UsageLimitBreachAction.DEACTIVATE } });
  expect(template().toJSON()).toMatchSnapshot();
});
