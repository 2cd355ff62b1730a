/**
 * The topics custom resource without a cluster: property decoding, planning rules, the
 * CloudFormation response and the handler's failure path. test/kafka/topics.test.ts runs the
 * same core against a real Kafka cluster.
 */
import { createServer, type IncomingHttpHeaders } from 'http';
import type { AddressInfo } from 'net';
import { putResponse, responseBody, withDeadline } from '../../lambda/kafka-topics/cfn-response';
import { failedCreateId, handleTopicRequest, planDelete, planUpsert, RefusedChange, specFromProperties, topicArnOf, type TopicAdmin, type TopicSpec, type TopicState } from '../../lambda/kafka-topics/core';
import { handler } from '../../lambda/kafka-topics/index';

const CLUSTER = 'arn:aws:kafka:eu-west-1:123456789012:cluster/c/uuid-1';
const spec = (o: Partial<TopicSpec> = {}): TopicSpec => ({ clusterArn: CLUSTER, topicName: 'orders', partitions: 6, replicationFactor: 3, configs: {}, allowReplacement: false, removalPolicy: 'retain', serverless: false, ...o });
const state = (o: Partial<TopicState> = {}): TopicState => ({ partitions: 6, replicationFactor: 3, configs: {}, ...o });

describe('specFromProperties: CloudFormation sends every scalar as a string', () => {
  test('decodes numbers, booleans and defaults', () => {
    expect(specFromProperties({ ClusterArn: CLUSTER, TopicName: 'orders', Partitions: '6', ReplicationFactor: '3', Configs: { 'retention.ms': 1000 }, AllowReplacement: 'true', RemovalPolicy: 'destroy', Serverless: 'false' }))
      .toEqual(spec({ configs: { 'retention.ms': '1000' }, allowReplacement: true, removalPolicy: 'destroy' }));
    expect(specFromProperties({ ClusterArn: CLUSTER, TopicName: 'orders', Partitions: '6' }))
      .toEqual(spec({ replicationFactor: undefined }));
  });

  test.each([
    [{ TopicName: 'orders', Partitions: '6' }, /property ClusterArn is required/],
    [{ ClusterArn: CLUSTER, TopicName: 'a/b', Partitions: '6' }, /TopicName 'a\/b' is not a valid Kafka topic name/],
    [{ ClusterArn: CLUSTER, TopicName: 'orders', Partitions: '0' }, /property Partitions must be a positive integer, got '0'/],
    [{ ClusterArn: CLUSTER, TopicName: 'orders' }, /property Partitions is required/],
    [{ ClusterArn: CLUSTER, TopicName: 'orders', Partitions: '1', RemovalPolicy: 'snapshot' }, /RemovalPolicy must be retain or destroy/],
  ])('refuses malformed properties %#', (props, message) => {
    expect(() => specFromProperties(props)).toThrow(message);
  });

  test('the physical id is the topic ARN derived from the cluster ARN', () => {
    expect(topicArnOf(CLUSTER, 'orders')).toBe('arn:aws:kafka:eu-west-1:123456789012:topic/c/uuid-1/orders');
    expect(() => topicArnOf('arn:aws:kafka:eu-west-1:1:topic/c/u/x', 'orders')).toThrow(/not an MSK cluster ARN/);
  });
});

