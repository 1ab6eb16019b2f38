import type { RunFlags } from './main.js';
export async function runCommand(_opts: RunFlags): Promise<number> {
  process.stderr.write('run: not implemented yet\n');
  return 1;
}
