/**
 * The runner's integration adapter (lambda/redshift-sql/sdk.ts) through the real RDS and Redshift
 * SDK clients, answered by a request handler playing the APIs' documented XML (moto 5.2.5 has no
 * DescribeIntegrations for either): what the SDK sends, and how it parses statuses, errors and
 * IntegrationNotFoundFault. No AWS endpoint is called.
 */
import { sdkIntegrationApi } from '../../lambda/redshift-sql/sdk';

interface Sent { hostname: string; body: string }

function answering(status: number, xml: string): { sent: Sent[]; requestHandler: any } {
  const sent: Sent[] = [];
  return {
    sent,
    requestHandler: {
      async handle(request: { hostname: string; body: string }) {
        sent.push({ hostname: request.hostname, body: String(request.body) });
        return { response: { statusCode: status, headers: { 'content-type': 'text/xml' }, body: Buffer.from(xml) } };
      },
    },
  };
}

const config = { region: 'eu-west-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
const RDS_ARN = 'arn:aws:rds:eu-west-1:123456789012:integration:5b9f3d79-7392-4a3e-896c-58eaa1b53231';
const REDSHIFT_ARN = 'arn:aws:redshift:eu-west-1:123456789012:integration:a1b2c3d4-5678-90ab-cdef-0123456789ab';

const integrations = (ns: string, inner: string) => `<DescribeIntegrationsResponse xmlns="${ns}"><DescribeIntegrationsResult><Integrations><Integration>${inner}</Integration></Integrations></DescribeIntegrationsResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeIntegrationsResponse>`;

test('an RDS integration is described by its id through rds:DescribeIntegrations, and its status and errors are read', async () => {
  const { sent, requestHandler } = answering(200, integrations('http://rds.amazonaws.com/doc/2014-10-31/',
    '<IntegrationArn>x</IntegrationArn><Status>failed</Status><Errors><IntegrationError><ErrorCode>InvalidParameterCombination</ErrorCode><ErrorMessage>binlog_format must be ROW</ErrorMessage></IntegrationError></Errors>'));
  const view = await sdkIntegrationApi({ ...config, requestHandler }).describeIntegration(RDS_ARN, 'rds');
  expect(view).toMatchObject({ Status: 'failed', Errors: [{ ErrorCode: 'InvalidParameterCombination', ErrorMessage: 'binlog_format must be ROW' }] });
  expect(sent).toHaveLength(1);
  expect(sent[0].hostname).toBe('rds.eu-west-1.amazonaws.com');
  expect(new URLSearchParams(sent[0].body).get('Action')).toBe('DescribeIntegrations');
  expect(new URLSearchParams(sent[0].body).get('IntegrationIdentifier')).toBe('5b9f3d79-7392-4a3e-896c-58eaa1b53231');
});

test('a Redshift integration is described by its ARN through redshift:DescribeIntegrations', async () => {
  const { sent, requestHandler } = answering(200, integrations('http://redshift.amazonaws.com/doc/2012-12-01/', '<IntegrationArn>x</IntegrationArn><Status>active</Status>'));
  expect(await sdkIntegrationApi({ ...config, requestHandler }).describeIntegration(REDSHIFT_ARN, 'redshift')).toMatchObject({ Status: 'active' });
  expect(sent[0].hostname).toBe('redshift.eu-west-1.amazonaws.com');
  const params = new URLSearchParams(sent[0].body);
  expect([params.get('Action'), params.get('IntegrationArn')]).toEqual(['DescribeIntegrations', REDSHIFT_ARN]);
});

test('IntegrationNotFoundFault reads as "no such integration"; other errors are thrown', async () => {
  const fault = (code: string) => `<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type><Code>${code}</Code><Message>m</Message></Error><RequestId>r</RequestId></ErrorResponse>`;
  const missing = answering(404, fault('IntegrationNotFoundFault'));
  expect(await sdkIntegrationApi({ ...config, requestHandler: missing.requestHandler, maxAttempts: 1 } as never).describeIntegration(RDS_ARN, 'rds')).toBeUndefined();
  const denied = answering(403, fault('AccessDenied'));
  await expect(sdkIntegrationApi({ ...config, requestHandler: denied.requestHandler, maxAttempts: 1 } as never).describeIntegration(RDS_ARN, 'rds')).rejects.toMatchObject({ name: 'AccessDenied' });
});
