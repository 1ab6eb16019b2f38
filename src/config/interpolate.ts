/**
 * `${ENV}`, `${ENV:-default}` and `${file:/path}` interpolation inside config string values.
 * Interpolation happens after YAML/JSON parsing, on string scalars only, so a secret containing
 * YAML syntax can never change the structure of the file. When a whole value is a single
 * placeholder and the result reads as a number or boolean (e.g. `database.port: ${PG_PORT}`), the
 * value becomes that number/boolean. `$${` writes a literal `${`.
 * Every `${NAME}` is an environment variable, whatever its case (names are case-sensitive, as in the
 * shell). `${…}` is never a template: name templates (topics, indices, tables, Redis keys) write
 * `{name}` (src/events/template.ts), so the two cannot be confused. The template placeholders of
 * earlier releases — `${prefix}`, `${db}`, `${schema}`, `${table}`, `${topic}` — are an error that
 * shows the template rewritten. An unset variable is an error (never the literal text, e.g. as a
 * password) that names a set variable differing only in case.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { oldSyntaxMessage, oldTemplateSyntax, TEMPLATE_NAMES } from '../events/template.js';

export interface InterpolationContext {
  readonly env: NodeJS.ProcessEnv;
  /** Directory relative `${file:…}` paths resolve against (the config file's directory). */
  readonly baseDir: string;
  /** Collects every value that came from a placeholder in a secret-looking field or a file. */
  readonly secrets: Set<string>;
}

export class InterpolationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InterpolationError';
  }
}

const PLACEHOLDER = /\$\$\{|\$\{([^}]*)\}/g;

/** Placeholders of name templates; written `{name}`, never `${name}`. */
export const TEMPLATE_PLACEHOLDERS: ReadonlySet<string> = new Set(TEMPLATE_NAMES);

function unsetMessage(name: string, env: NodeJS.ProcessEnv): string {
  const other = Object.keys(env).find((k) => k !== name && k.toLowerCase() === name.toLowerCase() && env[k] !== undefined && env[k] !== '');
  if (other) return `environment variable ${name} is not set, but ${other} is (names are case-sensitive): write \${${other}}`;
  const template = name === name.toLowerCase() ? `; if this is a template placeholder, templates write {${name}} (the known ones are ${[...TEMPLATE_PLACEHOLDERS].map((p) => `{${p}}`).join(' ')}; write $\${${name}} for a literal "\${${name}}")` : '';
  return `environment variable ${name} is not set (set it, or write \${${name}:-default})${template}`;
}

/** Resolves the placeholders in one string; throws InterpolationError naming what is wrong. */
export function interpolateString(input: string, ctx: InterpolationContext, secretField: boolean): string | number | boolean {
  const rewritten = oldTemplateSyntax(input.replaceAll('$${', '\u0000'));
  if (rewritten !== undefined) throw new InterpolationError(oldSyntaxMessage(input, rewritten.replaceAll('\u0000', '$${')));
  let fromFile = false;
  let replaced = 0;
  const out = input.replace(PLACEHOLDER, (match, body: string | undefined) => {
    if (match === '$${') return '${';
    replaced++;
    const expr = (body ?? '').trim();
    if (expr.startsWith('file:')) {
      fromFile = true;
      return readSecretFile(expr.slice(5).trim(), ctx.baseDir);
    }
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s.exec(expr);
    if (!m) {
      replaced--;
      return match;
    }
    const name = m[1] as string;
    const value = ctx.env[name];
    if (value !== undefined && value !== '') return value;
    if (m[2] !== undefined) return m[2];
    throw new InterpolationError(unsetMessage(name, ctx.env));
  });
  if (replaced > 0 && (secretField || fromFile)) ctx.secrets.add(out);
  const whole = replaced === 1 && /^\$\{[^}]*\}$/.test(input.trim());
  if (whole) {
    if (/^-?\d+(\.\d+)?$/.test(out)) return Number(out);
    if (out === 'true' || out === 'false') return out === 'true';
  }
  return out;
}

function readSecretFile(path: string, baseDir: string): string {
  if (!path) throw new InterpolationError('empty path in ${file:} placeholder');
  const full = isAbsolute(path) ? path : resolve(baseDir, path);
  try {
    return readFileSync(full, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : code;
    throw new InterpolationError(`cannot read secret file ${full}: ${why}`);
  }
}
