/**
 * How the payload's event-time field is encoded.
 *
 * Firehose's `!{timestamp}` is the arrival time of the oldest record in an
 * object, so event-time partitions must be derived from the payload. Formats
 * jq 1.6 can parse are handled inline by Firehose; the rest need the bundled
 * transform handler.
 */
export class EventTimeFormat {
  /** Seconds since the Unix epoch, as a number or numeric string (fractions allowed). */
  public static readonly EPOCH_SECONDS = new EventTimeFormat('epoch_seconds', false);
  /** Milliseconds since the Unix epoch, as a number or numeric string. */
  public static readonly EPOCH_MILLIS = new EventTimeFormat('epoch_millis', false);
  /**
   * ISO-8601 in UTC with a `Z` designator, e.g. `2024-06-01T12:00:00Z` or `2024-06-01T12:00:00.123Z`.
   * Strings with a numeric offset fail jq parsing and land in the error prefix.
   */
  public static readonly ISO_8601_UTC = new EventTimeFormat('iso8601_utc', false);
  /**
   * ISO-8601 with any zone designator (`Z`, `+05:30`, `-0800`). jq 1.6 cannot
   * apply offsets, so this format always uses the bundled transform handler.
   */
  public static readonly ISO_8601 = new EventTimeFormat('iso8601', true);

  private constructor(
    /** Identifier passed to the transform handler's `EVENT_TIME_FORMAT`. */
    public readonly id: string,
    /** Whether jq 1.6 cannot derive partitions from this format, so the transform handler must. */
    public readonly requiresTransform: boolean,
  ) {}

  /**
   * jq 1.6 expression turning `path` into whole UTC epoch seconds.
   * Errors (missing field, bad string) make Firehose route the record to the error prefix.
   */
  public jqEpochSeconds(path: string): string {
    switch (this.id) {
      case 'epoch_seconds':
        return `(${path} | tonumber | floor)`;
      case 'epoch_millis':
        return `(${path} | tonumber / 1000 | floor)`;
      case 'iso8601_utc':
        // fromdateiso8601 in jq 1.6 accepts only whole seconds with `Z`: drop the fraction first.
        return `(${path} | sub("\\\\.[0-9]+Z$"; "Z") | fromdateiso8601)`;
      default:
        throw new Error(`EventTimeFormat '${this.id}' cannot be parsed by jq 1.6; use the transform handler`);
    }
  }

  /** The handler's name for the format (it parses offsets for every ISO variant). */
  public get handlerFormat(): string {
    return this.id === 'iso8601_utc' ? 'iso8601' : this.id;
  }
}

/** How finely event time partitions the curated data. */
export class TimeGranularity {
  /** `dt=yyyy-MM-dd`. */
  public static readonly DAY = new TimeGranularity('day');
  /** `dt=yyyy-MM-dd/hour=HH`. Use only when daily objects would exceed ~512 MB per partition. */
  public static readonly HOUR = new TimeGranularity('hour');

  private constructor(
    /** Identifier passed to the transform handler's `EVENT_TIME_GRANULARITY`. */
    public readonly id: string,
  ) {}

  /** Whether an `hour` partition follows `dt`. */
  public get includesHour(): boolean {
    return this.id === 'hour';
  }
}
