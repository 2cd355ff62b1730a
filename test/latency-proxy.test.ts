import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { networkInterfaces } from 'node:os';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { createHashKeyTable, dynamoClient, localAwsEndpoints, LOOPBACK } from './integration/local-aws';
import { operationOf, startLatencyProxy, type LatencyProxy } from './support/latency-proxy';

/** A target that answers every request with what it received: method, url, headers and body (base64). */
async function echoServer(): Promise<{ endpoint: string; received: number; close(): Promise<void> }> {
  const state = { received: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.received++;
      const body = Buffer.concat(chunks);
      res.writeHead(200, { 'content-type': 'application/json', 'x-echo': 'yes' });
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: body.toString('base64') }));
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  return {
    endpoint: `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`,
    get received() { return state.received; },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: Buffer }

function request(endpoint: string, options: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer; agent?: http.Agent }): Promise<Reply> {
  const url = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, method: options.method ?? 'POST', path: options.path ?? '/', headers: options.headers, agent: options.agent,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Resolves with the connect error's code, or 'connected'. */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

describe('latency proxy', () => {
  let echo: Awaited<ReturnType<typeof echoServer>>;
  beforeAll(async () => {
    echo = await echoServer();
  });
  afterAll(async () => {
    await echo.close();
  });

  test('holds every request for delayMs before forwarding it; concurrent requests wait concurrently', async () => {
    const proxy = await startLatencyProxy({ target: echo.endpoint, delayMs: 60 });
    try {
      let t = performance.now();
      await request(proxy.endpoint, { body: Buffer.from('x') });
      expect(performance.now() - t).toBeGreaterThanOrEqual(59);
      t = performance.now();
      await Promise.all(Array.from({ length: 8 }, () => request(proxy.endpoint, { body: Buffer.from('y') })));
      const elapsed = performance.now() - t;
      expect(elapsed).toBeGreaterThanOrEqual(59);
      expect(elapsed).toBeLessThan(8 * 60);
    } finally {
      await proxy.close();
    }
  });

  test('with delayMs 0 it still forwards (the zero-delay control)', async () => {
    const proxy = await startLatencyProxy({ target: echo.endpoint, delayMs: 0 });
    try {
      expect(proxy.delayMs).toBe(0);
      const reply = await request(proxy.endpoint, { body: Buffer.from('z') });
      expect(reply.status).toBe(200);
    } finally {
      await proxy.close();
    }
  });

  test('request and response bodies, method, path and headers pass through unchanged', async () => {
    const proxy = await startLatencyProxy({ target: echo.endpoint, delayMs: 1 });
    try {
      const body = randomBytes(300_000); // binary, over one socket chunk
      const reply = await request(proxy.endpoint, {
        method: 'PUT', path: '/a/b?c=d%20e', body, headers: { 'x-amz-target': 'DynamoDB_20120810.PutItem', 'x-custom': 'kept', 'content-type': 'application/x-amz-json-1.0' },
      });
      expect(reply.status).toBe(200);
      expect(reply.headers['x-echo']).toBe('yes');
      const seen = JSON.parse(reply.body.toString('utf8')) as { method: string; url: string; headers: Record<string, string>; body: string };
      expect(seen.method).toBe('PUT');
      expect(seen.url).toBe('/a/b?c=d%20e');
      expect(seen.headers['x-custom']).toBe('kept');
      expect(seen.headers['x-amz-target']).toBe('DynamoDB_20120810.PutItem');
      expect(Buffer.from(seen.body, 'base64').equals(body)).toBe(true);
      // A chunked request body reaches the target whole, with its length.
      const chunked = await new Promise<Reply>((resolve, reject) => {
        const url = new URL(proxy.endpoint);
        const req = http.request({ host: url.hostname, port: url.port, method: 'POST', path: '/' }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        });
        req.on('error', reject);
        req.write('part1-');
        req.end('part2');
      });
      const seenChunked = JSON.parse(chunked.body.toString('utf8')) as { headers: Record<string, string>; body: string };
      expect(Buffer.from(seenChunked.body, 'base64').toString()).toBe('part1-part2');
      expect(seenChunked.headers['content-length']).toBe('11');
      expect(seenChunked.headers['transfer-encoding']).toBeUndefined();
    } finally {
      await proxy.close();
    }
  });

  test('counts requests by X-Amz-Target, as dynalite receives them through it (real SDK client, keep-alive)', async () => {
    const proxy = await startLatencyProxy({ target: localAwsEndpoints().dynamodb, delayMs: 4 });
    const ddb = dynamoClient(proxy.endpoint);
    try {
      const TableName = await createHashKeyTable(ddb, `latency-proxy-${process.pid}-${Date.now()}`);
      const before = proxy.counts();
      await ddb.send(new PutItemCommand({ TableName, Item: { pk: { S: 'k' }, v: { N: '1' } } }));
      await ddb.send(new PutItemCommand({ TableName, Item: { pk: { S: 'k2' }, v: { N: '2' } } }));
      const got = await ddb.send(new GetItemCommand({ TableName, Key: { pk: { S: 'k' } }, ConsistentRead: true }));
      expect(got.Item).toEqual({ pk: { S: 'k' }, v: { N: '1' } });
      const after = proxy.counts();
      expect((after.get('PutItem') ?? 0) - (before.get('PutItem') ?? 0)).toBe(2);
      expect((after.get('GetItem') ?? 0) - (before.get('GetItem') ?? 0)).toBe(1);
      expect(after.get('CreateTable')).toBe(1);
      expect(operationOf(undefined)).toBe('unknown');
      expect(operationOf('Kinesis_20131202.PutRecords')).toBe('PutRecords');
    } finally {
      ddb.destroy();
      await proxy.close();
    }
  });

  test('binds 127.0.0.1 on an ephemeral port only, and refuses a non-loopback target', async () => {
    const proxy = await startLatencyProxy({ target: echo.endpoint });
    try {
      const url = new URL(proxy.endpoint);
      expect(url.hostname).toBe(LOOPBACK);
      expect(Number(url.port)).toBeGreaterThan(0);
      expect(proxy.delayMs).toBe(4);
      const port = Number(url.port);
      expect(await tryConnect(LOOPBACK, port)).toBe('connected');
      // No other local address answers on that port.
      const others = Object.values(networkInterfaces()).flat()
        .filter((i): i is NonNullable<typeof i> => i !== undefined && i.address !== LOOPBACK && !i.address.startsWith('fe80'))
        .map((i) => i.address);
      for (const address of others) expect(await tryConnect(address, port)).toBe('ECONNREFUSED');
    } finally {
      await proxy.close();
    }
    for (const target of ['http://localhost:1', 'http://10.0.0.1:80', 'https://dynamodb.us-east-1.amazonaws.com']) {
      await expect(startLatencyProxy({ target })).rejects.toThrow(/non-loopback/);
    }
    await expect(startLatencyProxy({ target: echo.endpoint, delayMs: -1 })).rejects.toThrow(/delayMs/);
  });

  test('close() stops listening and drops open keep-alive connections', async () => {
    const proxy: LatencyProxy = await startLatencyProxy({ target: echo.endpoint, delayMs: 1 });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const port = Number(new URL(proxy.endpoint).port);
    try {
      await request(proxy.endpoint, { body: Buffer.from('a'), agent });
      const open = Object.values(agent.freeSockets).flat();
      expect(open).toHaveLength(1);
      const closed = new Promise<void>((resolve) => open[0]!.once('close', () => resolve()));
      await proxy.close();
      await closed;
      expect(await tryConnect(LOOPBACK, port)).toBe('ECONNREFUSED');
      const received = echo.received;
      await expect(request(proxy.endpoint, { body: Buffer.from('b') })).rejects.toThrow(/ECONNREFUSED/);
      expect(echo.received).toBe(received);
    } finally {
      agent.destroy();
    }
  });
});
