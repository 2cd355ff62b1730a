/**
 * The SDK side of the SQL runner: the Redshift Data API, RDS and Redshift clients behind the core's
 * {@link DataApi} and {@link IntegrationApi}. Separate from index.ts so the local Data API test
 * (moto) drives exactly this code with its own endpoint.
 */
import { DescribeIntegrationsCommand as DescribeRdsIntegrations, RDSClient, type RDSClientConfig } from '@aws-sdk/client-rds';
import { DescribeIntegrationsCommand as DescribeRedshiftIntegrations, RedshiftClient, type RedshiftClientConfig } from '@aws-sdk/client-redshift';
import { CancelStatementCommand, DescribeStatementCommand, ExecuteStatementCommand, RedshiftDataClient, type RedshiftDataClientConfig } from '@aws-sdk/client-redshift-data';
import type { DataApi } from './execute';
import type { IntegrationApi } from './integration';

/** Client settings shared by the three clients (the tests point them at a local server). */
export interface SdkConfig {
  readonly region?: string;
  readonly endpoint?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** The HTTP layer (tests answer with recorded API responses). @default the SDK's */
  readonly requestHandler?: RDSClientConfig['requestHandler'];
}

/**
 * The SDK is the Lambda runtime's (@aws-sdk/* is not bundled). Redshift's DescribeIntegrations is
 * recent (S3 event integrations, 2024): say so plainly if the runtime's client predates it.
 */
function command<T>(ctor: T, what: string): T {
  if (typeof ctor !== 'function') throw new Error(`redshift-sql: the Lambda runtime's AWS SDK has no ${what}; it is too old for this handler`);
  return ctor;
}

export function sdkDataApi(config: SdkConfig = {}): DataApi {
  const client = new RedshiftDataClient({ ...config } as RedshiftDataClientConfig);
  return {
    async executeStatement(request) {
      const out = await client.send(new ExecuteStatementCommand(request));
      if (!out.Id) throw new Error('ExecuteStatement returned no statement Id');
      return { Id: out.Id };
    },
    async describeStatement(id) {
      const out = await client.send(new DescribeStatementCommand({ Id: id }));
      return { Status: out.Status, Error: out.Error, Duration: out.Duration };
    },
    async cancelStatement(id) {
      await client.send(new CancelStatementCommand({ Id: id }));
    },
  };
}

const notFound = (e: unknown): boolean => /IntegrationNotFound/.test((e as Error)?.name ?? '');

export function sdkIntegrationApi(config: SdkConfig = {}): IntegrationApi {
  let rds: RDSClient | undefined;
  let redshift: RedshiftClient | undefined;
  return {
    async describeIntegration(arn, service) {
      try {
        if (service === 'rds') {
          rds ??= new RDSClient({ ...config });
          // RDS documents the integration's id (the ARN's last part) as IntegrationIdentifier.
          const Describe = command(DescribeRdsIntegrations, 'rds DescribeIntegrationsCommand');
          const out = await rds.send(new Describe({ IntegrationIdentifier: arn.split(':').pop() }));
          return out.Integrations?.[0];
        }
        redshift ??= new RedshiftClient({ ...config } as RedshiftClientConfig);
        const Describe = command(DescribeRedshiftIntegrations, 'redshift DescribeIntegrationsCommand');
        const out = await redshift.send(new Describe({ IntegrationArn: arn }));
        return out.Integrations?.[0];
      } catch (e) {
        if (notFound(e)) return undefined;
        throw e;
      }
    },
  };
}
