/**
 * The CloudFormation custom-resource protocol: the function itself PUTs the outcome to the
 * pre-signed `ResponseURL` (no Provider framework function in between). A request must always get
 * a response, or the stack waits for the resource's ServiceTimeout: `respondInTime` answers
 * FAILED before the Lambda timeout if the work is still running.
 */
import { request as httpRequest } from 'http';
import { request as httpsRequest } from 'https';

export interface CfnRequestIds {
  readonly RequestType: string;
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
}

export interface CfnResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason?: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly Data?: Record<string, string>;
}

/** CloudFormation shows at most ~4 KB of the response; the reason is the part users read. */
const MAX_REASON = 2000;

export function responseBody(ids: CfnRequestIds, outcome: { ok: true; physicalResourceId: string; data?: Record<string, string> } | { ok: false; physicalResourceId: string; reason: string }): CfnResponse {
  return {
    Status: outcome.ok ? 'SUCCESS' : 'FAILED',
    Reason: outcome.ok ? undefined : outcome.reason.slice(0, MAX_REASON),
    PhysicalResourceId: outcome.physicalResourceId,
    StackId: ids.StackId,
    RequestId: ids.RequestId,
    LogicalResourceId: ids.LogicalResourceId,
    Data: outcome.ok ? outcome.data : undefined,
  };
}

/** PUTs the response to the pre-signed S3 URL (no content type: it is part of the signature). */
export function putResponse(url: string, body: CfnResponse): Promise<void> {
  const payload = JSON.stringify(body);
  // CloudFormation's URL is https; plain http only serves the tests' local server.
  const request = url.startsWith('http:') ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers: { 'content-type': '', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode && res.statusCode < 300 ? resolve() : reject(new Error(`response PUT returned HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Resolves with `work`'s result, or rejects once `ms` have passed: whichever comes first. */
export function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no result within ${Math.round(ms / 1000)} s (the function's timeout is near); nothing after this point was applied by this request`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
