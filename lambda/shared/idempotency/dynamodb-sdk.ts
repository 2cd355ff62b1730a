/**
 * The AWS SDK's DynamoDB module, kept out of every exported signature of the runtime: the Lambda
 * Node.js runtime provides the SDK, so a user's project need not install it, and the runtime's
 * shipped types must compile without it.
 */
export type {
  AttributeValue,
  BatchGetItemCommandOutput,
  CancellationReason,
  TransactWriteItem,
} from '@aws-sdk/client-dynamodb';

type DynamoDbModule = typeof import('@aws-sdk/client-dynamodb');
let sdk: DynamoDbModule | undefined;

/**
 * The SDK's DynamoDB module, required on first use: importing the runtime costs
 * a function without idempotency nothing, and `batchHandler` calls this at
 * init when idempotency is on, so the load is paid in the init phase.
 */
export function dynamoDb(): DynamoDbModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (sdk ??= require('@aws-sdk/client-dynamodb') as DynamoDbModule);
}
