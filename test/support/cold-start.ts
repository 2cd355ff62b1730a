/**
 * Loading a Lambda handler module the way a cold start does: a fresh module
 * instance (jest.isolateModules) that reads its environment at init, with the
 * environment put back afterwards so tests and suites never see each other's.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Environment variables to set; `undefined` unsets one. */
export type Env = Record<string, string | undefined>;

const ROOT = path.resolve(__dirname, '..', '..');

function apply(env: Env): void {
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

/** Runs `fn` with `env` applied to process.env, then restores every variable `env` names. */
export function withEnv<T>(env: Env, fn: () => T): T {
  const saved: Env = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  apply(env);
  try {
    return fn();
  } finally {
    apply(saved);
  }
}

/** `env` with every variable of `keys` it does not set unset: a cold start that sees only `env` of those. */
export function onlyEnv(keys: readonly string[], env: Env): Env {
  return { ...Object.fromEntries(keys.map((k) => [k, undefined])), ...env };
}

/** A fresh instance of the module at the absolute `modulePath`, required (module init included) with `env` set. */
export function coldRequire<M>(modulePath: string, env: Env = {}): M {
  if (!path.isAbsolute(modulePath)) throw new Error(`coldRequire needs an absolute path, got ${modulePath}`);
  return withEnv(env, () => {
    let mod: M | undefined;
    jest.isolateModules(() => {
      mod = require(modulePath) as M;
    });
    return mod as M;
  });
}

/** Builds the bundled handler assets (scripts/bundle-handlers.mjs) unless `asset` already exists. */
export function ensureBundled(asset: string): void {
  if (fs.existsSync(asset)) return;
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'bundle-handlers.mjs')], { cwd: ROOT, stdio: 'pipe' });
  if (!fs.existsSync(asset)) throw new Error(`bundle-handlers did not produce ${asset}`);
}
