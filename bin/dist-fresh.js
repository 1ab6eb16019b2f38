// Which code bin/cdc-fanout.js runs: the compiled dist/ only when it is at least as new as every file
// under src/ (a checkout built once and edited since must never run stale compiled code), else the
// TypeScript sources through tsx. Shared with the benches, which record what the daemon ran.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Newest modification time (ms) of any file under `dir`, or 0 when it does not exist. */
function newest(dir) {
  let max = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    max = Math.max(max, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return max;
}

/** The compiled entry point under `root`, whether it exists, and whether it is fresh (newer than src/). */
export function distState(root) {
  const built = join(root, 'dist', 'cli', 'main.js');
  const exists = existsSync(built);
  return { built, exists, fresh: exists && statSync(built).mtimeMs >= newest(join(root, 'src')) };
}
