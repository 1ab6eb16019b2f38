/**
 * Slot health: turns periodic samples of pg_replication_slots + pg_current_wal_lsn() into lag
 * figures, warnings and fatal conditions (pure; the source polls and acts on the result).
 *
 * Definitions (also in docs/operations-slot.md):
 *  - lag bytes = pg_current_wal_lsn() − confirmed_flush_lsn: WAL the server has written that this
 *    pipeline has not confirmed (all databases' WAL counts: a slot confirms past other databases'
 *    WAL only through idle confirmations, see streaming.ts).
 *  - retained bytes = pg_current_wal_lsn() − restart_lsn: WAL kept on disk for the slot.
 *  - lag ms = now − the latest poll time at which the server's WAL position was ≤ the slot's
 *    confirmed_flush_lsn now, i.e. how long ago the server had written what the slot has confirmed.
 *    0 when fully confirmed; measured at poll resolution; before the first such poll it is the time
 *    since monitoring began (a lower bound).
 */
import { formatLsn } from '../events/change.js';
import type { SlotSample } from './connection.js';

export interface SlotHealth {
  readonly slot: string;
  /** ISO time of the poll. */
  readonly checkedAt: string;
  readonly exists: boolean;
  readonly activePid: number | null;
  readonly walStatus: string | null;
  readonly currentWalLsn: string;
  readonly confirmedFlushLsn: string | null;
  readonly restartLsn: string | null;
  readonly lagBytes: number | null;
  readonly retainedBytes: number | null;
  readonly safeWalSize: number | null;
  readonly lagMs: number | null;
  readonly warnings: readonly string[];
}

export interface HealthThresholds {
  readonly lagWarnBytes: number;
  readonly lagWarnMs: number;
}

export interface HealthVerdict {
  readonly health: SlotHealth;
  /** Non-null: the pipeline cannot go on; the message names the cause and the remedy. */
  readonly fatal: string | null;
}

const MAX_SAMPLES = 100_000;

export class SlotHealthTracker {
  private samples: { at: number; lsn: bigint }[] = [];
  private firstAt: number | null = null;

  constructor(
    private readonly slot: string,
    private readonly thresholds: HealthThresholds,
  ) {}

  /** Lag in ms per the module definition; updates the sample window. */
  private lagMs(now: number, current: bigint, confirmed: bigint): number {
    this.firstAt ??= now;
    this.samples.push({ at: now, lsn: current });
    if (confirmed >= current) {
      this.samples = [{ at: now, lsn: current }];
      return 0;
    }
    // Latest sample the slot has fully confirmed; older ones are no longer needed.
    let idx = -1;
    for (let k = this.samples.length - 1; k >= 0; k--) {
      if (this.samples[k]!.lsn <= confirmed) {
        idx = k;
        break;
      }
    }
    if (idx > 0) this.samples = this.samples.slice(idx);
    if (this.samples.length > MAX_SAMPLES) this.samples = this.samples.slice(-MAX_SAMPLES);
    return idx >= 0 ? now - this.samples[0]!.at : now - this.firstAt;
  }

  observe(s: SlotSample, now = Date.now()): HealthVerdict {
    const warnings: string[] = [];
    const name = `"${this.slot}"`;
    const base = { slot: this.slot, checkedAt: new Date(now).toISOString(), currentWalLsn: formatLsn(s.currentWalLsn) };
    if (!s.exists) {
      return {
        health: { ...base, exists: false, activePid: null, walStatus: null, confirmedFlushLsn: null, restartLsn: null, lagBytes: null, retainedBytes: null, safeWalSize: null, lagMs: null, warnings },
        fatal:
          `replication slot ${name} vanished while the pipeline was running (someone dropped it, or Postgres failed over without failover slots): ` +
          `changes since its last confirmed position are lost to this pipeline. Remedy: find who dropped it; set snapshot.mode: when_needed and restart ` +
          `to re-create it and re-snapshot (sinks converge), or restart with a fresh pipeline state.`,
      };
    }
    const confirmed = s.confirmedFlushLsn;
    const lagBytes = confirmed === null ? null : Number(s.currentWalLsn > confirmed ? s.currentWalLsn - confirmed : 0n);
    const retainedBytes = s.restartLsn === null ? null : Number(s.currentWalLsn > s.restartLsn ? s.currentWalLsn - s.restartLsn : 0n);
    const lagMs = confirmed === null ? null : this.lagMs(now, s.currentWalLsn, confirmed);
    let fatal: string | null = null;
    if (s.walStatus === 'lost') {
      fatal =
        `replication slot ${name} was invalidated by Postgres (wal_status = lost): WAL it still needed was removed because the slot fell more than ` +
        `max_slot_wal_keep_size behind; changes after ${confirmed === null ? 'its last position' : formatLsn(confirmed)} are lost. Remedy: raise max_slot_wal_keep_size ` +
        `(or -1), then set snapshot.mode: when_needed and restart to re-create the slot and re-snapshot; alert on cdc_fanout_slot_lag_bytes before it recurs.`;
    } else if (s.walStatus === 'unreserved') {
      warnings.push(
        `slot ${name} wal_status is "unreserved": it is more than max_slot_wal_keep_size behind and the next checkpoint will remove WAL it needs (then it is lost). ` +
          `Remedy now: raise max_slot_wal_keep_size (ALTER SYSTEM SET max_slot_wal_keep_size = ...; SELECT pg_reload_conf()) and find why the pipeline lags.`,
      );
    }
    if (lagBytes !== null && this.thresholds.lagWarnBytes > 0 && lagBytes > this.thresholds.lagWarnBytes) {
      warnings.push(`slot ${name} lags ${lagBytes} bytes of WAL behind the server (threshold slot.lag.warn.bytes = ${this.thresholds.lagWarnBytes})`);
    }
    if (lagMs !== null && this.thresholds.lagWarnMs > 0 && lagMs > this.thresholds.lagWarnMs) {
      warnings.push(`slot ${name} lags ${Math.round(lagMs / 1000)} s behind the server (threshold slot.lag.warn.ms = ${this.thresholds.lagWarnMs})`);
    }
    return {
      health: {
        ...base,
        exists: true,
        activePid: s.activePid,
        walStatus: s.walStatus,
        confirmedFlushLsn: confirmed === null ? null : formatLsn(confirmed),
        restartLsn: s.restartLsn === null ? null : formatLsn(s.restartLsn),
        lagBytes,
        retainedBytes,
        safeWalSize: s.safeWalSize,
        lagMs,
        warnings,
      },
      fatal,
    };
  }
}
