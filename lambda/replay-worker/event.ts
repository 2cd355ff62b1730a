/** The handler's configuration (environment) and its event, turned into the worker's input. */
import { isObject } from '../shared/unknown';
import { PREFIX, ReplayInputError, type ReplayInput } from './input';

export interface ReplayWorkerConfig {
  readonly stateBucket: string;
  readonly statePrefix: string;
  readonly stateMachineName: string;
}

export function parseWorkerConfig(env: Readonly<Record<string, string | undefined>>): ReplayWorkerConfig {
  const problems: string[] = [];
  const stateBucket = env.STATE_BUCKET ?? '';
  if (stateBucket === '') problems.push('STATE_BUCKET is required');
  const statePrefix = env.STATE_PREFIX ?? '';
  if (!PREFIX.test(statePrefix)) problems.push(`STATE_PREFIX must be '' or path segments ending with '/', got '${statePrefix}'`);
  const stateMachineName = env.REPLAY_STATE_MACHINE_NAME ?? '';
  if (stateMachineName === '') problems.push('REPLAY_STATE_MACHINE_NAME is required (the EMF dimension)');
  if (problems.length > 0) throw new Error(`replay-worker: invalid configuration: ${problems.join('; ')}`);
  return { stateBucket, statePrefix, stateMachineName };
}

const EVENT_FIELDS = ['replayId', 'archiveBucket', 'archivePrefix', 'lane', 'fromMs', 'toMs', 'targetStream', 'targetTopic', 'filter', 'rate', 'tagging', 'cursor'] as const;

/**
 * The worker's input from a Step Functions event: the fields above (state
 * location from the environment, never from the event). A lane may come as a
 * number (3 → '03'), a time as an ISO-8601 string; the rest is validated by
 * replayLane.
 */
export function toReplayInput(event: unknown, config: ReplayWorkerConfig): ReplayInput {
  if (!isObject(event)) throw new ReplayInputError('replay-worker: the event must be an object');
  const picked: Record<string, unknown> = {};
  for (const k of EVENT_FIELDS) if (event[k] !== undefined && event[k] !== null) picked[k] = event[k];
  if (typeof picked.lane === 'number' && Number.isInteger(picked.lane) && picked.lane >= 0 && picked.lane <= 99) {
    picked.lane = String(picked.lane).padStart(2, '0');
  }
  for (const k of ['fromMs', 'toMs']) {
    if (typeof picked[k] === 'string') {
      const ms = Date.parse(picked[k] as string);
      if (!Number.isNaN(ms)) picked[k] = ms;
    }
  }
  picked.archivePrefix ??= '';
  return { ...(picked as unknown as ReplayInput), stateBucket: config.stateBucket, statePrefix: config.statePrefix };
}
