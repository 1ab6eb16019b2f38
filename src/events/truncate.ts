/**
 * Shortening an event that is too large for its Kafka topic (event.oversize.handling.mode=truncate).
 *
 * The largest string values of the row images (`before` / `after` fields: text, varchar, json/jsonb
 * and xml as text, bytea in its binary.handling.mode encoding, numbers in string mode …) and of a
 * logical message's `content` are cut, largest first, until the serialized value fits. Each cut
 * value ends with the marker `…[truncated N bytes]` (N = UTF-8 bytes removed from the original
 * value), and the record gets the header `cdc.truncated` listing the cut fields (e.g.
 * `after.body,before.body`). A cut bytea value is no longer valid base64/hex: consumers must check
 * the header. Keys are never cut (they identify the row).
 */
import type { EventRecord } from './record.js';

/** Header listing the fields that were cut (comma-separated paths such as `after.body`). */
export const TRUNCATED_HEADER = 'cdc.truncated';

export const truncationMarker = (removedBytes: number): string => `…[truncated ${removedBytes} bytes]`;

interface Candidate {
  readonly path: string;
  /** Span of the JSON string literal (with its quotes) in the serialized value. */
  readonly start: number;
  readonly end: number;
  readonly original: string;
  /** UTF-8 bytes of the original string. */
  readonly originalBytes: number;
}

/** The longest prefix of `s` whose UTF-8 encoding has at most `maxBytes` bytes (never splits a character). */
export function utf8Prefix(s: string, maxBytes: number): string {
  if (maxBytes <= 0) return '';
  if (Buffer.byteLength(s, 'utf8') <= maxBytes) return s;
  let out = Buffer.from(s, 'utf8').subarray(0, maxBytes).toString('utf8');
  // A cut multi-byte character decodes as U+FFFD: drop it (and anything else over the budget).
  while (out.length > 0 && (Buffer.byteLength(out, 'utf8') > maxBytes || !s.startsWith(out))) out = out.slice(0, -1);
  return out;
}

const WS = new Set([' ', '\t', '\n', '\r']);

/**
 * The string values of a JSON text with their key paths (array elements as `[]`), found by
 * scanning the text: the value is then edited in place, so every other byte (int64 numbers beyond
 * 2^53, number formatting, key order) stays exactly as the event layer wrote it.
 */
function stringValues(text: string): { rootKeys: Set<string>; values: { path: string[]; start: number; end: number }[] } {
  const stack: { arr: boolean; key: string }[] = [];
  const values: { path: string[]; start: number; end: number }[] = [];
  const rootKeys = new Set<string>();
  let expectKey = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (WS.has(c) || c === ':') {
      i++;
    } else if (c === '{' || c === '[') {
      stack.push({ arr: c === '[', key: '' });
      expectKey = c === '{';
      i++;
    } else if (c === '}' || c === ']') {
      stack.pop();
      expectKey = false;
      i++;
    } else if (c === ',') {
      expectKey = stack.length > 0 && !(stack[stack.length - 1] as { arr: boolean }).arr;
      i++;
    } else if (c === '"') {
      const start = i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      const top = stack[stack.length - 1];
      if (top && !top.arr && expectKey) {
        top.key = JSON.parse(text.slice(start, i)) as string;
        if (stack.length === 1) rootKeys.add(top.key);
        expectKey = false;
      } else {
        values.push({ path: stack.map((f) => (f.arr ? '[]' : f.key)), start, end: i });
      }
    } else {
      while (i < text.length && !WS.has(text[i] as string) && text[i] !== ',' && text[i] !== '}' && text[i] !== ']') i++;
    }
  }
  return { rootKeys, values };
}

function candidates(text: string): Candidate[] {
  const { rootKeys, values } = stringValues(text);
  // schemas.enable=true wraps the envelope as {schema, payload}.
  const wrapped = rootKeys.has('schema') && rootKeys.has('payload');
  const out: Candidate[] = [];
  for (const v of values) {
    if (wrapped && v.path[0] !== 'payload') continue;
    const p = wrapped ? v.path.slice(1) : v.path;
    if (p.length !== 2 || !((p[0] === 'after' || p[0] === 'before') || (p[0] === 'message' && p[1] === 'content')) || p[1] === '[]') continue;
    const original = JSON.parse(text.slice(v.start, v.end)) as string;
    if (original.length > 0) out.push({ path: p.join('.'), start: v.start, end: v.end, original, originalBytes: Buffer.byteLength(original, 'utf8') });
  }
  return out;
}

export interface TruncateResult {
  readonly record: EventRecord;
  /** Paths of the cut fields. */
  readonly fields: readonly string[];
}

/**
 * `record` with its largest string values cut so that its value has at most `maxValueBytes`
 * UTF-8 bytes, plus the `cdc.truncated` header; null when no cutting gets it there (e.g. many
 * small fields, or a tombstone). Reserve room for the header in `maxValueBytes` (the header's
 * size is at most the sum of the candidate paths' lengths).
 */
export function truncateRecord(record: EventRecord, maxValueBytes: number): TruncateResult | null {
  if (record.value === null) return null;
  const text = record.value;
  let all: Candidate[];
  try {
    all = candidates(text);
  } catch {
    return null;
  }
  const replaced = new Map<Candidate, string>(); // candidate → its new JSON literal
  const kept = new Map<Candidate, number>(); // candidate → bytes of the original kept
  const render = (): string => {
    let out = '';
    let at = 0;
    for (const c of all) {
      const r = replaced.get(c);
      if (r === undefined) continue;
      out += text.slice(at, c.start) + r;
      at = c.end;
    }
    return out + text.slice(at);
  };
  let value = text;
  let size = Buffer.byteLength(value, 'utf8');
  for (let round = 0; round < 4 * all.length + 4 && size > maxValueBytes; round++) {
    // Largest current value first: it gives the most room for the least damage to other fields.
    let best: Candidate | null = null;
    let bestBytes = 0;
    for (const c of all) {
      const k = kept.get(c) ?? c.originalBytes;
      if (k > bestBytes) {
        best = c;
        bestBytes = k;
      }
    }
    if (!best) return null;
    const excess = size - maxValueBytes;
    // `excess` counts serialized bytes (escapes included); scale it to the original's bytes.
    const literalBytes = Buffer.byteLength(replaced.get(best) ?? text.slice(best.start, best.end), 'utf8');
    const targetLiteral = literalBytes - excess - Buffer.byteLength(truncationMarker(best.originalBytes), 'utf8') - 8;
    const keep = Math.max(0, Math.floor((targetLiteral * bestBytes) / literalBytes));
    const prefix = utf8Prefix(best.original, keep);
    const keptBytes = Buffer.byteLength(prefix, 'utf8');
    replaced.set(best, JSON.stringify(prefix + truncationMarker(best.originalBytes - keptBytes)));
    kept.set(best, keptBytes);
    value = render();
    size = Buffer.byteLength(value, 'utf8');
  }
  if (size > maxValueBytes) return null;
  const fields = all.filter((c) => replaced.has(c)).map((c) => c.path);
  return { record: { ...record, value, headers: { ...record.headers, [TRUNCATED_HEADER]: fields.join(',') } }, fields };
}
