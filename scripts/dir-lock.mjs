// A cross-process lock on a folder, shared by the environment scripts (python-env.mjs, kafka-env.mjs)
// so parallel jest workers build a venv or fetch jars once.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Holds `lock` (a folder) while `fn` runs; steals it if its holder died or it is older than `staleMs`. */
export function withLock(lock, fn, staleMs = 10 * 60_000) {
  mkdirSync(dirname(lock), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      let holder = NaN;
      try { holder = Number(readFileSync(join(lock, 'pid'), 'utf8')); } catch { /* being written */ }
      let alive = true;
      if (Number.isInteger(holder) && holder > 0) {
        try { process.kill(holder, 0); } catch (err) { alive = err.code === 'EPERM'; }
      }
      let old = false;
      try { old = Date.now() - statSync(lock).mtimeMs > staleMs; } catch { /* just released */ }
      if (!alive || old) rmSync(lock, { recursive: true, force: true });
      else sleep(250);
    }
  }
  try { return fn(); } finally { rmSync(lock, { recursive: true, force: true }); }
}
