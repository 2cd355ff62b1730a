import * as path from 'path';
import { addFullLake } from '../bin/examples';
import { coldRequire, ensureBundled } from './support/cold-start';
import { curatedTable, s3Destination, synth } from './support/template';

/**
 * The construct and the bundled handler agree: the environment the template
 * gives the function makes the shipped asset emit exactly the partition keys the
 * Firehose prefix and the Glue table expect.
 */
const ASSET = path.join(__dirname, '..', 'assets', 'lambda', 'firehose-transform', 'index.js');

function loadHandler(env: Record<string, string>): (event: unknown) => Promise<any> {
  ensureBundled(ASSET);
  return coldRequire<{ handler: (event: unknown) => Promise<any> }>(ASSET, env).handler;
}

const b64 = (o: unknown) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64');

test('the template environment makes the bundled handler emit the prefix and table partition keys', async () => {
  const t = synth((s) => addFullLake(s));
  // The function the curated (Parquet) delivery invokes: the lake also has the archive processor and the replay functions.
  const processors = s3Destination(t).ProcessingConfiguration.Processors;
  expect(processors.map((p: any) => p.Type)).toEqual(['Lambda']);
  const lambdaArn = processors[0].Parameters.find((p: any) => p.ParameterName === 'LambdaArn').ParameterValue;
  const fnId = lambdaArn['Fn::GetAtt'][0];
  expect(fnId).toMatch(/^LakeTransformFunction/);
  const fn = t.toJSON().Resources[fnId].Properties;
  expect(fn.Runtime).toBe('nodejs22.x');
  expect(fn.Handler).toBe('index.handler');
  const handler = loadHandler(fn.Environment.Variables);

  const records = [
    { event_id: 'a', event_time: '2024-12-31T23:30:00-01:00', region: 'eu', tenant: 'acme', device: { geo: { country: 'PT' } } },
    { event_id: 'b', event_time: '2025-01-01T05:29:59+05:30', region: 'apac', tenant: 'globex', device: { geo: { country: 'IN' } } },
  ];
  const res = await handler({
    invocationId: 'i', deliveryStreamArn: 'arn:aws:firehose:us-east-1:111122223333:deliverystream/x', region: 'us-east-1',
    records: [
      ...records.map((r, i) => ({ recordId: `r${i}`, approximateArrivalTimestamp: Date.UTC(2025, 5, 1), data: b64(r) })),
      { recordId: 'bad', approximateArrivalTimestamp: Date.UTC(2025, 5, 1), data: b64('not json') },
      { recordId: 'mars', approximateArrivalTimestamp: Date.UTC(2025, 5, 1), data: b64({ ...records[0], region: 'mars' }) },
    ],
  });

  // 'mars' is outside the p_region enum projection: it goes to the error prefix, not to a partition Athena never reads.
  expect(res.records.map((r: any) => [r.recordId, r.result])).toEqual([['r0', 'Ok'], ['r1', 'Ok'], ['bad', 'ProcessingFailed'], ['mars', 'ProcessingFailed']]);
  expect(res.records[0].metadata.partitionKeys).toEqual({ dt: '2025-01-01', hour: '00', p_region: 'eu', p_tenant: 'acme' });
  expect(res.records[1].metadata.partitionKeys).toEqual({ dt: '2024-12-31', hour: '23', p_region: 'apac', p_tenant: 'globex' });
  const out = JSON.parse(Buffer.from(res.records[0].data, 'base64').toString());
  expect(out).toMatchObject({ event_time: '2025-01-01T00:30:00.000Z', device_country: 'PT' });
  expect(res.records[2].data).toBe(b64('not json'));

  // Keys the handler emits = keys the Firehose prefix uses = the Glue partition keys, in order.
  const prefixKeys = [...s3Destination(t).Prefix.matchAll(/!\{partitionKeyFromLambda:([a-z_]+)\}/g)].map((m) => m[1]);
  const glueKeys = curatedTable(t).Properties.TableInput.PartitionKeys.map((k: any) => k.Name);
  expect(Object.keys(res.records[0].metadata.partitionKeys)).toEqual(prefixKeys);
  expect(prefixKeys).toEqual(glueKeys);
});
