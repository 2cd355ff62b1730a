/**
 * The SDK side of the SQL runner: the Redshift Data API, RDS and Redshift clients behind the core's
 * {@link DataApi} and {@link IntegrationApi}. Separate from index.ts so the local Data API test
 * (moto) drives exactly this code with its own endpoint.
 */
import { DescribeIntegrationsCommand as DescribeRdsIntegrations, RDSClient } from '@aws-sdk/client-rds';
import { DescribeIntegrationsCommand as DescribeRedshiftIntegrations, RedshiftClient } from '@aws-sdk/client-redshift';
import { CancelStatementCommand, DescribeStatementCommand, ExecuteStatementCommand, RedshiftDataClient } from '@aws-sdk/client-redshift-data';
import type { DataApi } from './execute';
import type { IntegrationApi } from './integration';

/** Client settings shared by the three clients (the tests point them at a local server). */
export interface SdkConfig {
  readonly region?: string;
  readonly endpoint?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export function sdkDataApi(config: SdkConfig = {}): DataApi {
  const client = new RedshiftDataClient({ ...config });
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
          const out = await rds.send(new DescribeRdsIntegrations({ IntegrationIdentifier: arn.split(':').pop() }));
          return out.Integrations?.[0];
        }
        redshift ??= new RedshiftClient({ ...config });
        const out = await redshift.send(new DescribeRedshiftIntegrations({ IntegrationArn: arn }));
        return out.Integrations?.[0];
      } catch (e) {
        if (notFound(e)) return undefined;
        throw e;
      }
    },
  };
}
