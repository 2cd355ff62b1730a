/**
 * Example consumer of the StreamingLake's stream, written as a user would with
 * `cdk-streaming-pipelines/runtime`: it adds each order's amount to its
 * customer's running total exactly once. The ADD below is not idempotent on
 * its own; the runtime's DynamoDB idempotency on `event_id` makes a retried,
 * redriven or replayed event a skipped duplicate.
 */
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { batchHandler } from 'cdk-streaming-pipelines/runtime';
import { totalUpdateOf } from './core';

const totalsTable = required('TOTALS_TABLE');
const ddb = new DynamoDBClient({});

export const handler = batchHandler(async (record) => {
  const { customerId, amountCents } = totalUpdateOf(record);
  await ddb.send(new UpdateItemCommand({
    TableName: totalsTable,
    Key: { customerId: { S: customerId } },
    UpdateExpression: 'ADD totalCents :amount, orders :one',
    ExpressionAttributeValues: { ':amount': { N: String(amountCents) }, ':one': { N: '1' } },
  }));
}, {
  // The table is IDEMPOTENCY_TABLE, which IdempotencyTable.grantStore(fn) sets.
  idempotency: { keyField: 'event_id' },
  metricsNamespace: 'StreamingPipelinesExample',
});

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`customer-totals: environment variable ${name} is required`);
  return value;
}
