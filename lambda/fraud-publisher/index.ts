/**
 * fraud-publisher: drains the fraud state table's stream (DynamoDB Streams ESM, NEW_IMAGE, with
 * ReportBatchItemFailures), publishing alert outbox items to SNS and/or EventBridge and closed
 * windows' results to the results table and the lake stream, at least once.
 * Configuration is read and clients are built once, at init (see core.ts `configFromEnv`).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SNSClient } from '@aws-sdk/client-sns';
import { configFromEnv } from './core';
import { createHandler } from './handler';
import { sdkSenders } from './sdk-senders';

const config = configFromEnv(process.env);
// Bounded calls: a hung connection must not eat the time the handler needs to report its checkpoint
// (handler.ts keeps reserveMs, 6 s, above one call's worst case of 5 s). One SDK attempt per call:
// deliver.ts does the retrying, resending only the failed entries, within the invocation's time.
const client = { maxAttempts: 1, requestHandler: { connectionTimeout: 1_000, requestTimeout: 4_000 } };

export const handler = createHandler(config, sdkSenders({
  sns: config.alertTopicArn ? new SNSClient(client) : undefined,
  events: config.alertEventBusName ? new EventBridgeClient(client) : undefined,
  dynamodb: new DynamoDBClient(client),
  kinesis: config.lakeStream ? new KinesisClient(client) : undefined,
}));
