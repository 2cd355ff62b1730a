/** The scorer's EMF metrics (contract section 8), from the settled part of each shard's batch. */
import type { EmfMetric } from '../shared/batch/emf';
import type { ShardRun } from './run';

export interface ScorerCounts {
  events: number;
  applied: number;
  duplicates: number;
  late: number;
  invalid: number;
  windowFull: number;
  alerts: number;
  closed: number;
  conflicts: number;
  throttles: number;
}

export function emptyCounts(): ScorerCounts {
  return { events: 0, applied: 0, duplicates: 0, late: 0, invalid: 0, windowFull: 0, alerts: 0, closed: 0, conflicts: 0, throttles: 0 };
}

/** Adds a shard's settled outcomes to `c`. An event applied to some windows and late for others counts in both. */
export function addRun(c: ScorerCounts, run: ShardRun): void {
  for (const o of run.outcomes) {
    c.events++;
    if (o.kind === 'applied') c.applied++;
    // A redelivered record the shard already settled counts with the duplicates (nothing happens to it).
    if (o.kind === 'duplicate' || o.kind === 'redelivered') c.duplicates++;
    if ((o.kind === 'applied' || o.kind === 'late') && o.late.length > 0) c.late++;
    if (o.kind === 'invalid') c.invalid++;
    if (o.kind === 'window_full') c.windowFull++;
  }
  c.alerts += run.alerts.length;
  c.closed += run.results.length;
  c.conflicts += run.conflicts;
}

export function scorerMetrics(c: ScorerCounts): EmfMetric[] {
  return [
    ['Events', c.events, 'Count'], ['Applied', c.applied, 'Count'], ['Duplicates', c.duplicates, 'Count'],
    ['LateEvents', c.late, 'Count'], ['InvalidEvents', c.invalid, 'Count'], ['WindowFull', c.windowFull, 'Count'],
    ['AlertsDecided', c.alerts, 'Count'], ['WindowsClosed', c.closed, 'Count'], ['StateConflicts', c.conflicts, 'Count'],
    ['Throttles', c.throttles, 'Count'],
  ];
}
