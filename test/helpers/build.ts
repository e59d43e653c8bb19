import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

let done = false;
/**
 * Rebuilds what is stale (scripts/build-if-stale.mjs) before a test runs dist/, bin/ or build/, so it
 * never tests an old build; nothing happens when the build is up to date.
 */
export function ensureBuilt(): void {
  if (done) return;
  execFileSync(process.execPath, [join(import.meta.dirname, '../../scripts/build-if-stale.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] });
  done = true;
}
