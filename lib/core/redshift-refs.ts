import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { IConstruct } from 'constructs';

/**
 * A Redshift Serverless warehouse (a namespace and its workgroup) the library's loading blocks
 * (auto-copy, streaming ingestion, zero-ETL) and its SQL runner work against.
 */
export interface IRedshiftWarehouse extends IConstruct, ec2.IConnectable {
  /** The namespace name. */
  readonly namespaceName: string;
  /** The namespace ARN (`arn:…:redshift-serverless:<region>:<account>:namespace/<id>`): the target of integrations. */
  readonly namespaceArn: string;
  /** The workgroup name: what the Data API's `WorkgroupName` names. */
  readonly workgroupName: string;
  /** The workgroup ARN: the resource of `redshift-data:ExecuteStatement`. */
  readonly workgroupArn: string;
  /** The database the warehouse creates and the SQL runner connects to by default. */
  readonly databaseName: string;
  /**
   * ARN of the Secrets Manager secret holding the admin user's credentials (the managed admin
   * password): the SQL runner's Data API `SecretArn`.
   */
  readonly adminSecretArn: string;
  /** The key that encrypts the admin secret (Data API callers need `kms:Decrypt` on it). */
  readonly adminSecretKey: kms.IKey;
  /** The warehouse's key: the namespace's data, its logs, and the key the loading blocks reuse. */
  readonly encryptionKey: kms.IKey;
  /** The VPC of the workgroup. */
  readonly vpc: ec2.IVpc;
  /** The workgroup's subnets. */
  readonly vpcSubnets: ec2.SubnetSelection;

  /**
   * Adds a statement to the namespace's resource policy (`NamespaceResourcePolicy`): integrations
   * into the namespace (S3 event integrations, Aurora zero-ETL) are authorized there.
   */
  addToResourcePolicy(statement: iam.PolicyStatement): void;
  /**
   * Associates `role` with the namespace (`IamRoles`), so SQL can name it in `IAM_ROLE '<arn>'`
   * (COPY, external schemas). A namespace holds at most 50 roles.
   */
  addRole(role: iam.IRole): void;
}
