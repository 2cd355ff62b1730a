/** The invocation's metrics: one EMF line. */
import { emfDocument, type EmfMetric } from '../shared/batch/emf';
import type { ReplayResult } from './result';

export const EMF_NAMESPACE = 'StreamingPipelines/Replay';

/**
 * The invocation's one EMF line: metrics under the ReplayStateMachine
 * dimension only (a replay id per execution would create a metric per
 * replay); replay id, lane and the rest of the progress go in as plain
 * properties, searchable in Logs Insights.
 */
export function replayEmf(result: ReplayResult, options: { readonly stateMachineName: string; readonly timestamp?: number }): Record<string, unknown> {
  const pr = result.progress;
  const metrics: EmfMetric[] = [
    ['RecordsReplayed', pr.recordsReplayed, 'Count'],
    ['BytesReplayed', pr.bytesReplayed, 'Bytes'],
    ['ObjectsDone', pr.objectsDone, 'Count'],
    ['ObjectsRemaining', pr.objectsRemaining, 'Count'],
    ['Throttles', pr.throttles, 'Count'],
  ];
  const names = new Set(metrics.map(([name]) => name));
  return {
    ...emfDocument(metrics, { namespace: EMF_NAMESPACE, dimensions: { ReplayStateMachine: options.stateMachineName }, timestamp: options.timestamp }),
    ReplayId: result.replayId,
    Lane: result.lane,
    Done: result.done,
    ...Object.fromEntries(Object.entries(pr).filter(([k]) => !names.has(k.charAt(0).toUpperCase() + k.slice(1)))),
    ...(result.error ? { ErrorCode: result.error.code, ErrorMessage: result.error.message, ErrorObjectKey: result.error.objectKey } : {}),
  };
}
