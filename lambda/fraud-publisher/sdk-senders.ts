/**
 * The publisher's senders on the AWS SDK v3 (the Node.js 22 runtime ships it; the bundler keeps
 * `@aws-sdk/*` external). Each client is optional, so a test can pair real local clients (dynalite,
 * kinesalite) with captured SNS and EventBridge calls.
 */
import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { PublishBatchCommand, SNSClient } from '@aws-sdk/client-sns';
import type { PublisherSenders } from './publish';

export interface PublisherClients {
  readonly sns?: SNSClient;
  readonly events?: EventBridgeClient;
  readonly dynamodb?: DynamoDBClient;
  readonly kinesis?: KinesisClient;
}

const missing = (what: string) => (): Promise<never> => Promise.reject(new Error(`fraud-publisher: no ${what} client`));

export function sdkSenders(clients: PublisherClients): PublisherSenders {
  const { sns, events, dynamodb, kinesis } = clients;
  return {
    publishBatch: sns ? (input) => sns.send(new PublishBatchCommand(input)) : missing('SNS'),
    putEvents: events ? (input) => events.send(new PutEventsCommand(input)) : missing('EventBridge'),
    putItem: dynamodb ? (input) => dynamodb.send(new PutItemCommand(input)) : missing('DynamoDB'),
    updateItem: dynamodb ? (input) => dynamodb.send(new UpdateItemCommand(input)) : missing('DynamoDB'),
    putRecords: kinesis ? (input) => kinesis.send(new PutRecordsCommand(input)) : missing('Kinesis'),
  };
}
