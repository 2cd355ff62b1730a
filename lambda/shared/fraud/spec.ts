/**
 * The fraud rule spec: the one definition every engine compiles.
 *
 * `FraudPipeline` (lib/fraud-pipeline) turns its typed props into this JSON and hands it to the
 * engines as data: the Lambda scorer and closer read it from `FRAUD_SPEC`, the Flink job (a later
 * engine) from its runtime properties, and the test suite's reference model from the corpus files.
 * Nothing here is code a rule runs; a rule is a feature, a threshold and a weight.
 *
 * The semantics it encodes are written out in lib/fraud-pipeline/README.md ("Semantics").
 */

/** Spec format version; an engine refuses a version it does not know. */
export const FRAUD_SPEC_VERSION = 1;

export type FraudTimeFormat = 'epoch_seconds' | 'epoch_millis' | 'iso8601';

/** Where each field is in the event (dotted paths into the JSON payload). */
export interface FraudSchemaSpec {
  readonly customerId: string;
  readonly eventId: string;
  readonly eventTime: { readonly field: string; readonly format: FraudTimeFormat };
  readonly amount: string;
  /** Attributes whose distinct values are counted per window, in this order. */
  readonly attributes: readonly string[];
}

/** Windows aligned to the Unix epoch (UTC): starts at every multiple of `slideMs`, each `sizeMs` long. Tumbling: slide = size. */
export interface FraudWindowSpec {
  readonly sizeMs: number;
  readonly slideMs: number;
}

export type FraudFeature = 'count' | 'sum' | 'max' | 'distinct';

export interface FraudRuleSpec {
  /** Unique within the spec; names the rule in alerts and results. e.g. `count_above_10`, `distinct_merchant_id_above_4`. */
  readonly id: string;
  readonly feature: FraudFeature;
  /** For `distinct` only: one of `schema.attributes`. */
  readonly attribute?: string;
  /** The rule holds when the feature is strictly greater than this (finite). */
  readonly threshold: number;
  /** The rule's weight in a score (`scoreAtLeast`). @default 1 */
  readonly weight: number;
}

export type FraudAlertSpec =
  /** One alert per customer, window and rule, when the rule first holds. */
  | { readonly kind: 'anyRule' }
  /** One alert per customer and window, when the sum of weights of the rules holding first reaches `score`. */
  | { readonly kind: 'scoreAtLeast'; readonly score: number };

export interface FraudSpec {
  readonly version: 1;
  readonly schema: FraudSchemaSpec;
  readonly window: FraudWindowSpec;
  /** How far behind its shard's highest event time an event may be and still update its window. */
  readonly allowedLatenessMs: number;
  /** An event stamped more than this after its arrival at the stream is refused (`event_time_in_future`). */
  readonly futureToleranceMs: number;
  /** Distinct counts are exact up to this many values per attribute and window; past it they stay at the cap. */
  readonly distinctCap: number;
  /** Most event ids an alert carries as evidence (the last ones accepted up to the one that fired it). */
  readonly evidenceEventIds: number;
  /** Most distinct events one customer-window accepts (bounds its DynamoDB item under 400 KB); more are refused (`window_full`). */
  readonly maxEventsPerWindow: number;
  readonly rules: readonly FraudRuleSpec[];
  readonly alert: FraudAlertSpec;
  /** How long a window's state (and so deduplication) is kept after the window can no longer change (end + lateness). */
  readonly stateRetentionMs: number;
  /** A shard with no records for this long has its watermark moved by the wall clock (see README, "Quiet shards"). */
  readonly idleTimeoutMs: number;
}

/** Why an event was refused to the failure destination. Engines use exactly these strings. */
export type FraudInvalidReason =
  | 'invalid_json'
  | 'kpl_decode_error'
  | 'missing_customer_id'
  | 'missing_event_id'
  | 'event_id_too_long'
  | 'invalid_event_time'
  | 'event_time_out_of_range'
  | 'event_time_in_future'
  | 'missing_amount'
  | 'invalid_amount'
  | 'invalid_attribute'
  | 'window_full';

/** Longest event id accepted (characters); a longer one is refused with `event_id_too_long`. */
export const MAX_EVENT_ID_LENGTH = 256;

/** A window: [startMs, endMs). */
export interface WindowBounds {
  readonly startMs: number;
  readonly endMs: number;
}

/** The features of one customer-window, as alerts and results carry them. */
export interface FraudFeatures {
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  /** sum / count. */
  readonly avg: number;
  /** Per attribute, in `schema.attributes` order: distinct non-null values, at most `distinctCap`. */
  readonly distinct: { readonly [attribute: string]: number };
}

/** An alert, as published to SNS and EventBridge. Every field is deterministic (no wall-clock time). */
export interface FraudAlert {
  /** `alertId(customerId, window, key)`: consumers dedupe on it. */
  readonly alert_id: string;
  readonly customer_id: string;
  /** ISO-8601 UTC with milliseconds, e.g. `2026-12-03T12:00:30.000Z`. */
  readonly window_start: string;
  readonly window_end: string;
  /** `anyRule`: the rule's id. `scoreAtLeast`: `*score`. */
  readonly alert_key: string;
  /** The rules holding when the alert was decided, in spec order. */
  readonly rules_hit: readonly string[];
  readonly score: number;
  readonly features: FraudFeatures;
  /** The event that made it fire. */
  readonly triggering_event_id: string;
  /** The last `evidenceEventIds` event ids accepted into the window, oldest first, ending with the triggering one. */
  readonly evidence_event_ids: readonly string[];
}

/** The one final result of a closed customer-window (results table row, lake record). */
export interface FraudWindowResult {
  /** `resultId(customerId, window)`. */
  readonly result_id: string;
  readonly customer_id: string;
  readonly window_start: string;
  readonly window_end: string;
  readonly event_count: number;
  readonly amount_sum: number;
  readonly amount_min: number;
  readonly amount_max: number;
  readonly amount_avg: number;
  /** Per attribute: distinct values (capped at `distinctCap`). */
  readonly distinct: { readonly [attribute: string]: number };
  /** Attributes whose distinct count reached the cap (the true count may be higher). */
  readonly distinct_saturated: readonly string[];
  /** Sum of the weights of `rules_hit`. */
  readonly score: number;
  /** Rules holding on the final features, in spec order. */
  readonly rules_hit: readonly string[];
  /** Alert keys decided for this window (rule ids, or `*score`), in the order they fired. */
  readonly alerted: readonly string[];
}

/** The alert key of a `scoreAtLeast` alert. */
export const SCORE_ALERT_KEY = '*score';
