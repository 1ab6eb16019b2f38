/**
 * Loads pipeline config files: `--config <file|dir>` (a directory means every *.yaml, *.yml and
 * *.json in it, sorted). Parses YAML/JSON keeping line positions, resolves `${…}` placeholders,
 * validates against the pipeline schema and returns every problem as a located one-line error.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { loadComponents, type ConfigComponents } from './components.js';
import { interpolateString, InterpolationError, type InterpolationContext } from './interpolate.js';
import { describeIssue, formatError, type ConfigError } from './issues.js';
import { formatPath, locate, type ConfigPath } from './locate.js';
import { buildPipelineSchema, type PipelineConfig, type PipelineSchema } from './schema.js';
import { isSecretKey } from './secret.js';

export const CONFIG_EXTENSIONS = ['.yaml', '.yml', '.json'];

export interface LoadedPipeline {
  /** File as shown in messages (relative to the working directory when inside it). */
  readonly file: string;
  readonly config: PipelineConfig;
}

export interface LoadResult {
  readonly pipelines: LoadedPipeline[];
  readonly errors: ConfigError[];
  /** Resolved secret values (from secret fields or ${file:}), masked wherever they would be shown. */
  readonly secrets: Set<string>;
}

export interface LoadOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly components?: ConfigComponents;
  readonly cwd?: string;
}

export class ConfigInvalidError extends Error {
  readonly errors: readonly ConfigError[];
  constructor(errors: readonly ConfigError[]) {
    super(`invalid configuration:\n${errors.map(formatError).join('\n')}`);
    this.name = 'ConfigInvalidError';
    this.errors = errors;
  }
}

/** Lists the config files `target` names (a file, or the config files in a directory). */
export function configFiles(target: string): string[] {
  const st = statSync(target);
  if (!st.isDirectory()) return [target];
  return readdirSync(target)
    .filter((f) => CONFIG_EXTENSIONS.includes(extname(f).toLowerCase()))
    .sort()
    .map((f) => join(target, f));
}

export async function loadConfig(target: string, options: LoadOptions = {}): Promise<LoadResult> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const schema = buildPipelineSchema(options.components ?? (await loadComponents()));
  const secrets = new Set<string>();
  const errors: ConfigError[] = [];
  const pipelines: LoadedPipeline[] = [];
  const abs = isAbsolute(target) ? target : resolve(cwd, target);
  const shown = (f: string) => {
    const rel = relative(cwd, f);
    return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : f;
  };

  let files: string[];
  try {
    files = configFiles(abs);
  } catch (err) {
    errors.push({ file: shown(abs), path: '', message: `cannot read config: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}` });
    return { pipelines, errors, secrets };
  }
  if (files.length === 0) {
    errors.push({ file: shown(abs), path: '', message: `no config files (*.yaml, *.yml, *.json) in this directory` });
  }
  const names = new Map<string, string>();
  for (const f of files) {
    const r = loadFile(f, shown(f), schema, { env, baseDir: dirname(f), secrets });
    errors.push(...r.errors);
    if (r.config) {
      const other = names.get(r.config.name);
      if (other) errors.push({ file: shown(f), path: 'name', message: `duplicate pipeline name "${r.config.name}" (also in ${other})` });
      else {
        names.set(r.config.name, shown(f));
        pipelines.push({ file: shown(f), config: r.config });
      }
    }
  }
  return { pipelines, errors, secrets };
}

/** Like loadConfig but throws ConfigInvalidError when anything is wrong. */
export async function loadConfigOrThrow(target: string, options: LoadOptions = {}): Promise<LoadResult> {
  const r = await loadConfig(target, options);
  if (r.errors.length) throw new ConfigInvalidError(r.errors);
  return r;
}

function loadFile(path: string, file: string, schema: PipelineSchema, ctx: InterpolationContext): { errors: ConfigError[]; config?: PipelineConfig } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { errors: [{ file, path: '', message: `cannot read config file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }] };
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    return {
      errors: doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return { file, path: '', message: `syntax error: ${e.message.split('\n')[0] ?? e.code}`, location: { line: pos.line, col: pos.col } };
      }),
    };
  }
  const raw: unknown = doc.toJS();
  const errors: ConfigError[] = [];
  const at = (p: ConfigPath, key?: string) => locate(doc, lineCounter, p, key);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    return { errors: [{ file, path: '', message: `expected a mapping with name, source, kafka and sinks, got ${raw === null ? 'an empty file' : typeof raw}` }] };
  }
  const data = interpolateTree(raw, [], ctx, (p, message) => errors.push({ file, path: formatPath(p), message, location: at(p) }));
  if (errors.length) return { errors };

  // source.name defaults to the pipeline name.
  const obj = data as Record<string, unknown>;
  if (obj.source && typeof obj.source === 'object' && !Array.isArray(obj.source) && (obj.source as Record<string, unknown>).name === undefined && typeof obj.name === 'string') {
    obj.source = { name: obj.name, ...(obj.source as Record<string, unknown>) };
  }

  const r = schema.safeParse(data);
  if (r.success) return { errors, config: r.data };
  const nameMissing = typeof obj.name !== 'string';
  for (const issue of r.error.issues) {
    // source.name defaults to name: one error for a missing name, not two.
    if (nameMissing && issue.path.length === 2 && issue.path[0] === 'source' && issue.path[1] === 'name') continue;
    for (const d of describeIssue(issue, schema, data, ctx.secrets)) {
      errors.push({ file, path: formatPath(d.path), message: d.message, location: d.key !== undefined ? at(d.path.slice(0, -1), d.key) : at(d.path) });
    }
  }
  return { errors };
}

function interpolateTree(value: unknown, path: ConfigPath, ctx: InterpolationContext, onError: (p: ConfigPath, m: string) => void): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    const last = path[path.length - 1];
    try {
      return interpolateString(value, ctx, typeof last === 'string' && isSecretKey(last));
    } catch (err) {
      if (err instanceof InterpolationError) {
        onError(path, err.message);
        return value;
      }
      throw err;
    }
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateTree(v, [...path, i], ctx, onError));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateTree(v, [...path, k], ctx, onError);
    return out;
  }
  return value;
}
