import * as path from 'path';
import type { IConstruct } from 'constructs';
import { propError } from '../core/errors';
import { ASSET_ROOT } from '../handlers/bundled-function';

type ProblemsOf = (spec: unknown) => string[];
let problemsOf: ProblemsOf | undefined;

/** The spec field a problem starts with (`schema.attributes[0]`, `window.sizeMs`, `rules`). */
function fieldOf(problem: string): string {
  return /^([A-Za-z]+(?:\[\d+\])?(?:\.[A-Za-z]+(?:\[\d+\])?)*)/.exec(problem)?.[1] ?? 'schema';
}

/** The spec's value at `field`, for the message (undefined for a field that is not in the spec). */
function valueAt(spec: unknown, field: string): unknown {
  return field.split(/[.[\]]+/).filter(Boolean).reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), spec);
}

/**
 * Runs the engines' own spec check (lambda/shared/fraud/validate-spec.ts, bundled as
 * assets/lambda/fraud-spec-check) on the compiled spec and fails synth on its first problem, naming
 * the prop. The scorer and closer refuse a spec it rejects at init, so without this a pipeline could
 * deploy whose every invocation fails.
 */
export function checkSpecAsEngines(scope: IConstruct, spec: object): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  problemsOf ??= (require(path.join(ASSET_ROOT, 'fraud-spec-check', 'index.js')) as { fraudSpecProblems: ProblemsOf }).fraudSpecProblems;
  const problems = problemsOf(JSON.parse(JSON.stringify(spec)));
  if (problems.length === 0) return;
  const field = fieldOf(problems[0]);
  const value = valueAt(spec, field);
  const shown = value === undefined || typeof value === 'object' ? '' : `(${JSON.stringify(value).replace(/^"(.*)"$/, "'$1'")}) `;
  // The spec's fields are the props' names, durations in milliseconds (`window.sizeMs` is `window.size`).
  const prop = field.replace(/Ms(?=$|\.)/, '');
  throw propError(scope, prop, `${shown}makes a spec the scorer would refuse at start: ${problems.join('; ')}`);
}