describe('planUpsert / planDelete', () => {
  test('a missing topic is created with its RF and configs', () => {
    expect(planUpsert(spec({ configs: { a: '1' } }), undefined, undefined)).toEqual([{ op: 'create', topicName: 'orders', partitions: 6, replicationFactor: 3, configs: { a: '1' } }]);
  });

  test('an existing topic matching the spec needs nothing (adopted on Create)', () => {
    expect(planUpsert(spec({ configs: { a: '1' } }), undefined, state({ configs: { a: '1' } }))).toEqual([]);
  });

  test('configs before partitions, each a separate operation', () => {
    expect(planUpsert(spec({ partitions: 8, configs: { a: '2' } }), spec({ configs: { a: '1' } }), state({ configs: { a: '1' } })).map((o) => o.op)).toEqual(['setConfigs', 'increasePartitions']);
  });

  test('refusals: fewer partitions, another RF, a rename without allowReplacement, cleanup.policy on Serverless', () => {
    expect(() => planUpsert(spec({ partitions: 3 }), spec(), state())).toThrow(RefusedChange);
    expect(() => planUpsert(spec({ replicationFactor: 2 }), spec(), state())).toThrow(/replication factor from 3 to 2/);
    expect(() => planUpsert(spec({ topicName: 'orders2' }), spec(), undefined)).toThrow(/renaming topic 'orders' to 'orders2'/);
    expect(() => planUpsert(spec({ clusterArn: CLUSTER.replace('uuid-1', 'uuid-2') }), spec(), undefined)).toThrow(/another cluster/);
    expect(() => planUpsert(spec({ serverless: true, replicationFactor: undefined }), spec({ serverless: true }), state({ configs: { 'cleanup.policy': 'compact' } })))
      .toThrow(/it is 'compact', the template asks for 'delete'/);
  });

  test('after an allowed rename the old properties do not remove configs from the new topic', () => {
    const ops = planUpsert(spec({ topicName: 'orders2', allowReplacement: true, configs: {} }), spec({ configs: { x: '1' } }), state({ configs: { x: '1' } }));
    expect(ops).toEqual([]);
  });

  test('Delete: nothing under retain, nothing when the topic is gone, delete under destroy', () => {
    expect(planDelete(spec(), state())).toEqual([]);
    expect(planDelete(spec({ removalPolicy: 'destroy' }), undefined)).toEqual([]);
    expect(planDelete(spec({ removalPolicy: 'destroy' }), state())).toEqual([{ op: 'delete', topicName: 'orders' }]);
  });
});

describe('handleTopicRequest with an in-memory admin', () => {
  function memoryAdmin(initial?: TopicState): TopicAdmin & { calls: string[] } {
    let topic = initial;
    const calls: string[] = [];
    return {
      calls,
      describe: async () => topic,
      create: async (n, p, rf, c) => { calls.push(`create ${n}`); topic = { partitions: p, replicationFactor: rf ?? 3, configs: c }; },
      increasePartitions: async (n, count) => { calls.push(`partitions ${n} ${count}`); topic = { ...topic!, partitions: count }; },
      setConfigs: async (n, c, validateOnly) => { calls.push(`configs ${n}${validateOnly ? ' (validate)' : ''}`); if (!validateOnly) topic = { ...topic!, configs: c }; },
      delete: async (n) => { calls.push(`delete ${n}`); topic = undefined; },
    };
  }
  const props = { ClusterArn: CLUSTER, TopicName: 'orders', Partitions: '8', Configs: { a: '2' } };

  test('configs are validated by the cluster before any change, then set, then partitions added', async () => {
    const admin = memoryAdmin(state({ configs: { a: '1' } }));
    await handleTopicRequest(admin, { RequestType: 'Update', RequestId: 'r', PhysicalResourceId: topicArnOf(CLUSTER, 'orders'), ResourceProperties: props, OldResourceProperties: { ...props, Partitions: '6', Configs: { a: '1' } } });
    expect(admin.calls).toEqual(['configs orders (validate)', 'configs orders', 'partitions orders 8']);
  });

  test('a Delete for another physical id (a failed Create) does nothing, even under destroy', async () => {
    const admin = memoryAdmin(state());
    const out = await handleTopicRequest(admin, { RequestType: 'Delete', RequestId: 'r', PhysicalResourceId: failedCreateId('r0'), ResourceProperties: { ...props, RemovalPolicy: 'destroy' } });
    expect(out.operations).toEqual([]);
    expect(admin.calls).toEqual([]);
  });
});

