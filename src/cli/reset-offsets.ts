import type { ResetFlags } from './program.js';
export async function resetOffsetsCommand(_p: string, _opts: ResetFlags): Promise<number> {
  process.stderr.write('reset-offsets: not implemented yet\n');
  return 1;
}
