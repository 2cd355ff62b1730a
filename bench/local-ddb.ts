/**
 * dynalite for the benchmarks, with every HTTP request it receives counted by operation, and an optional
 * latency proxy (test/support/latency-proxy.ts) in front of it.
 *
 * startLocalAws() builds dynalite with `require('dynalite')`; while it starts, that export is wrapped so
 * the http.Server it returns gets a `request` listener. Every HTTP request any client sends (SDK retries
 * included) is counted, by X-Amz-Target, whether it came directly or through a proxy.
 */
import type { IncomingMessage, Server } from 'node:http';
import { startLocalAws } from '../test/integration/local-aws';
import { operationOf } from '../test/support/latency-proxy';

export type Bench = (name: string, figures: Record<string, unknown>) => void;

export interface ServerCounter {
  /** HTTP requests received so far, by DynamoDB operation. */
  snapshot(): Map<string, number>;
}

export type LocalAws = Awaited<ReturnType<typeof startLocalAws>>;

/** Starts the local servers with dynalite's http.Server counting every request it receives. */
export async function startCountedLocalAws(what: string): Promise<{ aws: LocalAws; counter: ServerCounter }> {
  const counts = new Map<string, number>();
  let servers = 0;
  const path = require.resolve('dynalite');
  require(path);
  const cached = require.cache[path];
  if (cached === undefined) throw new Error(`bench ${what}: dynalite is not in the require cache`);
  const original = cached.exports as (options: Record<string, unknown>) => Server;
  cached.exports = (options: Record<string, unknown>): Server => {
    const server = original(options);
    servers++;
    // Node closes keep-alive sockets idle for 5 s; a client whose sockets idled through the other side's run
    // then writes to closed sockets (ECONNRESET). DynamoDB keeps idle connections far longer.
    server.keepAliveTimeout = 600_000;
    server.on('request', (req: IncomingMessage) => {
      const target = operationOf(req.headers['x-amz-target']);
      counts.set(target, (counts.get(target) ?? 0) + 1);
    });
    return server;
  };
  let aws;
  try {
    aws = await startLocalAws();
  } finally {
    cached.exports = original;
  }
  if (servers !== 1) {
    await aws.stop();
    throw new Error(`bench ${what}: expected startLocalAws to build one dynalite server through require('dynalite'), saw ${servers}`);
  }
  return { aws, counter: { snapshot: () => new Map(counts) } };
}

export function diff(after: Map<string, number>, before: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [op, n] of after) if (n - (before.get(op) ?? 0) > 0) out[op] = n - (before.get(op) ?? 0);
  return out;
}

export const total = (byOp: Record<string, number>): number => Object.values(byOp).reduce((a, b) => a + b, 0);

export function addInto(acc: Record<string, number>, byOp: Record<string, number>): void {
  for (const [op, n] of Object.entries(byOp)) acc[op] = (acc[op] ?? 0) + n;
}

/** The round trip the `.rtt` figures add per request: BENCH_RTT_MS, default 4 (DynamoDB within a region). */
export function benchRttMs(): number {
  const raw = process.env.BENCH_RTT_MS;
  const ms = raw === undefined || raw === '' ? 4 : Number(raw);
  if (!Number.isFinite(ms) || ms <= 0) throw new Error(`BENCH_RTT_MS must be a number > 0, got ${JSON.stringify(raw)}`);
  return ms;
}

/** `BENCH_ONLY=hot-path.idempotent,fraud`: runs only the named parts (a name also selects its `name.*` sub-parts). Unset: everything. */
export function wanted(part: string): boolean {
  const only = (process.env.BENCH_ONLY ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  return only.length === 0 || only.some((o) => part === o || part.startsWith(`${o}.`) || o.startsWith(`${part}.`));
}