describe('CloudFormation response', () => {
  const ids = { RequestType: 'Create', ResponseURL: 'http://x', StackId: 'stack', RequestId: 'req', LogicalResourceId: 'Topic' };

  test('SUCCESS carries the physical id and data; FAILED the reason, truncated', () => {
    expect(responseBody(ids, { ok: true, physicalResourceId: 'arn', data: { TopicArn: 'arn' } }))
      .toEqual({ Status: 'SUCCESS', PhysicalResourceId: 'arn', StackId: 'stack', RequestId: 'req', LogicalResourceId: 'Topic', Data: { TopicArn: 'arn' } });
    const failed = responseBody(ids, { ok: false, physicalResourceId: 'id', reason: 'x'.repeat(5000) });
    expect(failed.Status).toBe('FAILED');
    expect(failed.Reason).toHaveLength(2000);
  });

  test('withDeadline rejects when the work outlives the deadline', async () => {
    await expect(withDeadline(new Promise(() => undefined), 20)).rejects.toThrow(/no result within 0 s/);
    await expect(withDeadline(Promise.resolve(7), 1000)).resolves.toBe(7);
  });

  /** A local server standing in for the pre-signed S3 URL, recording what it receives. */
  async function responseServer(): Promise<{ url: string; received: Promise<{ method?: string; headers: IncomingHttpHeaders; body: any }>; close: () => void }> {
    let done!: (v: { method?: string; headers: IncomingHttpHeaders; body: any }) => void;
    const received = new Promise<{ method?: string; headers: IncomingHttpHeaders; body: any }>((r) => (done = r));
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => { res.end(); done({ method: req.method, headers: req.headers, body: JSON.parse(body) }); });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/presigned?X-Amz-Signature=abc`, received, close: () => server.close() };
  }

  test('putResponse PUTs the JSON with an empty content type (it is part of the S3 signature)', async () => {
    const srv = await responseServer();
    try {
      await putResponse(srv.url, responseBody(ids, { ok: true, physicalResourceId: 'arn' }));
      const got = await srv.received;
      expect(got.method).toBe('PUT');
      expect(got.headers['content-type']).toBe('');
      expect(got.body).toEqual(expect.objectContaining({ Status: 'SUCCESS', PhysicalResourceId: 'arn', RequestId: 'req' }));
    } finally {
      srv.close();
    }
  });

  test('a Delete that keeps the topic answers SUCCESS without reaching the cluster (it may be gone already)', async () => {
    const srv = await responseServer();
    const logged = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const arn = topicArnOf(CLUSTER, 'orders');
      // A cluster in a region nothing answers for: any call to it would fail the request.
      await handler({ ...ids, RequestType: 'Delete', PhysicalResourceId: arn, ResponseURL: srv.url, ResourceProperties: { ClusterArn: CLUSTER, TopicName: 'orders', Partitions: '1' } } as any, { getRemainingTimeInMillis: () => 60_000 });
      expect((await srv.received).body).toEqual(expect.objectContaining({ Status: 'SUCCESS', PhysicalResourceId: arn }));
      expect(logged).toHaveBeenCalledWith(expect.stringContaining('"operations":[]'));
    } finally {
      logged.mockRestore();
      srv.close();
    }
  });

  test('the handler answers FAILED with a topic-free physical id when a Create cannot even reach the cluster', async () => {
    const srv = await responseServer();
    const logged = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await handler({ ...ids, ResponseURL: srv.url, ResourceProperties: { ClusterArn: 'not-an-arn', TopicName: 'orders', Partitions: '1' } } as any, { getRemainingTimeInMillis: () => 60_000 });
      const got = await srv.received;
      expect(got.body).toEqual(expect.objectContaining({ Status: 'FAILED', PhysicalResourceId: failedCreateId('req'), Reason: expect.stringContaining("not an MSK cluster ARN: 'not-an-arn'") }));
      expect(logged).toHaveBeenCalledWith(expect.stringContaining('"error":"Error: not an MSK cluster ARN'));
    } finally {
      logged.mockRestore();
      srv.close();
    }
  });
});
