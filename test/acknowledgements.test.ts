import { Stack } from 'aws-cdk-lib';
import { addDefaultLake, addFullLake } from '../bin/examples';
import { listAcknowledgements } from '../bin/compliance';
import { newApp } from './support/nag';

/** Acknowledgements are on exact resources and finding ids, each with a specific reason. */
describe.each([['defaults', addDefaultLake], ['all options', addFullLake]])('%s', (_name, add) => {
  const stack = new Stack(newApp(), 'Acks');
  add(stack);
  const acks = listAcknowledgements(stack);

  test('every acknowledgement names one rule of one pack, never a whole pack', () => {
    for (const a of acks) expect(a.id).toMatch(/^(AwsSolutions-[A-Z]+\d+(\[[^\]]+\])?|(HIPAA\.Security|NIST\.800\.53\.R5|PCI\.DSS\.321|Serverless)-[A-Za-z0-9]+|CloudFormation-Validate::W7001)$/);
  });

  test('every acknowledgement carries a specific reason', () => {
    for (const a of acks) expect([a.id, a.reason.length > 60]).toEqual([a.id, true]);
  });

  test('only the unused Firehose CIDR mapping is acknowledged at stack level; everything else on its resource', () => {
    const atStack = acks.filter((a) => a.path === 'Acks');
    expect(atStack.map((a) => a.id)).toEqual(['CloudFormation-Validate::W7001']);
    for (const a of acks.filter((x) => x.path !== 'Acks')) expect(a.path).toMatch(/^Acks\/Lake\//);
  });
});
