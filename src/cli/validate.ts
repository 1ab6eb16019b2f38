/** `cdc-fanout validate --config <file|dir>`: exit 0 when every file is valid, else 1 with one located line per error. */
import { formatError } from '../config/issues.js';
import { loadConfig } from '../config/load.js';

export async function validateCommand(target: string, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`), err: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<number> {
  const r = await loadConfig(target);
  for (const e of r.errors) err(formatError(e));
  if (r.errors.length) {
    err(`${r.errors.length} error${r.errors.length === 1 ? '' : 's'}`);
    return 1;
  }
  for (const p of r.pipelines) out(`${p.file}: pipeline "${p.config.name}" ok (${p.config.sinks.length} sink${p.config.sinks.length === 1 ? '' : 's'})`);
  return 0;
}
