/**
 * The fault schedule of a verify run (drawn from the seed before the run starts) and the kinds of
 * fault it can inject.
 */
import type { Rng } from './rng.js';

export const FAULT_KINDS = ['daemon-kill', 'proxy-cut', 'kafka-freeze', 'elasticsearch-kill', 'clickhouse-kill', 'redis-kill'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** Faults that touch nothing but the verify run's own daemon and proxies (safe on a shared stack). */
export const PRIVATE_FAULTS: readonly FaultKind[] = ['daemon-kill', 'proxy-cut'];

const WEIGHT: Record<FaultKind, number> = {
  'daemon-kill': 30,
  'proxy-cut': 25,
  'kafka-freeze': 15,
  'elasticsearch-kill': 8,
  'clickhouse-kill': 11,
  'redis-kill': 11,
};

export type ProxyTarget = 'elasticsearch' | 'clickhouse' | 'redis';

export interface PlannedFault {
  readonly kind: FaultKind;
  /** Wait before the fault, ms (load keeps running). */
  readonly gapMs: number;
  /** How long the fault lasts before recovery starts, ms (down time, freeze time, refusal time). */
  readonly holdMs: number;
  /** Service kills: SIGKILL or SIGTERM. */
  readonly signal: 'SIGKILL' | 'SIGTERM';
  /** proxy-cut: which sink's connections are cut. */
  readonly proxy: ProxyTarget;
}

/** Every enabled kind at least once, the rest weighted at random, in random order. */
export function planFaults(r: Rng, count: number, kinds: readonly FaultKind[], gapMs: readonly [number, number]): PlannedFault[] {
  const picks: FaultKind[] = [...kinds].slice(0, count);
  const total = kinds.reduce((a, k) => a + WEIGHT[k], 0);
  while (picks.length < count) {
    let x = r.next() * total;
    const k = kinds.find((kind) => (x -= WEIGHT[kind]) < 0) ?? (kinds[0] as FaultKind);
    picks.push(k);
  }
  for (let i = picks.length - 1; i > 0; i--) {
    const j = r.int(0, i);
    [picks[i], picks[j]] = [picks[j] as FaultKind, picks[i] as FaultKind];
  }
  return picks.map((kind) => ({
    kind,
    gapMs: r.int(gapMs[0], gapMs[1]),
    holdMs: kind === 'daemon-kill' ? r.int(0, 3000) : kind === 'kafka-freeze' ? r.int(3000, 15_000) : kind === 'proxy-cut' ? r.int(0, 8000) : r.int(2000, 10_000),
    signal: kind === 'daemon-kill' || r.chance(0.6) ? 'SIGKILL' : 'SIGTERM',
    proxy: r.pick(['elasticsearch', 'clickhouse', 'redis'] as const),
  }));
}
