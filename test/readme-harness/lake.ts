/**
 * Harness for README fragments that build on the Quick start's lake. The snippet test replaces the
 * `// README fragment` line below with the fragment, which brings its own imports and may use:
 *   app, stack        the App and the Stack
 *   lake              a StreamingLake (the Quick start's, on defaults)
 *   stream            lake.stream
 *   backfillStream    a second stream (a replay target)
 *   backfillFn        a consumer function: a BundledFunction running the user's bundle in build/order-totals
 * Its own names are prefixed `readme` so a fragment's imports never collide with them.
 */
import * as readmeCdk from 'aws-cdk-lib';
import * as readmeGlue from 'aws-cdk-lib/aws-glue';
import * as readmeLambda from 'aws-cdk-lib/aws-lambda';
import * as readmeLib from 'cdk-streaming-pipelines';

const app = new readmeCdk.App();
const stack = new readmeCdk.Stack(app, 'Readme');
const lake = new readmeLib.StreamingLake(stack, 'Lake', {
  schema: [
    { name: 'event_id', type: readmeGlue.Schema.STRING },
    { name: 'event_time', type: readmeGlue.Schema.STRING },
    { name: 'customer_id', type: readmeGlue.Schema.STRING },
    { name: 'amount', type: readmeGlue.Schema.decimal(12, 2) },
  ],
  eventTime: { field: 'event_time' },
});
const stream = lake.stream;
const backfillStream = new readmeLib.IngestStream(stack, 'BackfillStream', { encryptionKey: lake.encryptionKey, retention: readmeCdk.Duration.days(1) }).stream;
const backfillFn = new readmeLib.BundledFunction(stack, 'BackfillFunction', {
  handler: 'order-totals',
  code: readmeLambda.Code.fromAsset('build/order-totals'),
  encryptionKey: lake.encryptionKey,
  synchronousInvoker: 'A Lambda event-source mapping invokes this function synchronously; its on-failure destination keeps failed batches.',
}).function;

// README fragment
