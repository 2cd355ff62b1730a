/**
 * A loopback HTTP proxy that holds every request for a fixed delay before forwarding it: a local
 * stand-in for the network round trip to a real AWS endpoint (DynamoDB in-region: a few ms).
 *
 * Why: dynalite and kinesalite answer in-process with no network latency, so a benchmark or test
 * against them sees only CPU cost. An engine that makes one request per event and one that makes
 * one per batch look alike there; in AWS the first pays a round trip per event. Putting this proxy
 * between the SDK client and the emulator adds that round trip, per HTTP request, as the network would:
 * concurrent requests wait concurrently, requests sent one after another pay it one after another.
 *
 * Each request's body is read in full, held `delayMs`, then sent to the target unchanged (method,
 * path, headers, body); the response comes back unchanged. Both sides keep connections alive (the
 * target through a keep-alive agent), as the SDK and DynamoDB do. Requests are counted by
 * X-Amz-Target (the DynamoDB/Kinesis operation), as bench/hot-path.ts counts them at dynalite.
 *
 * Binds 127.0.0.1 on an ephemeral port only, and forwards to a loopback target only.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { assertLoopback, LOOPBACK } from '../integration/local-aws';

export interface LatencyProxyOptions {
  /** The emulator's endpoint, `http://127.0.0.1:<port>`. */
  readonly target: string;
  /** Held before forwarding each request, in ms. @default 4 (a DynamoDB round trip within a region) */
  readonly delayMs?: number;
}

export interface LatencyProxy {
  /** `http://127.0.0.1:<port>`: point the SDK client here. */
  readonly endpoint: string;
  readonly delayMs: number;
  /** Requests received so far, by operation (X-Amz-Target without its service prefix; `unknown` when absent). */
  counts(): Map<string, number>;
  /** Stops listening and closes every connection, to clients and to the target. */
  close(): Promise<void>;
}

/** The DynamoDB round trip within one region the benchmarks assume (AWS quotes single-digit ms). */
export const DEFAULT_DELAY_MS = 4;

/** `DynamoDB_20120810.PutItem` → `PutItem`; `Kinesis_20131202.PutRecords` → `PutRecords`. */
export function operationOf(target: string | string[] | undefined): string {
  const value = Array.isArray(target) ? target[0] : target;
  return value === undefined || value === '' ? 'unknown' : value.replace(/^[A-Za-z]+_\d+\./, '');
}

/** The request's headers as sent on: the body is forwarded whole, so with its length rather than chunked. */
function forwardedHeaders(headers: http.IncomingHttpHeaders, host: string, length: number): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = { ...headers, host, 'content-length': String(length) };
  delete out['transfer-encoding'];
  return out;
}

/** Starts a proxy in front of `target`; resolves once it listens. */
export async function startLatencyProxy(options: LatencyProxyOptions): Promise<LatencyProxy> {
  const delayMs = options.delayMs ?? DEFAULT_DELAY_MS;
  if (!Number.isFinite(delayMs) || delayMs < 0) throw new Error(`latency-proxy: delayMs must be a finite number >= 0, got ${delayMs}`);
  const target = new URL(assertLoopback(options.target));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const counts = new Map<string, number>();

  const server = http.createServer((req, res) => {
    const op = operationOf(req.headers['x-amz-target']);
    counts.set(op, (counts.get(op) ?? 0) + 1);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      setTimeout(() => forward(req, body, res), delayMs);
    });
  });
  // Node closes idle keep-alive sockets after 5 s; DynamoDB keeps them far longer (see bench/hot-path.ts).
  server.keepAliveTimeout = 600_000;

  const forward = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void => {
    const upstream = http.request({
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: forwardedHeaders(req.headers, target.host, body.length),
      agent,
    }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`latency-proxy: ${e.message}`);
    });
    upstream.end(body);
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  if (address.address !== LOOPBACK) {
    server.close();
    throw new Error(`latency-proxy: bound to ${address.address}, not ${LOOPBACK}`);
  }
  return {
    endpoint: assertLoopback(`http://${LOOPBACK}:${address.port}`),
    delayMs,
    counts: () => new Map(counts),
    close: () => new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      agent.destroy();
      server.close((e) => (e ? reject(e) : resolve()));
    }),
  };
}
