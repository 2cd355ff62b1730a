/**
 * The runner's failure reaches CloudFormation's status reason: aws-cdk-lib's own Provider framework
 * code (custom-resources/lib/provider-framework/runtime, the 2.275 the package is tested with) relays a
 * runner error, given in the Lambda service's error payload shape, to the response it PUTs to
 * CloudFormation. Only the framework's outbound calls (Lambda Invoke, the HTTPS PUT) are replaced.
 */
import * as path from 'path';
import { onEvent, type DataApi, type SqlEvent } from '../../lambda/redshift-sql/core';

jest.mock('@aws-sdk/client-lambda', () => ({}), { virtual: true });
jest.mock('@aws-sdk/client-sfn', () => ({}), { virtual: true });

const RUNTIME = path.join(__dirname, '..', '..', 'node_modules', 'aws-cdk-lib', 'custom-resources', 'lib', 'provider-framework', 'runtime');
const FUNCTION_ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:Stack-RedshiftSqlOnEvent-AbC123';

/** The Data API of a warehouse where the COPY target does not exist. */
const failingDataApi: DataApi = {
  async executeStatement() { return { Id: 'stmt-1' }; },
  async describeStatement() { return { Status: 'FAILED', Error: 'ERROR: Cannot COPY into nonexistent table orders' }; },
  async cancelStatement() { /* not reached */ },
};

/** What the Lambda service returns to Invoke when the handler threw `error`. */
function functionErrorPayload(error: Error): { FunctionError: string; Payload: Uint8Array } {
  const payload = { errorType: error.constructor.name, errorMessage: error.message, trace: (error.stack ?? '').split('\n') };
  return { FunctionError: 'Unhandled', Payload: new TextEncoder().encode(JSON.stringify(payload)) };
}

test('a FAILED statement\'s Redshift error is the first line of the reason CloudFormation receives', async () => {
  const outbound = require(path.join(RUNTIME, 'outbound'));
  const framework = require(path.join(RUNTIME, 'framework'));
  const responses: string[] = [];
  outbound.httpRequest = async (_options: unknown, body: string) => { responses.push(body); };
  outbound.invokeFunction = async ({ Payload }: { Payload: string }) => {
    const event = JSON.parse(Payload) as SqlEvent;
    const clock = { now: () => 0, sleep: async () => undefined, random: () => 0.5 };
    return onEvent({ dataApi: failingDataApi, integrations: { describeIntegration: async () => undefined }, clock, deadline: 60_000 }, event)
      .then((result) => ({ Payload: new TextEncoder().encode(JSON.stringify(result)) }), functionErrorPayload);
  };
  process.env.USER_ON_EVENT_FUNCTION_ARN = FUNCTION_ARN;
  const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    await framework.onEvent({
      RequestType: 'Create', RequestId: 'req-1', ResponseURL: 'https://cloudformation-custom-resource-response.s3.amazonaws.com/x?sig',
      StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/S/0b7f6a40-1111-2222-3333-444455556666', LogicalResourceId: 'OrdersCopyJob',
      ResourceType: 'Custom::RedshiftSql',
      ResourceProperties: { ServiceToken: 'x', WorkgroupName: 'wg', Database: 'dev', SecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:s', Create: [{ Sql: 'COPY "orders" FROM \'s3://b/p\'' }] },
    });
  } finally {
    log.mockRestore();
    delete process.env.USER_ON_EVENT_FUNCTION_ARN;
  }
  expect(responses).toHaveLength(1);
  const response = JSON.parse(responses[0]);
  expect(response.Status).toBe('FAILED');
  // A failed Create gets the framework's marker id: the rollback's Delete never reaches the runner (README: guarantees).
  expect(response.PhysicalResourceId).toBe('AWSCDK::CustomResourceProviderFramework::CREATE_FAILED');
  expect(response.Reason.split('\n').slice(0, 3)).toEqual([
    'Create statement 1 of 1 failed in Redshift: ERROR: Cannot COPY into nonexistent table orders. SQL: COPY "orders" FROM \'s3://b/p\'',
    '',
    'Logs: /aws/lambda/Stack-RedshiftSqlOnEvent-AbC123',
  ]);
});
