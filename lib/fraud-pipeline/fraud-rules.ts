import type { Duration } from 'aws-cdk-lib';
import type { EventTimeFormat } from '../core/event-time';

/** Where the event time is in a payload, and how it is written. */
export interface FraudEventTime {
  /** Dotted path of the field in the JSON payload (e.g. `ts` or `meta.time`). */
  readonly field: string;
  /**
   * Its encoding. Both ISO formats accept any zone designator (`Z`, `+05:30`): the scorer parses
   * offsets itself; a zone-less string is refused as `invalid_event_time`.
   * @default EventTimeFormat.ISO_8601
   */
  readonly format?: EventTimeFormat;
}

/** Where each field of a transaction is in the JSON payload (dotted paths). */
export interface FraudSchema {
  /** The customer id: the windows' key. Producers use it as the record's partition key. */
  readonly customerId: string;
  /** The event id (at most 256 characters): duplicates, redeliveries and replays are recognised by it. */
  readonly eventId: string;
  /** The event time, which places an event in its windows. */
  readonly eventTime: FraudEventTime;
  /** The amount: a JSON number, or a decimal string (`"12.50"`). */
  readonly amount: string;
  /**
   * Attributes whose distinct values are counted per customer-window (`FraudRule.distinctAbove`),
   * e.g. `['merchant_id', 'country']`. Missing or null values are not counted.
   * @default - none
   */
  readonly attributes?: string[];
}

/** A window shape: tumbling or hopping, aligned to the Unix epoch in UTC. */
export class FraudWindow {
  /** Back-to-back windows of `size` (whole seconds): every event is in exactly one. */
  public static tumbling(size: Duration): FraudWindow {
    return new FraudWindow(size, size, false);
  }

  /**
   * Windows of `size` starting every `slide` (whole seconds, `size` a multiple of `slide`): every
   * event is in `size / slide` windows, and state grows by as much.
   */
  public static hopping(size: Duration, slide: Duration): FraudWindow {
    return new FraudWindow(size, slide, true);
  }

  private constructor(
    /** Length of a window. */
    public readonly size: Duration,
    /** Distance between two window starts (= `size` for tumbling windows). */
    public readonly slide: Duration,
    /** Whether it was made by `hopping` (errors then name `slide`). */
    public readonly isHopping: boolean,
  ) {}
}

/** Options of a {@link FraudRule}. */
export interface FraudRuleOptions {
  /**
   * Names the rule in alerts and results (`alert_key`, `rules_hit`); unique in the pipeline.
   * @default - derived: `count_above_10`, `sum_above_5000`, `max_above_2500`, `distinct_merchant_id_above_4`
   */
  readonly id?: string;
  /** The rule's weight in a score (`AlertPolicy.scoreAtLeast`), greater than 0. @default 1 */
  readonly weight?: number;
}

/** A rule: a window feature, a threshold it must exceed, and a weight. Rules are data, not code. */
export class FraudRule {
  /** Holds when the window has more than `threshold` events. */
  public static countAbove(threshold: number, options: FraudRuleOptions = {}): FraudRule {
    return new FraudRule('count', threshold, undefined, options);
  }

  /** Holds when the window's amounts sum to more than `threshold`. */
  public static sumAbove(threshold: number, options: FraudRuleOptions = {}): FraudRule {
    return new FraudRule('sum', threshold, undefined, options);
  }

  /** Holds when one amount in the window is more than `threshold`. */
  public static maxAbove(threshold: number, options: FraudRuleOptions = {}): FraudRule {
    return new FraudRule('max', threshold, undefined, options);
  }

  /**
   * Holds when the window has more than `threshold` distinct values of `attribute` (one of
   * `schema.attributes`). Distinct counts are exact up to `distinctCap`, so `threshold` must be below it.
   */
  public static distinctAbove(attribute: string, threshold: number, options: FraudRuleOptions = {}): FraudRule {
    return new FraudRule('distinct', threshold, attribute, options);
  }

  /** The rule's id (given, or derived from feature, attribute and threshold). */
  public readonly id: string;
  /** Its weight in a score. */
  public readonly weight: number;

  private constructor(
    /** `count`, `sum`, `max` or `distinct`. */
    public readonly feature: string,
    /** The rule holds when the feature is strictly greater than this. */
    public readonly threshold: number,
    /** The attribute of a `distinct` rule. */
    public readonly attribute: string | undefined,
    options: FraudRuleOptions,
  ) {
    this.id = options.id ?? `${feature}${attribute !== undefined ? `_${attribute}` : ''}_above_${threshold}`;
    this.weight = options.weight ?? 1;
  }
}

/** When a customer-window raises an alert. Each alert is decided once, when it first holds. */
export class AlertPolicy {
  /** One alert per customer, window and rule, as soon as the rule holds. */
  public static anyRule(): AlertPolicy {
    return new AlertPolicy('anyRule');
  }

  /** One alert per customer and window, as soon as the weights of the rules holding add up to `score` or more. */
  public static scoreAtLeast(score: number): AlertPolicy {
    return new AlertPolicy('scoreAtLeast', score);
  }

  private constructor(
    /** `anyRule` or `scoreAtLeast`. */
    public readonly kind: string,
    /** The score of `scoreAtLeast`. */
    public readonly score?: number,
  ) {}
}

/** The rules and their windows: what the engines compile (lambda/shared/fraud/spec.ts). */
export interface FraudSpecProps {
  /** Where customer, event id, event time, amount and attributes are in the payload. */
  readonly schema: FraudSchema;
  /** The window shape: `FraudWindow.tumbling(size)` or `FraudWindow.hopping(size, slide)`. */
  readonly window: FraudWindow;
  /**
   * How far behind its shard's highest event time an event may be and still update its window.
   * At most the stream's retention. Results are final this long after a window's end.
   */
  readonly allowedLateness: Duration;
  /** The rules, evaluated in this order (at least one). */
  readonly rules: FraudRule[];
  /** When an alert fires. @default AlertPolicy.anyRule() */
  readonly alertWhen?: AlertPolicy;
  /** An event stamped more than this after its arrival is refused (`event_time_in_future`). @default Duration.minutes(5) */
  readonly futureTolerance?: Duration;
  /** Distinct counts are exact up to this many values per attribute and window; past it they stay at the cap (`distinct_saturated`). @default 100 */
  readonly distinctCap?: number;
  /** Most event ids an alert carries as evidence. @default 10 */
  readonly evidenceEventIds?: number;
  /**
   * Most distinct events one customer-window accepts; more are refused (`window_full`). Bounded so the
   * window's DynamoDB item stays under 400 KB (see lib/fraud-pipeline/README.md, "Bounds").
   * @default 20000
   */
  readonly maxEventsPerWindow?: number;
  /** How long a window's state (and so deduplication) is kept after end + lateness. @default Duration.days(7) */
  readonly stateRetention?: Duration;
  /** A shard without records for this long has its watermark moved by the wall clock (see "Quiet shards"). @default Duration.minutes(1) */
  readonly idleTimeout?: Duration;
}

