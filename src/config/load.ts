/**
 * Loads pipeline config files: `--config <file|dir>` (a directory means every *.yaml, *.yml and
 * *.json in it, sorted). Parses YAML/JSON keeping line positions, resolves `${…}` placeholders,
 * validates against the pipeline schema and returns every problem as a located one-line error.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { isScalar, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { loadComponents, type ConfigComponents } from './components.js';
import { findConflicts, type PipelineForConflicts } from './conflicts.js';
import { interpolateString, InterpolationError, type InterpolationContext } from './interpolate.js';
import { describeIssue, formatError, valueAt, type ConfigError } from './issues.js';
import { formatPath, locate, type ConfigPath, type Location } from './locate.js';
import { buildPipelineSchema, pipelineConfigOf, type PipelineConfig, type PipelineSchema } from './schema.js';
import { schemaAt } from '../spec/describe-schema.js';
import { isSecretKey, isSecretSchema } from '../spec/secret.js';

export const CONFIG_EXTENSIONS = ['.yaml', '.yml', '.json'];

export interface LoadedPipeline {
  /** File as shown in messages (relative to the working directory when inside it). */
  readonly file: string;
  readonly config: PipelineConfig;
  /** Line and column of a config path in the file (for messages about it, e.g. `validate --online`). */
  readonly at?: (path: ConfigPath, key?: string) => Location | undefined;
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
  const located: PipelineForConflicts[] = [];
  for (const f of files) {
    const r = loadFile(f, shown(f), schema, { env, baseDir: dirname(f), secrets });
    errors.push(...r.errors);
    if (r.config) {
      const other = names.get(r.config.name);
      if (other) errors.push({ file: shown(f), path: 'name', message: `duplicate pipeline name "${r.config.name}" (also in ${other}); pipeline names must be unique`, location: r.at(['name']) });
      else {
        names.set(r.config.name, shown(f));
        pipelines.push({ file: shown(f), config: r.config, at: r.at });
        located.push({ file: shown(f), config: r.config, at: r.at, ...(r.written ? { written: r.written } : {}) });
      }
    }
  }
  // Slots, publications, topic prefixes, offsets topics, transactional ids and consumer groups
  // belong to one pipeline (sink) each: sharing one loses or mixes data at run time.
  errors.push(...findConflicts(located));
  return { pipelines, errors, secrets };
}

/** Like loadConfig but throws ConfigInvalidError when anything is wrong. */
export async function loadConfigOrThrow(target: string, options: LoadOptions = {}): Promise<LoadResult> {
  const r = await loadConfig(target, options);
  if (r.errors.length) throw new ConfigInvalidError(r.errors);
  return r;
}

/** Config files larger than this are refused before parsing (a pipeline file is a few KB). */
export const MAX_CONFIG_BYTES = 32 * 1024 * 1024;
/** YAML alias expansions allowed per file (the `yaml` library's measure; a guard against alias bombs). */
export const MAX_ALIAS_COUNT = 100;
/** Top-level keys with this prefix are ignored (a place for YAML anchors, as in docker-compose). */
export const EXTENSION_PREFIX = 'x-';

type Locator = (p: ConfigPath, key?: string) => Location | undefined;

interface ParsedText {
  readonly errors: ConfigError[];
  readonly data?: unknown;
  readonly at: Locator;
}

const nowhere: Locator = () => undefined;

function lineColOf(text: string, offset: number): Location {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, col: offset - lineStart + 1 };
}

/**
 * A config file's bytes as text. Config files are UTF-8 (a leading byte order mark is dropped, as
 * editors on Windows write one and JSON.parse would refuse it); a UTF-16 file, a binary file or
 * bytes that are not UTF-8 get an error saying so and how to fix it, instead of YAML parsing the
 * replacement characters into keys no one wrote.
 */
export function configText(bytes: Buffer): { text: string } | { message: string; location?: Location } {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    return { message: 'the file is UTF-16 text (it starts with a UTF-16 byte order mark); config files are UTF-8 — save it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8 <file>)' };
  }
  const lossy = bytes.toString('utf8');
  const nul = lossy.indexOf('\0');
  if (nul >= 0) return { message: 'the file is not text (it holds a NUL byte) — is this the config file? Config files are UTF-8 YAML or JSON', location: lineColOf(lossy, nul) };
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    const bad = lossy.indexOf('\uFFFD');
    return { message: 'the file is not valid UTF-8 (first bad byte here); config files are UTF-8 — save it as UTF-8 (e.g. iconv -f LATIN1 -t UTF-8 <file>)', ...(bad >= 0 ? { location: lineColOf(lossy, bad) } : {}) };
  }
}

