/**
 * Turns zod issues into one-line, located, actionable messages:
 *   connectors/shop.yaml:12:5: sinks[1].index: expected string, got number
 * (`file:line:column:` as compilers print it, so editors and terminals link to the spot).
 * Unknown keys suggest the closest known key; unknown sink types list the known ones.
 */
import type { z } from 'zod';
import { schemaAt, shapeOf } from '../spec/describe-schema.js';
import { didYouMean } from '../spec/did-you-mean.js';
import { movedKeyHint } from '../spec/groups.js';
import { formatPath, type ConfigPath, type Location } from './locate.js';
import { isSecretKey, maskString } from '../spec/secret.js';

export interface ConfigError {
  readonly file: string;
  readonly path: string;
  readonly message: string;
  readonly location?: Location | undefined;
}

export function formatError(e: ConfigError): string {
  const where = e.location ? `:${e.location.line}:${e.location.col}` : '';
  return `${e.file}${where}: ${e.path ? `${e.path}: ` : ''}${e.message}`;
}

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** The value at `path` in parsed config data, or undefined where the path does not exist. */
export function valueAt(data: unknown, path: ConfigPath): unknown {
  let v = data;
  for (const seg of path) {
    if (!v || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

function showValue(v: unknown, secrets: ReadonlySet<string>): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return maskString(s.length > 60 ? `${s.slice(0, 57)}...` : s, secrets);
}

export interface Located {
  readonly path: ConfigPath;
  readonly message: string;
  /** For unknown keys: the key itself, to point at its line. */
  readonly key?: string;
}

/** One or more located messages per zod issue (one per unknown key). */
export function describeIssue(issue: z.core.$ZodIssue, root: z.ZodType, data: unknown, secrets: ReadonlySet<string>): Located[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const last = path[path.length - 1];
  // A secret field's value is never echoed back, whatever the error.
  const hide = typeof last === 'string' && isSecretKey(last);
  const got = valueAt(data, path);
  const show = (v: unknown, secrets: ReadonlySet<string>): string => (hide ? '[redacted]' : showValue(v, secrets));
  switch (issue.code) {
    case 'invalid_type': {
      if (got === undefined) return [{ path, message: `missing required field (expected ${issue.expected})` }];
      // A field's own message (e.g. where an old shape moved) follows the type mismatch.
      const own = issue.message && !issue.message.startsWith('Invalid') ? `: ${oneLine(issue.message, secrets)}` : '';
      return [{ path, message: `expected ${issue.expected}, got ${typeName(got)}${own}` }];
    }
    case 'unrecognized_keys': {
      const shape = shapeOf(schemaAt(root, path, data) ?? root) ?? {};
      const known = Object.keys(shape);
      return issue.keys.map((key) => {
        const moved = movedKeyHint(key, shape);
        if (moved) return { path: [...path, key], key, message: `unknown key; ${moved}` };
        const hint = didYouMean(key, known);
        return { path: [...path, key], key, message: `unknown key${hint ? `; did you mean "${hint}"?` : known.length ? ` (known keys: ${known.join(', ')})` : ''}` };
      });
    }
    case 'invalid_union': {
      const u = issue as z.core.$ZodIssueInvalidUnion & { options?: unknown[]; discriminator?: string; note?: string };
      if (u.note === 'No matching discriminator' && Array.isArray(u.options)) {
        const options = u.options.map(String);
        if (got === undefined) return [{ path, message: `missing required field (expected one of ${options.join(' | ')})` }];
        const hint = typeof got === 'string' ? didYouMean(got, options) : undefined;
        return [{ path, message: `unknown ${u.discriminator ?? 'type'} ${show(got, secrets)}${hint ? `; did you mean "${hint}"?` : ''} (expected one of ${options.join(' | ')})` }];
      }
      return [{ path, message: oneLine(issue.message, secrets) }];
    }
    case 'invalid_value': {
      const options = issue.values.map((v) => JSON.stringify(v));
      const hint = typeof got === 'string' ? didYouMean(got, issue.values.map(String)) : undefined;
      if (got === undefined) return [{ path, message: `missing required field (expected one of ${options.join(' | ')})` }];
      // A field's own error message (e.g. why `prefer` is not a TLS mode) replaces the did-you-mean.
      const own = issue.message && !issue.message.startsWith('Invalid') ? `: ${oneLine(issue.message, secrets)}` : hint ? `; did you mean "${hint}"?` : '';
      return [{ path, message: `expected one of ${options.join(' | ')}, got ${show(got, secrets)}${own}` }];
    }
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? `>= ${String(issue.minimum)}` : `<= ${String(issue.maximum)}`;
      if (issue.origin === 'number' || issue.origin === 'int' || issue.origin === 'bigint') {
        return [{ path, message: `expected a number ${issue.inclusive === false ? bound.replace('=', '') : bound}, got ${show(got, secrets)}` }];
      }
      return [{ path, message: oneLine(issue.message, secrets) }];
    }
    case 'invalid_format': {
      const msg = issue.message && !issue.message.startsWith('Invalid') ? issue.message : `invalid ${issue.format}`;
      return [{ path, message: `${oneLine(msg, secrets)}, got ${show(got, secrets)}` }];
    }
    default:
      return [{ path, message: oneLine(issue.message, secrets) }];
  }
}

function oneLine(s: string, secrets: ReadonlySet<string>): string {
  return maskString(s.replace(/\s*\n\s*/g, '; '), secrets);
}

export { didYouMean, formatPath };
