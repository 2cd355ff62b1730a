import { Stack } from 'aws-cdk-lib';
import { addDefaultLake, addFullLake } from '../bin/examples';
import { listAcknowledgements } from '../bin/compliance';
import { newApp } from './support/nag';

/** Acknowledgements are on exact resources and finding ids, each with a specific reason. */
describe.each([['defaults', addDefaultLake], ['all options', addFullLake]])('%s', (_name, add) => {
  const stack = new Stack(newApp(), 'Acks');
  const lake = add(stack);
  const acks = listAcknowledgements(stack);
  /** Finding ids acknowledged on exactly this construct path. */
  const idsAt = (path: string) => acks.filter((a) => a.path === `Acks/Lake/${path}`).map((a) => a.id);
  /** The `<LogicalId.Arn>` cdk-nag names a resource by in an IAM5 finding. */
  const arnOf = (arn: string) => {
    const getAtt = stack.resolve(arn)['Fn::GetAtt'];
    return `<${getAtt[0]}.${getAtt[1]}>`;
  };

  test('every acknowledgement names one rule of one pack, never a whole pack', () => {
    // An IAM5 finding names its resource, which may itself hold brackets (e.g. a Distributed Map's `Fn::Select` of the state machine ARN).
    for (const a of acks) expect(a.id).toMatch(/^(AwsSolutions-[A-Z]+\d+(\[.+\])?|(HIPAA\.Security|NIST\.800\.53\.R5|PCI\.DSS\.321|Serverless)-[A-Za-z0-9]+)$/);
  });

  test('every acknowledgement carries a specific reason', () => {
    for (const a of acks) expect([a.id, a.reason.length > 60]).toEqual([a.id, true]);
  });

  test('nothing is acknowledged at stack level; everything on its resource', () => {
    // The Firehose L2's unused CIDR mapping (aws-cdk-lib's W7001) is no longer rendered, so nothing is left to acknowledge on the stack.
    expect(acks.filter((a) => a.path === 'Acks')).toEqual([]);
    for (const a of acks) expect(a.path).toMatch(/^Acks\/Lake\//);
  });

  test('each delivery stream and its roles carry their own acknowledgements, naming only their own bucket and processor', () => {
    const curatedBucket = arnOf(lake.bucket.bucketArn);
    const rawBucket = arnOf(lake.rawBucket!.bucketArn);
    const archiveProcessor = arnOf(lake.archive!.delivery.processor.functionArn);
    for (const delivery of ['Delivery', 'Raw/Delivery']) {
      expect(idsAt(`${delivery}/Resource`)).toEqual(['AwsSolutions-KDF1']);
      expect(idsAt(`${delivery}/Resource/Service Role`)).toEqual(['HIPAA.Security-IAMNoInlinePolicy', 'NIST.800.53.R5-IAMNoInlinePolicy', 'PCI.DSS.321-IAMNoInlinePolicy']);
    }
    const curatedRole = idsAt('Delivery/Resource/S3 Destination Role');
    expect(curatedRole).toContain(`AwsSolutions-IAM5[Resource::${curatedBucket}/*]`);
    const archiveRole = idsAt('Raw/Delivery/Resource/S3 Destination Role');
    expect(archiveRole).toEqual(expect.arrayContaining([
      `AwsSolutions-IAM5[Resource::${rawBucket}/*]`,
      `AwsSolutions-IAM5[Resource::${archiveProcessor}:*]`,
    ]));
    // Neither role acknowledges a wildcard on the other zone: the curated delivery no longer writes the raw zone.
    expect(curatedRole.filter((id) => id.includes(rawBucket) || id.includes(archiveProcessor))).toEqual([]);
    expect(archiveRole.filter((id) => id.includes(curatedBucket))).toEqual([]);
    // Only the Parquet conversion reads a Glue schema version (Resource::*).
    expect(curatedRole).toContain('AwsSolutions-IAM5[Resource::*]');
    expect(archiveRole).not.toContain('AwsSolutions-IAM5[Resource::*]');
  });

  test('the archive and replay functions, the state machine and the replay state bucket carry their own acknowledgements', () => {
    for (const fn of ['Raw/Delivery/Processor', 'Raw/Replay/Planner', 'Raw/Replay/Worker']) {
      expect([fn, idsAt(`${fn}/Resource`)]).toEqual([fn, expect.arrayContaining(['AwsSolutions-L1', 'Serverless-LambdaDLQ', 'HIPAA.Security-LambdaDLQ'])]);
      expect([fn, idsAt(`${fn}/Role`)]).toEqual([fn, expect.arrayContaining(['AwsSolutions-IAM5[Resource::*]'])]);
    }
    const replay = lake.archive!.replay;
    expect(idsAt('Raw/Replay/Worker/Role')).toEqual(expect.arrayContaining([
      `AwsSolutions-IAM5[Resource::${arnOf(lake.rawBucket!.bucketArn)}/archive/*]`,
      `AwsSolutions-IAM5[Resource::${arnOf(replay.stateBucket.bucketArn)}/replays/*]`,
    ]));
    expect(idsAt('Raw/Replay/Resource/Role')).toEqual(expect.arrayContaining([
      `AwsSolutions-IAM5[Resource::${arnOf(replay.planner.functionArn)}:*]`,
      `AwsSolutions-IAM5[Resource::${arnOf(replay.worker.functionArn)}:*]`,
    ]));
    const mapPolicy = idsAt('Raw/Replay/Resource/DistributedMapPolicy').filter((id) => id.startsWith('AwsSolutions-IAM5'));
    expect(mapPolicy.length).toBeGreaterThan(0);
    // The Distributed Map's wildcards cover only executions of this one state machine.
    const smRef = stack.resolve(replay.stateMachine.stateMachineArn).Ref;
    for (const id of mapPolicy) expect(id).toContain(`"Ref":"${smRef}"`);
    expect(idsAt('Raw/Replay/State/Resource')).toEqual(['HIPAA.Security-S3BucketReplicationEnabled', 'NIST.800.53.R5-S3BucketReplicationEnabled', 'PCI.DSS.321-S3BucketReplicationEnabled']);
  });
});
