/**
 * The multi-VPC connectivity custom resource's core against a fake MSK that behaves like the API:
 * one operation at a time, a CurrentVersion that changes with every operation (a stale one is a
 * ConflictException), UPDATING for a few describes after UpdateConnectivity, then ACTIVE.
 */
import { isComplete, isRetryable, onEvent, step, type ClusterInfoView, type MskConnectivityApi, type VpcConnectivityView } from '../../lambda/kafka-connectivity/core';

const ARN = 'arn:aws:kafka:eu-west-1:123456789012:cluster/orders/de8982fa-8222-4e87-8b20-9bf3cdfa1521-2';

class FakeMsk implements MskConnectivityApi {
  state = 'ACTIVE';
  version = 'K1';
  vpc: VpcConnectivityView | undefined = undefined;
  clusterType = 'PROVISIONED';
  instanceType = 'kafka.m7g.large';
  iam = true;
  updates: { CurrentVersion: string; ConnectivityInfo: { VpcConnectivity: VpcConnectivityView } }[] = [];
  /** Describes left before an UPDATING cluster becomes ACTIVE. */
  private pending = 0;
  private versions = 1;
  /** Set to make the next UpdateConnectivity fail with this error. */
  failNext?: Error;

  async describeClusterV2(clusterArn: string): Promise<ClusterInfoView> {
    expect(clusterArn).toBe(ARN);
    if (this.state === 'UPDATING' && this.pending-- <= 0) this.state = 'ACTIVE';
    return {
      ClusterType: this.clusterType, State: this.state, CurrentVersion: this.version,
      Provisioned: {
        BrokerNodeGroupInfo: { InstanceType: this.instanceType, ConnectivityInfo: this.vpc ? { VpcConnectivity: this.vpc } : {} },
        ClientAuthentication: { Sasl: { Iam: { Enabled: this.iam } } },
      },
    };
  }

  async updateConnectivity(request: { ClusterArn: string; CurrentVersion: string; ConnectivityInfo: { VpcConnectivity: VpcConnectivityView } }): Promise<void> {
    if (this.failNext) { const e = this.failNext; this.failNext = undefined; throw e; }
    if (this.state !== 'ACTIVE') throw named('BadRequestException', 'The request is not valid because the cluster has an ongoing operation.');
    if (request.CurrentVersion !== this.version) throw named('ConflictException', 'The provided cluster version does not match the current version.');
    this.updates.push(request);
    this.state = 'UPDATING';
    this.pending = 3;
    this.vpc = request.ConnectivityInfo.VpcConnectivity;
    this.version = `K${++this.versions}`;
  }
}