/** JSON.parse's message without V8's position suffix, plus the offset it names. */
function jsonSyntaxError(text: string, err: Error): { message: string; location?: Location } {
  const m = /^(.*?)(?: in JSON)? at position (\d+)(?: \(line \d+ column \d+\))?$/s.exec(err.message);
  const what = (m?.[1] ?? err.message).replace(/\s+/g, ' ');
  const hint = /^\s*[{[]/.test(text)
    ? 'JSON allows no comments, trailing commas, single quotes or unquoted keys'
    : 'the file does not start with "{" — if it is YAML, name it *.yaml';
  const message = `JSON syntax error: ${what} (${hint})`;
  return m?.[2] !== undefined ? { message, location: lineColOf(text, Number(m[2])) } : text.trim() === '' ? { message: 'JSON syntax error: the file is empty (write a JSON object with name, source, kafka and sinks)' } : { message };
}

/**
 * Parses YAML or JSON text into plain data, keeping a locator from config paths to line:column.
 * YAML 1.2 with merge keys (`<<: *base`); duplicate keys are found in one linear pass (the
 * library's own check compares every pair of keys of a map: minutes for a 5 MB file); alias
 * expansion is bounded by MAX_ALIAS_COUNT. JSON files get JSON's own syntax errors.
 */
export function parseConfigText(text: string, file: string, json: boolean): ParsedText {
  let jsonData: unknown;
  if (json) {
    try {
      jsonData = JSON.parse(text);
    } catch (err) {
      const e = jsonSyntaxError(text, err as Error);
      return { errors: [{ file, path: '', message: e.message, location: e.location }], at: nowhere };
    }
  }
  const lineCounter = new LineCounter();
  // JSON: JSON.parse gave the data; the (slower) YAML parse of the same text runs only when an
  // error needs a line and column.
  let lazy: Document | undefined;
  if (json) {
    const locateLazily: Locator = (p, key) => {
      lazy ??= parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
      return lazy.errors.length ? undefined : locate(lazy, lineCounter, p, key);
    };
    return { errors: duplicateJsonKeys(text, file, jsonData), data: jsonData, at: locateLazily };
  }
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, merge: true });
  const pos = (offset: number): Location => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, col: p.col };
  };
  const at: Locator = (p, key) => locate(doc, lineCounter, p, key);
  if (doc.errors.length) {
    const multi = doc.errors.find((e) => e.code === 'MULTIPLE_DOCS');
    if (multi) {
      return {
        errors: [
          {
            file,
            path: '',
            message: 'a second YAML document starts here ("---"): a config file holds one pipeline, so put each pipeline in its own file (a directory of files is one --config)',
            location: pos(multi.pos[0]),
          },
        ],
        at: nowhere,
      };
    }
    return { errors: doc.errors.map((e) => ({ file, path: '', message: `YAML syntax error: ${e.message.split('\n')[0] ?? e.code}`, location: pos(e.pos[0]) })), at: nowhere };
  }
  const errors = duplicateKeys(doc, file, pos);
  if (errors.length) return { errors, at };
  try {
    return { errors: [], data: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }), at };
  } catch (err) {
    const alias = firstAlias(doc);
    const location = alias?.range ? pos(alias.range[0]) : undefined;
    if (/alias count/i.test((err as Error).message)) {
      return {
        errors: [{ file, path: '', message: `YAML aliases expand to too many values (more than ${MAX_ALIAS_COUNT} expansions; an "alias bomb" would exhaust memory): write the repeated values out or nest fewer aliases`, location }],
        at,
      };
    }
    return { errors: [{ file, path: '', message: `YAML error: ${(err as Error).message.split('\n')[0] ?? ''}`, location }], at };
  }
}

/** Every key written twice in one mapping (merge keys `<<` excepted: they may repeat and be overridden). */
function duplicateKeys(doc: Document, file: string, pos: (offset: number) => Location): ConfigError[] {
  const errors: ConfigError[] = [];
  visit(doc, {
    Map(_key, map) {
      const seen = new Map<string, Node>();
      for (const pair of map.items) {
        const k = pair.key;
        if (!isScalar(k)) continue;
        const name = String(k.value);
        if (name === '<<') continue;
        const first = seen.get(name);
        if (first) {
          const f = first.range ? pos(first.range[0]) : undefined;
          errors.push({ file, path: '', message: `duplicate key "${name}"${f ? ` (first at line ${f.line}:${f.col})` : ''}: keep one of them`, location: k.range ? pos(k.range[0]) : undefined });
        } else seen.set(name, k);
      }
    },
  });
  return errors;
}

/**
 * JSON.parse keeps the last of duplicate keys silently. Cheap pre-check: a duplicate makes the text
 * hold more `"key":` pairs than the parsed objects have keys; only then the YAML parse finds them.
 */
