/** "Did you mean …?" for unknown names in config and catalogs (keys, sink types, tables, columns). */
import { closest, distance } from 'fastest-levenshtein';

/** Closest candidate within a third of the word's length (at least 2 edits), else undefined. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const best = closest(word, candidates as string[]);
  const limit = Math.max(2, Math.floor(word.length / 3));
  const w = word.toLowerCase();
  const b = best.toLowerCase();
  const d = distance(w, b);
  if (d <= limit && d < w.length) return best;
  // A truncated name ("elastic" for "elasticsearch") is still a clear match.
  const prefix = candidates.find((c) => w.length >= 4 && c.toLowerCase().startsWith(w));
  return prefix;
}
