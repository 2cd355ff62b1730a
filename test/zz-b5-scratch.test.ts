import { Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import { StreamingLake, EventTimeFormat } from '../lib';
import { s3Destination, synth } from '../test/support/template';
test('b5', () => {
  let lake: StreamingLake;
  const t = synth((s: Stack) => { lake = new StreamingLake(s, 'Lake', {
    schema: [{ name: 'ts', type: glue.Schema.BIG_INT }, { name: 'sku', type: glue.Schema.STRING }],
    eventTime: { field: 'ts', format: EventTimeFormat.EPOCH_MILLIS },
    partitionKeys: [{ field: 'sku', values: Array.from({ length: 200 }, (_, i) => `v${String(i).padStart(19, '0')}`) }],
  });
  const cfn: any = lake.delivery.deliveryStream.node.defaultChild;
  const stack = Stack.of(lake);
  console.log(JSON.stringify(stack.resolve(cfn.extendedS3DestinationConfiguration?.processingConfiguration)).slice(0, 300));
  });
  const p = s3Destination(t).ProcessingConfiguration.Processors[0].Parameters;
  console.log(p.map((x: any) => [x.ParameterName, x.ParameterValue.length]));
});
