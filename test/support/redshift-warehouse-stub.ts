/**
 * A stand-in IRedshiftWarehouse for tests of the blocks that load a warehouse (auto-copy,
 * streaming ingestion, zero-ETL) and of the SQL runner's construct, so they need not build a
 * whole warehouse. It records the resource-policy statements and roles it is given;
 * the real warehouse's tests check how those land in the namespace.
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { IRedshiftWarehouse } from '../../lib/core/redshift-refs';

export class StubRedshiftWarehouse extends Construct implements IRedshiftWarehouse {
  public readonly namespaceName = 'stub-namespace';
  public readonly namespaceArn: string;
  public readonly workgroupName = 'stub-workgroup';
  public readonly workgroupArn: string;
  public readonly databaseName = 'dev';
  public readonly adminSecretArn: string;
  public readonly adminSecretKey: kms.IKey;
  public readonly encryptionKey: kms.IKey;
  public readonly vpc: ec2.IVpc;
  public readonly vpcSubnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
  public readonly connections: ec2.Connections;
  public readonly policyStatements: iam.PolicyStatement[] = [];
  public readonly roles: iam.IRole[] = [];

  constructor(scope: Construct, id: string, props: { vpc?: ec2.IVpc } = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    this.vpc = props.vpc ?? new ec2.Vpc(this, 'Vpc', { maxAzs: 3, natGateways: 1 });
    this.encryptionKey = new kms.Key(this, 'Key', { enableKeyRotation: true });
    this.adminSecretKey = this.encryptionKey;
    this.namespaceArn = stack.formatArn({ service: 'redshift-serverless', resource: 'namespace', resourceName: '11111111-2222-3333-4444-555555555555' });
    this.workgroupArn = stack.formatArn({ service: 'redshift-serverless', resource: 'workgroup', resourceName: '66666666-7777-8888-9999-000000000000' });
    this.adminSecretArn = stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: 'redshift!stub-namespace-admin-AbCdEf', arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const sg = new ec2.SecurityGroup(this, 'Workgroup', { vpc: this.vpc, allowAllOutbound: false, description: 'stub workgroup' });
    this.connections = new ec2.Connections({ securityGroups: [sg], defaultPort: ec2.Port.tcp(5439) });
  }

  public addToResourcePolicy(statement: iam.PolicyStatement): void { this.policyStatements.push(statement); }
  public addRole(role: iam.IRole): void { this.roles.push(role); }
}
