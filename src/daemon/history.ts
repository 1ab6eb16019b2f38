/**
 * The last minutes of a component's numbers for the live page's charts: a fixed-size ring of
 * samples (time + named series), so memory stays bounded however long the daemon runs.
 */
import type { ComponentHistory } from './status.js';

export class SeriesRing {
  private readonly t: number[] = [];
  private readonly series = new Map<string, (number | null)[]>();

  constructor(
    private readonly names: readonly string[],
    private readonly capacity: number,
  ) {
    for (const n of names) this.series.set(n, []);
  }

  push(at: number, values: Readonly<Record<string, number | null>>): void {
    this.t.push(at);
    for (const n of this.names) {
      const v = values[n];
      this.series.get(n)!.push(v === undefined || v === null || !Number.isFinite(v) ? null : v);
    }
    if (this.t.length > this.capacity) {
      this.t.shift();
      for (const s of this.series.values()) s.shift();
    }
  }

  view(): ComponentHistory {
    return { t: [...this.t], series: Object.fromEntries([...this.series].map(([k, v]) => [k, [...v]])) };
  }
}

/** Per-second rate between two samples of a counter; null across a reset or without a previous sample. */
export function rateBetween(prev: { at: number; count: number } | undefined, at: number, count: number): number | null {
  if (!prev || at <= prev.at || count < prev.count) return null;
  return Math.round(((count - prev.count) * 1000 * 10) / (at - prev.at)) / 10;
}
