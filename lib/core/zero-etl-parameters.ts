/**
 * What Aurora zero-ETL requires of the source cluster: its engine and version, and the values of
 * its DB cluster parameter group. One definition serves the synth-time check of
 * {@link AuroraZeroEtl} and the parameter group the example app creates.
 *
 * Sources (AWS docs, checked Dec 2026): Amazon Aurora User Guide, "Getting started with Aurora
 * zero-ETL integrations", Step 1 (the parameter values) and "Supported Regions and Aurora DB
 * engines for zero-ETL integrations" (the versions).
 */

/** The Aurora engine a zero-ETL integration replicates from. */
export class AuroraZeroEtlEngine {
  /** Aurora MySQL (version 3, MySQL 8.0-compatible, 3.05.2 or later). */
  public static readonly AURORA_MYSQL = new AuroraZeroEtlEngine('aurora-mysql', 'Aurora MySQL');
  /** Aurora PostgreSQL (16.4 or later). */
  public static readonly AURORA_POSTGRESQL = new AuroraZeroEtlEngine('aurora-postgresql', 'Aurora PostgreSQL');

  /** The engine of an RDS `engineType` (`aurora-mysql`, `aurora-postgresql`), or undefined for any other engine. */
  public static fromEngineType(engineType: string): AuroraZeroEtlEngine | undefined {
    return [AuroraZeroEtlEngine.AURORA_MYSQL, AuroraZeroEtlEngine.AURORA_POSTGRESQL].find((e) => e.engineType === engineType);
  }

  private constructor(
    /** The RDS engine type (`aurora-mysql` or `aurora-postgresql`). */
    public readonly engineType: string,
    /** The engine's name in messages. */
    public readonly displayName: string,
  ) {}
}

/** A parameter value that breaks a zero-ETL rule. */
export interface ParameterProblem {
  /** The parameter's name. */
  readonly parameter: string;
  /** Its value in the group, or undefined when the group does not set it. */
  readonly value?: string;
  /** The rule, e.g. "must be ROW". */
  readonly rule: string;
}

interface ParameterRule {
  readonly parameter: string;
  /** The required value; undefined for a "must not be" rule. */
  readonly required?: string;
  /** A value the parameter must not hold (unset is fine: the engine default is allowed). */
  readonly forbidden?: string;
}

/** Aurora MySQL (aurora-mysql8.0 family): enhanced binlog, row-based and full-image binlogs. */
const MYSQL_RULES: ParameterRule[] = [
  { parameter: 'aurora_enhanced_binlog', required: '1' },
  { parameter: 'binlog_backup', required: '0' },
  { parameter: 'binlog_format', required: 'ROW' },
  { parameter: 'binlog_replication_globaldb', required: '0' },
  { parameter: 'binlog_row_image', required: 'full' },
  { parameter: 'binlog_row_metadata', required: 'full' },
  // The docs require these two not to be set to the values below; their defaults (OFF, '') are fine.
  { parameter: 'binlog_transaction_compression', forbidden: 'ON' },
  { parameter: 'binlog_row_value_options', forbidden: 'PARTIAL_JSON' },
];

/** Aurora PostgreSQL (aurora-postgresql16 family and later): enhanced logical replication. */
const POSTGRESQL_RULES: ParameterRule[] = [
  { parameter: 'rds.logical_replication', required: '1' },
  { parameter: 'aurora.enhanced_logical_replication', required: '1' },
  { parameter: 'aurora.logical_replication_backup', required: '0' },
  { parameter: 'aurora.logical_replication_globaldb', required: '0' },
];

function rulesOf(engine: AuroraZeroEtlEngine): ParameterRule[] {
  return engine === AuroraZeroEtlEngine.AURORA_MYSQL ? MYSQL_RULES : POSTGRESQL_RULES;
}

/**
 * The cluster parameters zero-ETL requires for `engine`, exactly as the docs list them: what a
 * new DB cluster parameter group for a zero-ETL source should hold.
 */
export function zeroEtlClusterParameters(engine: AuroraZeroEtlEngine): { [name: string]: string } {
  return Object.fromEntries(rulesOf(engine).filter((r) => r.required !== undefined).map((r) => [r.parameter, r.required!]));
}

/** Values compare case-insensitively (ROW/row, full/FULL), as the engines read them. */
const same = (a: string, b: string): boolean => a.trim().toLowerCase() === b.toLowerCase();

/**
 * The rules `parameters` (a parameter group's literal values) break for `engine`. Values that are
 * tokens cannot be judged and are returned by {@link unresolvedParameters} instead.
 */
export function parameterProblems(engine: AuroraZeroEtlEngine, parameters: { [name: string]: unknown }): ParameterProblem[] {
  const problems: ParameterProblem[] = [];
  for (const rule of rulesOf(engine)) {
    const raw = parameters[rule.parameter];
    if (raw !== undefined && typeof raw !== 'string' && typeof raw !== 'number') continue; // a token: see unresolvedParameters
    const value = raw === undefined ? undefined : String(raw);
    if (rule.required !== undefined && (value === undefined || !same(value, rule.required))) {
      problems.push({ parameter: rule.parameter, value, rule: `must be ${rule.required}` });
    }
    if (rule.forbidden !== undefined && value !== undefined && same(value, rule.forbidden)) {
      problems.push({ parameter: rule.parameter, value, rule: `must not be ${rule.forbidden}` });
    }
  }
  return problems;
}

/** The zero-ETL parameters of `parameters` whose values are not literals (CloudFormation resolves them). */
export function unresolvedParameters(engine: AuroraZeroEtlEngine, parameters: { [name: string]: unknown }): string[] {
  return rulesOf(engine).map((r) => r.parameter).filter((p) => parameters[p] !== undefined && typeof parameters[p] !== 'string' && typeof parameters[p] !== 'number');
}

/** The first engine versions zero-ETL into Redshift supports. */
export const MIN_AURORA_MYSQL_VERSION = '3.05.2';
/** The first Aurora PostgreSQL version zero-ETL into Redshift supports. */
export const MIN_AURORA_POSTGRESQL_VERSION = '16.4';

function atLeast(version: number[], minimum: number[]): boolean {
  for (let i = 0; i < minimum.length; i++) {
    const v = version[i] ?? 0;
    if (v !== minimum[i]) return v > minimum[i];
  }
  return true;
}

/**
 * Why zero-ETL cannot replicate from `engine` at `fullVersion` (as RDS spells it:
 * `8.0.mysql_aurora.3.05.2`, `16.4`), or undefined when it can or the version cannot be read.
 */
export function engineVersionProblem(engine: AuroraZeroEtlEngine, fullVersion: string): string | undefined {
  if (engine === AuroraZeroEtlEngine.AURORA_MYSQL) {
    const m = /mysql_aurora\.(\d+)\.(\d+)\.(\d+)/.exec(fullVersion);
    if (!m) return undefined;
    return atLeast(m.slice(1).map(Number), MIN_AURORA_MYSQL_VERSION.split('.').map(Number)) ? undefined
      : `is not supported by zero-ETL (Aurora MySQL ${MIN_AURORA_MYSQL_VERSION} or later is)`;
  }
  const m = /^(\d+)(?:\.(\d+))?/.exec(fullVersion);
  if (!m) return undefined;
  return atLeast([Number(m[1]), Number(m[2] ?? 0)], MIN_AURORA_POSTGRESQL_VERSION.split('.').map(Number)) ? undefined
    : `is not supported by zero-ETL (Aurora PostgreSQL ${MIN_AURORA_POSTGRESQL_VERSION} or later is)`;
}
