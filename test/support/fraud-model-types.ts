/**
 * Types of the reference model's input and output (see fraud-model.ts for the API).
 */

import type { FraudAlert, FraudInvalidReason, FraudWindowResult, WindowBounds } from '../../lambda/shared/fraud/spec';

export type FraudInputItem =
  | { readonly shard: string; readonly arrivalMs: number; readonly data: unknown }
  | { readonly shard: string; readonly arrivalMs: number; readonly raw: string }
  | { readonly shard: string; readonly tick: { readonly nowMs: number } };

export interface IsoWindow {
  readonly window_start: string;
  readonly window_end: string;
}

/** The corpus file's `expected` block (section 9). */
export interface FraudExpected {
  readonly alerts: FraudAlert[];
  readonly results: FraudWindowResult[];
  readonly late: { readonly event_id: string; readonly late_windows: IsoWindow[] }[];
  readonly invalid: { readonly index: number; readonly reason: FraudInvalidReason }[];
  readonly duplicates: number;
  readonly watermarks: Record<string, string | null>;
}

/** A late-sink line (section 7, without the S3-only sequence number), plus the input index. */
export interface LateSinkRecord {
  readonly index: number;
  readonly event_id: string;
  readonly customer_id: string;
  readonly event_time: string;
  readonly late_windows: IsoWindow[];
  /** The shard's watermark the event was judged against (before the event's own step 5). */
  readonly watermark: string | null;
  readonly shard_id: string;
  readonly payload: Record<string, unknown>;
}

/** A failure-destination line (section 7, without sequence numbers), plus the input index. */
export interface FailureRecord {
  readonly index: number;
  readonly reason: FraudInvalidReason;
  readonly shard_id: string;
  readonly arrival: string;
  readonly payload_base64: string;
}

export type Disposition =
  | { readonly index: number; readonly kind: 'tick' }
  | { readonly index: number; readonly kind: 'invalid'; readonly reason: FraudInvalidReason }
  | { readonly index: number; readonly kind: 'duplicate'; readonly eventId: string }
  | {
      readonly index: number;
      /** `late` when at least one window was late (some may still have been applied), else `applied`. */
      readonly kind: 'applied' | 'late';
      readonly eventId: string;
      readonly applied: WindowBounds[];
      readonly late: WindowBounds[];
      /** Windows of the event that already held its id (skipped, not counted again). */
      readonly duplicate: WindowBounds[];
    };

export interface FraudModelOutput extends FraudExpected {
  readonly lateSink: LateSinkRecord[];
  readonly failures: FailureRecord[];
  readonly dispositions: Disposition[];
  /** Open windows whose state TTL passed before they closed (dropped, no result); 0 in generated streams. */
  readonly expiredOpen: number;
  /** Windows still open at the end (not results), sorted like results. */
  readonly open: { readonly customer_id: string; readonly window_start: string; readonly window_end: string; readonly owner: string }[];
}
