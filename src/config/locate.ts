/** Maps a config path (['sinks', 1, 'index']) to a line/column in the parsed YAML/JSON document. */
import { isMap, isPair, isSeq, isScalar, type Document, type LineCounter, type Node } from 'yaml';

export type ConfigPath = readonly (string | number)[];

export interface Location {
  readonly line: number;
  readonly col: number;
}

/** `sinks[1].index`, `source.database.hostname`; `(root)` for the empty path. */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out || '(root)';
}

/**
 * Location of the value at `path`; when `key` is given, of that key inside the map at `path`
 * (unknown keys). Falls back to the nearest existing ancestor (missing fields).
 */
export function locate(doc: Document, lines: LineCounter, path: ConfigPath, key?: string): Location | undefined {
  let node: unknown = doc.contents;
  let last: unknown = node;
  for (const seg of path) {
    const next = isMap(node) || isSeq(node) ? node.get(seg, true) : undefined;
    if (next === undefined) break;
    node = next;
    last = next;
  }
  if (key !== undefined && isMap(last)) {
    const pair = last.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
    if (pair && isPair(pair)) last = pair.key;
  }
  const range = (last as Node | undefined)?.range;
  if (!range) return undefined;
  const pos = lines.linePos(range[0]);
  return { line: pos.line, col: pos.col };
}