function duplicateJsonKeys(text: string, file: string, data: unknown): ConfigError[] {
  let keys = 0;
  const count = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(count);
    else if (v && typeof v === 'object') {
      for (const x of Object.values(v)) {
        keys++;
        count(x);
      }
    }
  };
  count(data);
  const written = text.match(/"(?:[^"\\]|\\.)*"\s*:/g)?.length ?? 0;
  if (written <= keys) return [];
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  return duplicateKeys(doc, file, (o) => {
    const p = lines.linePos(o);
    return { line: p.line, col: p.col };
  });
}

function firstAlias(doc: Document): Node | undefined {
  let found: Node | undefined;
  visit(doc, {
    Alias(_key, node) {
      found = node;
      return visit.BREAK;
    },
  });
  return found;
}

interface LoadedFile {
  readonly errors: ConfigError[];
  readonly config?: PipelineConfig;
  readonly at: Locator;
  /** Whether the file itself writes a path (not a default). */
  readonly written?: (p: ConfigPath) => boolean;
}

function loadFile(path: string, file: string, schema: PipelineSchema, ctx: InterpolationContext): LoadedFile {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_CONFIG_BYTES) {
      return { errors: [{ file, path: '', message: `file is ${(size / 1048576).toFixed(1)} MB; config files are limited to ${MAX_CONFIG_BYTES / 1048576} MB (split it, or move large values into \${file:…} references)` }], at: nowhere };
    }
    const decoded = configText(readFileSync(path));
    if ('message' in decoded) return { errors: [{ file, path: '', message: decoded.message, ...(decoded.location ? { location: decoded.location } : {}) }], at: nowhere };
    text = decoded.text;
  } catch (err) {
    return { errors: [{ file, path: '', message: `cannot read config file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }], at: nowhere };
  }
  const json = extname(path).toLowerCase() === '.json';
  const parsed = parseConfigText(text, file, json);
  const at = parsed.at;
  if (parsed.errors.length) return { errors: parsed.errors, at };
  const raw = parsed.data;
  const errors: ConfigError[] = [];
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    const got = raw === null || raw === undefined ? 'an empty file' : Array.isArray(raw) ? 'a list' : `a ${typeof raw}`;
    return { errors: [{ file, path: '', message: `expected a ${json ? 'JSON object' : 'mapping'} with name, source, kafka and sinks, got ${got}`, location: at([]) }], at };
  }
  // Top-level x-… keys hold anchors for merge keys (`x-defaults: &d …`, then `<<: *d`); not config.
  const visible = Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith(EXTENSION_PREFIX)));
  // A value is secret when its field is marked secret() in the schema (e.g. tls.key) or its name says so.
  const secretAt = (p: ConfigPath): boolean => isSecretSchema(schemaAt(schema, p, visible));
  const data = interpolateTree(visible, [], ctx, (p, message) => errors.push({ file, path: formatPath(p), message, location: at(p) }), secretAt);
  if (errors.length) return { errors, at };

  // source.name defaults to the pipeline name.
  const obj = data as Record<string, unknown>;
  if (obj.source && typeof obj.source === 'object' && !Array.isArray(obj.source) && (obj.source as Record<string, unknown>).name === undefined && typeof obj.name === 'string') {
    obj.source = { name: obj.name, ...(obj.source as Record<string, unknown>) };
  }

  const r = schema.safeParse(data);
  const written = (p: ConfigPath): boolean => valueAt(data, p) !== undefined;
  if (r.success) return { errors, config: pipelineConfigOf(r.data), at, written };
  const nameMissing = typeof obj.name !== 'string';
  for (const issue of r.error.issues) {
    // source.name defaults to name: one error for a missing name, not two.
    if (nameMissing && issue.path.length === 2 && issue.path[0] === 'source' && issue.path[1] === 'name') continue;
    for (const d of describeIssue(issue, schema, data, ctx.secrets)) {
      errors.push({ file, path: formatPath(d.path), message: d.message, location: d.key !== undefined ? at(d.path.slice(0, -1), d.key) : at(d.path) });
    }
  }
  return { errors, at };
}

function interpolateTree(value: unknown, path: ConfigPath, ctx: InterpolationContext, onError: (p: ConfigPath, m: string) => void, secretAt: (p: ConfigPath) => boolean): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    const last = path[path.length - 1];
    try {
      return interpolateString(value, ctx, (typeof last === 'string' && isSecretKey(last)) || secretAt(path));
    } catch (err) {
      if (err instanceof InterpolationError) {
        onError(path, err.message);
        return value;
      }
      throw err;
    }
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateTree(v, [...path, i], ctx, onError, secretAt));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateTree(v, [...path, k], ctx, onError, secretAt);
    return out;
  }
  return value;
}
