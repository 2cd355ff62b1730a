import { BatchWriteItemCommand, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { assertLoopback, createHashKeyTable, dynamoClient, localAwsEndpoints, LOOPBACK } from './local-aws';

describe('local AWS harness', () => {
  test('every endpoint the global setup published is http://127.0.0.1:<ephemeral port>', () => {
    const endpoints = localAwsEndpoints();
    expect(Object.keys(endpoints).sort()).toEqual(['dynamodb', 'kinesis', 's3']);
    for (const endpoint of Object.values(endpoints)) {
      const url = new URL(endpoint);
      expect(url.protocol).toBe('http:');
      expect(url.hostname).toBe(LOOPBACK);
      expect(Number(url.port)).toBeGreaterThan(0);
    }
    expect(new Set(Object.values(endpoints)).size).toBe(3);
    // The client factories refuse anything else.
    for (const other of ['http://localhost:4567', 'http://0.0.0.0:4567', 'http://[::1]:4567', 'https://127.0.0.1:4567', 'https://kinesis.us-east-1.amazonaws.com']) {
      expect(() => assertLoopback(other)).toThrow(/non-loopback/);
    }
  });

  test('dynalite round-trips CreateTable, BatchWriteItem and GetItem', async () => {
    const ddb = dynamoClient(localAwsEndpoints().dynamodb);
    try {
      const TableName = `smoke-${process.pid}-${Date.now()}`;
      await createHashKeyTable(ddb, TableName);
      const written = await ddb.send(new BatchWriteItemCommand({
        RequestItems: {
          [TableName]: ['a', 'b', 'c'].map((pk, i) => ({ PutRequest: { Item: { pk: { S: pk }, n: { N: String(i) } } } })),
        },
      }));
      expect(written.UnprocessedItems ?? {}).toEqual({});
      const got = await ddb.send(new GetItemCommand({ TableName, Key: { pk: { S: 'b' } }, ConsistentRead: true }));
      expect(got.Item).toEqual({ pk: { S: 'b' }, n: { N: '1' } });
    } finally {
      ddb.destroy();
    }
  });
});
