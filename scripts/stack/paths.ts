/** Where the native stack keeps things: jars under stack/lib, data + logs under the git-ignored .stack/. */
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
export const STACK_SRC = join(REPO_ROOT, 'stack');
export const STACK_LIB = join(STACK_SRC, 'lib');
/** Data, configs, pid files and logs; CDC_STACK_DIR runs a second, separate stack (with other ports). */
export const STATE_DIR = process.env.CDC_STACK_DIR ? resolve(process.env.CDC_STACK_DIR) : join(REPO_ROOT, '.stack');

/** Directory holding one service's config, data, pid file and log. */
export function serviceDir(name: string): string {
  return join(STATE_DIR, name);
}

/** Shorten an absolute path for messages (relative to the repo when inside it). */
export function shown(path: string): string {
  return path.startsWith(REPO_ROOT + '/') ? path.slice(REPO_ROOT.length + 1) : path;
}