function named(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

const create = { RequestType: 'Create' as const, ResourceProperties: { ClusterArn: ARN } };

describe('kafka-connectivity core', () => {
  test('enables IAM multi-VPC with the current version, then waits UPDATING → ACTIVE before completing', async () => {
    const msk = new FakeMsk();
    expect(await onEvent(msk, create)).toEqual({ PhysicalResourceId: `${ARN}/multi-vpc-iam` });
    expect(msk.updates).toEqual([{ ClusterArn: ARN, CurrentVersion: 'K1', ConnectivityInfo: { VpcConnectivity: { ClientAuthentication: { Sasl: { Iam: { Enabled: true } } } } } }]);
    const polls: boolean[] = [];
    for (let i = 0; i < 6; i++) polls.push((await isComplete(msk, create)).IsComplete);
    expect(polls).toEqual([false, false, false, true, true, true]);
    expect(await isComplete(msk, create)).toEqual({ IsComplete: true, Data: { CurrentVersion: 'K2' } });
    expect(msk.updates).toHaveLength(1);
  });

  test('an already enabled cluster is a no-op', async () => {
    const msk = new FakeMsk();
    msk.vpc = { ClientAuthentication: { Sasl: { Iam: { Enabled: true } } } };
    await onEvent(msk, create);
    expect(await isComplete(msk, create)).toEqual({ IsComplete: true, Data: { CurrentVersion: 'K1' } });
    expect(msk.updates).toEqual([]);
  });

  test('waits while the cluster is busy with another operation (CREATING, UPDATING) without calling UpdateConnectivity', async () => {
    const msk = new FakeMsk();
    msk.state = 'CREATING';
    expect(await step(msk, ARN)).toEqual({ done: false, waitingFor: 'cluster CREATING before UpdateConnectivity' });
    expect(msk.updates).toEqual([]);
    msk.state = 'ACTIVE';
    expect((await step(msk, ARN)).done).toBe(false);
    expect(msk.updates).toHaveLength(1);
  });

  test('a version conflict (another update slipped in) is retried on the next poll with the new version', async () => {
    const msk = new FakeMsk();
    msk.failNext = named('ConflictException', 'The provided cluster version does not match the current version.');
    expect(await step(msk, ARN)).toMatchObject({ done: false, waitingFor: expect.stringContaining('ConflictException') });
    expect(msk.updates).toEqual([]);
    msk.version = 'K7';
    await step(msk, ARN);
    expect(msk.updates.map((u) => u.CurrentVersion)).toEqual(['K7']);
  });

  test('keeps the other VPC connectivity schemes as they are', async () => {
    const msk = new FakeMsk();
    msk.vpc = { ClientAuthentication: { Sasl: { Scram: { Enabled: true }, Iam: { Enabled: false } }, Tls: { Enabled: true } } };
    await step(msk, ARN);
    expect(msk.updates[0].ConnectivityInfo.VpcConnectivity).toEqual({ ClientAuthentication: { Sasl: { Scram: { Enabled: true }, Iam: { Enabled: true } }, Tls: { Enabled: true } } });
  });

  test.each([
    ['a Serverless cluster', (m: FakeMsk) => { m.clusterType = 'SERVERLESS'; }, /MSK SERVERLESS cluster/],
    ['t3 brokers', (m: FakeMsk) => { m.instanceType = 'kafka.t3.small'; }, /t3 brokers/],
    ['no IAM client authentication', (m: FakeMsk) => { m.iam = false; }, /IAM client authentication/],
    ['a FAILED cluster', (m: FakeMsk) => { m.state = 'FAILED'; }, /is FAILED/],
  ])('fails at once on %s instead of polling for hours', async (_what, arrange, message) => {
    const msk = new FakeMsk();
    arrange(msk);
    await expect(onEvent(msk, create)).rejects.toThrow(message);
    expect(msk.updates).toEqual([]);
  });

  test('a permanent UpdateConnectivity error fails the resource with MSK\'s message', async () => {
    const msk = new FakeMsk();
    msk.failNext = named('BadRequestException', 'Multi-VPC is not supported for this Kafka version.');
    await expect(step(msk, ARN)).rejects.toThrow(/BadRequestException: Multi-VPC is not supported/);
  });

  test('classifies MSK errors: not-now errors retry, the rest fail', () => {
    expect(isRetryable(named('ConflictException', 'x'))).toBe(true);
    expect(isRetryable(named('TooManyRequestsException', 'x'))).toBe(true);
    expect(isRetryable(named('BadRequestException', 'The cluster has an ongoing operation'))).toBe(true);
    expect(isRetryable(named('BadRequestException', 'Invalid authentication setting'))).toBe(false);
    expect(isRetryable(named('ForbiddenException', 'not authorized'))).toBe(false);
  });

  test('delete leaves connectivity alone and is complete at once', async () => {
    const msk = new FakeMsk();
    const del = { RequestType: 'Delete' as const, PhysicalResourceId: `${ARN}/multi-vpc-iam`, ResourceProperties: { ClusterArn: ARN } };
    expect(await onEvent(msk, del)).toEqual({ PhysicalResourceId: `${ARN}/multi-vpc-iam` });
    expect(await isComplete(msk, del)).toEqual({ IsComplete: true });
    expect(msk.updates).toEqual([]);
  });

  test('refuses a ClusterArn that is not an MSK cluster ARN', async () => {
    await expect(onEvent(new FakeMsk(), { RequestType: 'Create', ResourceProperties: { ClusterArn: 'orders' } })).rejects.toThrow(/ClusterArn must be an MSK cluster ARN/);
  });
});
