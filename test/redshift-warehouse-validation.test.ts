import { Aws, Stack } from 'aws-cdk-lib';
import { Annotations as AssertAnnotations, Match, Template } from 'aws-cdk-lib/assertions';
import { RedshiftWarehouse, type RedshiftWarehouseProps } from '../lib/core/redshift-warehouse';
import { warehouseStack, warehouseVpc } from './redshift-warehouse-support';
import { newApp } from './support/nag';

const build = (props: Partial<RedshiftWarehouseProps>, region?: string): RedshiftWarehouse =>
  warehouseStack(props, region ? { env: { account: '123456789012', region } } : {}).warehouse;

describe('RedshiftWarehouse validation', () => {
  test('publiclyAccessible: true is refused', () => {
    expect(() => build({ publiclyAccessible: true })).toThrow(/`publiclyAccessible` \(true\) is not allowed: the warehouse is reachable only from inside its VPC/);
  });

  test.each([4, 8, 16, 128, 512])('baseCapacity %d is accepted', (base) => {
    expect(() => build({ baseCapacity: base })).not.toThrow();
  });

  test.each([0, 2, 6, 12, 520.5, 1056, 2048, -8])('baseCapacity %d is refused', (base) => {
    expect(() => build({ baseCapacity: base })).toThrow(new RegExp(`\`baseCapacity\` \\(${base}\\) must be 4, or 8 to 512 in steps of 8`));
  });

  test('baseCapacity 520 (a step of 8 above 512) is refused', () => {
    expect(() => build({ baseCapacity: 520 })).toThrow(/`baseCapacity` \(520\) must be 4, or 8 to 512 in steps of 8/);
  });

  test('baseCapacity above 512 in steps of 32 is accepted in a Region that offers it', () => {
    expect(() => build({ baseCapacity: 1024 }, 'us-east-1')).not.toThrow();
    expect(() => build({ baseCapacity: 544 }, 'eu-central-1')).not.toThrow();
  });

  test('baseCapacity above 512 is refused in a Region that does not offer it', () => {
    expect(() => build({ baseCapacity: 1024 }, 'ap-southeast-2')).toThrow(/`baseCapacity` \(1024\) in ap-southeast-2 must be 4, or 8 to 512 .* only in us-east-1, us-east-2, us-west-2, eu-west-1, eu-central-1/);
  });

  test('baseCapacity above 512 in an env-agnostic stack warns that only some Regions offer it', () => {
    const { stack } = warehouseStack({ baseCapacity: 768 });
    AssertAnnotations.fromStack(stack).hasWarning('/W/Warehouse', Match.stringLikeRegexp('baseCapacity 768 is above 512 RPUs, which only us-east-1, .* offer; this stack\'s Region is unknown'));
  });

  test('maxCapacity below baseCapacity is refused', () => {
    expect(() => build({ baseCapacity: 32, maxCapacity: 16 })).toThrow(/`maxCapacity` \(16\) must be a whole number of RPUs of at least baseCapacity \(32\)/);
  });

  test('maxCapacity that is not whole is refused', () => {
    expect(() => build({ maxCapacity: 64.5 })).toThrow(/`maxCapacity` \(64.5\) must be a whole number/);
  });

  test.each(['Dev', '1db', 'my-db', 'a$b', '', 'x'.repeat(128)])('databaseName %p is refused', (name) => {
    expect(() => build({ databaseName: name })).toThrow(/`databaseName` \(/);
  });

  test('databaseName with a capital names the rule', () => {
    expect(() => build({ databaseName: 'Sales' })).toThrow(/`databaseName` \('Sales'\) must start with a lowercase letter or underscore/);
  });

  test('databaseName starting with an underscore is refused (CloudFormation: starts with a letter)', () => {
    expect(() => build({ databaseName: '_sales' })).toThrow(/`databaseName` \('_sales'\) must start with a letter and hold only lowercase letters, digits and underscores/);
  });

  test('adminUsername with a hyphen is refused', () => {
    expect(() => build({ adminUsername: 'etl-admin' })).toThrow(/`adminUsername` \('etl-admin'\) must start with a lowercase letter or underscore/);
  });

  test('a token databaseName is refused', () => {
    const s = new Stack(newApp(), 'T');
    expect(() => new RedshiftWarehouse(s, 'W', { vpc: warehouseVpc(s), databaseName: Aws.STACK_NAME }))
      .toThrow(/`databaseName` .* must be a literal name, not a token/);
  });

  test.each([0, -5, 2.5])('usageLimit.rpuHours %p is refused', (hours) => {
    expect(() => build({ usageLimit: { rpuHours: hours } })).toThrow(new RegExp(`\`usageLimit.rpuHours\` \\(${hours}\\) must be a whole number of RPU-hours of at least 1`));
  });

  test('fewer than three subnets are refused', () => {
    const s = new Stack(newApp(), 'Two');
    expect(() => new RedshiftWarehouse(s, 'W', { vpc: warehouseVpc(s, 2) }))
      .toThrow(/`vpcSubnets` selects 2 subnet\(s\); Redshift Serverless needs at least three subnets in three Availability Zones/);
  });

  test('three subnets in two AZs are refused in a known Region other than us-west-1', () => {
    const s = new Stack(newApp(), 'TwoAz', { env: { account: '123456789012', region: 'us-east-1' } });
    // 4 subnets over 2 AZs
    expect(() => new RedshiftWarehouse(s, 'W', { vpc: warehouseVpc(s, 2, 2) }))
      .toThrow(/`vpcSubnets` spans 2 Availability Zone\(s\) \(us-east-1a, us-east-1b\)/);
  });

  test('three subnets in two AZs are accepted in us-west-1', () => {
    const s = new Stack(newApp(), 'TwoAzWest', { env: { account: '123456789012', region: 'us-west-1' } });
    expect(() => new RedshiftWarehouse(s, 'W', { vpc: warehouseVpc(s, 2, 2) })).not.toThrow();
  });

  test('three subnets in two AZs warn in an env-agnostic stack', () => {
    const s = new Stack(newApp(), 'TwoAzAgnostic');
    new RedshiftWarehouse(s, 'W', { vpc: warehouseVpc(s, 2, 2) });
    AssertAnnotations.fromStack(s).hasWarning('/TwoAzAgnostic/W', Match.stringLikeRegexp('vpcSubnets spans two AZs \\(us-east-1a, us-east-1b\\); only us-west-1 accepts that'));
    Template.fromStack(s);
  });
});
