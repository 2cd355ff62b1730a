import { Annotations, Token } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { IConstruct } from 'constructs';
import { propError } from './errors';
import { identifierProblem } from './redshift-sql-text';
import type { WarehouseUsageLimit } from './warehouse-admin';

/**
 * Regions where a base capacity above 512 RPUs (512–1,024 in steps of 32) is offered, per the
 * Amazon Redshift Management Guide, "Compute capacity for Amazon Redshift Serverless".
 */
export const EXTENDED_CAPACITY_REGIONS = ['us-east-1', 'us-east-2', 'us-west-2', 'eu-west-1', 'eu-central-1'];

/** The one Region where three subnets may span two Availability Zones (Management Guide, "Considerations when using Amazon Redshift Serverless"). */
const TWO_AZ_REGION = 'us-west-1';

/**
 * `baseCapacity` against what Serverless accepts: 4, or 8–512 in steps of 8, or (in the Regions of
 * {@link EXTENDED_CAPACITY_REGIONS}) 512–1,024 in steps of 32. An environment-agnostic stack's Region
 * is unknown at synth: an extended value then gets a warning rather than an error.
 */
export function checkBaseCapacity(scope: IConstruct, base: number, region: string): void {
  if (Token.isUnresolved(base)) return;
  if (base === 4 || (Number.isInteger(base) && base >= 8 && base <= 512 && base % 8 === 0)) return;
  const extended = Number.isInteger(base) && base > 512 && base <= 1024 && base % 32 === 0;
  const rule = 'must be 4, or 8 to 512 in steps of 8 (Redshift Serverless base capacity in RPUs); 512 to 1,024 in steps of 32 only in '
    + EXTENDED_CAPACITY_REGIONS.join(', ');
  if (!extended) throw propError(scope, 'baseCapacity', `(${base}) ${rule}`);
  if (Token.isUnresolved(region)) {
    Annotations.of(scope).addWarningV2('cdk-streaming-pipelines:extendedBaseCapacity',
      `baseCapacity ${base} is above 512 RPUs, which only ${EXTENDED_CAPACITY_REGIONS.join(', ')} offer; this stack's Region is unknown at synth, `
      + 'so CreateWorkgroup will refuse it in any other Region.');
    return;
  }
  if (!EXTENDED_CAPACITY_REGIONS.includes(region)) throw propError(scope, 'baseCapacity', `(${base}) in ${region} ${rule}`);
}

/** `maxCapacity`: a whole number of RPUs, at least the base capacity (a maximum below the base could never apply). */
export function checkMaxCapacity(scope: IConstruct, max: number | undefined, base: number): void {
  if (max === undefined || Token.isUnresolved(max)) return;
  if (!Number.isInteger(max) || max < base) {
    throw propError(scope, 'maxCapacity', `(${max}) must be a whole number of RPUs of at least baseCapacity (${base})`);
  }
}

/**
 * `databaseName` and `adminUsername`: CloudFormation's rule for both is "alphanumeric characters and
 * underscores, starting with a letter"; the quoting helper's rule keeps them lowercase (the warehouse is
 * case-sensitive, so a capital would have to be quoted everywhere). Database names are at most 127 bytes
 * (`identifierProblem`), user names at most 128 bytes (Redshift's CREATE USER).
 */
export function checkName(scope: IConstruct, prop: 'databaseName' | 'adminUsername', name: string): void {
  if (Token.isUnresolved(name)) throw propError(scope, prop, `('${name}') must be a literal name, not a token: the SQL runner and its grants name it`);
  const problem = identifierProblem(name);
  if (problem) throw propError(scope, prop, `('${name}') ${problem}`);
  if (!/^[a-z][a-z0-9_]*$/.test(name)) {
    throw propError(scope, prop, `('${name}') must start with a letter and hold only lowercase letters, digits and underscores `
      + '(CloudFormation: alphanumeric characters and underscores, starting with a letter)');
  }
}

/** The usage limit's amount: a whole number of RPU-hours of at least 1 (the API's `amount` is a positive Long). */
export function checkUsageLimit(scope: IConstruct, limit: WarehouseUsageLimit | undefined): void {
  if (!limit || Token.isUnresolved(limit.rpuHours)) return;
  if (!Number.isInteger(limit.rpuHours) || limit.rpuHours < 1) {
    throw propError(scope, 'usageLimit.rpuHours', `(${limit.rpuHours}) must be a whole number of RPU-hours of at least 1`);
  }
}

/**
 * The workgroup's subnets against Serverless's rule: at least three subnets in three Availability
 * Zones (in us-west-1, three subnets in two AZs). Subnet counts are known at synth for a VPC built in
 * the app; AZs are checked when they are literal names, and the Region when the stack has one.
 */
export function checkSubnets(scope: IConstruct, subnets: ec2.ISubnet[], region: string): void {
  const rule = 'Redshift Serverless needs at least three subnets in three Availability Zones (us-west-1: three subnets in two AZs)';
  if (subnets.length < 3) {
    throw propError(scope, 'vpcSubnets', `selects ${subnets.length} subnet(s); ${rule}. Select more subnets or give the VPC three AZs`);
  }
  const azs = subnets.map((s) => s.availabilityZone);
  if (azs.some((az) => Token.isUnresolved(az))) return;
  const distinct = new Set(azs).size;
  if (distinct >= 3) return;
  if (distinct === 2 && (region === TWO_AZ_REGION || Token.isUnresolved(region))) {
    if (Token.isUnresolved(region)) {
      Annotations.of(scope).addWarningV2('cdk-streaming-pipelines:twoAzWarehouse',
        `vpcSubnets spans two AZs (${[...new Set(azs)].join(', ')}); only us-west-1 accepts that. ${rule}.`);
    }
    return;
  }
  throw propError(scope, 'vpcSubnets', `spans ${distinct} Availability Zone(s) (${[...new Set(azs)].join(', ')}); ${rule}`);
}
