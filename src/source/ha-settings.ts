/**
 * Server settings that failover slots (PG 17+) and decoding on a standby (PG 16+) need, as pure
 * verdicts over what the servers report (unit-tested; `validate --online` feeds them, src/source/check.ts,
 * and the source logs the primary's at start-up). Each problem says what goes wrong and the fix.
 * See docs/ha.md.
 */

export interface HaProblem {
  readonly severity: 'error' | 'warning';
  readonly message: string;
  readonly fix: string;
}

/** What the primary reports for failover slots. */
export interface PrimaryHaSettings {
  readonly versionNum: number;
  /** synchronized_standby_slots (PG 17+), '' when unset. */
  readonly synchronizedStandbySlots: string;
  /** Physical replication slots on the primary. */
  readonly physicalSlots: readonly { readonly name: string; readonly active: boolean }[];
}

/** What a hot standby reports. */
export interface StandbyHaSettings {
  readonly server: string;
  readonly versionNum: number;
  readonly walLevel: string;
  readonly hotStandbyFeedback: string;
  readonly primarySlotName: string;
  /** null when this user may not read it (superuser-only setting). */
  readonly primaryConninfo: string | null;
  /** sync_replication_slots (PG 17+), null before. */
  readonly syncReplicationSlots: string | null;
}

const list = (s: string): string[] =>
  s
    .split(',')
    .map((x) => x.trim().replace(/^"|"$/g, ''))
    .filter(Boolean);

/** slot.failover on the primary: its slot is worth something only with a standby that syncs it and the primary waiting for that standby. */
export function primaryFailoverProblems(p: PrimaryHaSettings): HaProblem[] {
  const out: HaProblem[] = [];
  if (p.versionNum < 170000) {
    out.push({
      severity: 'error',
      message: `slot.failover needs PostgreSQL 17 or later (the primary runs ${Math.floor(p.versionNum / 10000)}): before 17 a logical slot exists only on the primary and a failover loses it`,
      fix: 'upgrade to 17+, or remove slot.failover (after a failover the source then fails naming the gap, or re-snapshots with snapshot.mode: when_needed)',
    });
    return out;
  }
  const physical = p.physicalSlots.map((s) => s.name);
  if (physical.length === 0) {
    out.push({
      severity: 'error',
      message: 'the primary has no physical replication slot: a standby syncs failover slots only while it streams through one (primary_slot_name)',
      fix: "SELECT pg_create_physical_replication_slot('standby1'); on the primary, and primary_slot_name = 'standby1' on the standby",
    });
  }
  const sync = list(p.synchronizedStandbySlots);
  if (sync.length === 0) {
    out.push({
      severity: 'warning',
      message:
        'synchronized_standby_slots is empty on the primary: the source may receive (and publish) changes a standby has not received yet; after a failover to that standby those changes are gone from the database but in Kafka, and the synced slot may be behind or not yet usable',
      fix: `ALTER SYSTEM SET synchronized_standby_slots = '${physical[0] ?? 'standby1'}'; SELECT pg_reload_conf(); (the physical slot(s) of the standbys that may be promoted)`,
    });
  }
  for (const name of sync.filter((n) => !physical.includes(n))) {
    out.push({
      severity: 'error',
      message: `synchronized_standby_slots names "${name}", which is not a physical slot on the primary: logical decoding waits for it forever`,
      fix: `create it (SELECT pg_create_physical_replication_slot('${name}');) and point a standby's primary_slot_name at it, or remove it from synchronized_standby_slots`,
    });
  }
  for (const s of p.physicalSlots.filter((x) => sync.includes(x.name) && !x.active)) {
    out.push({
      severity: 'warning',
      message: `physical slot "${s.name}" (in synchronized_standby_slots) has no standby streaming from it now: the source receives nothing until it is back (or it is removed from the setting)`,
      fix: `start the standby that uses primary_slot_name = '${s.name}', or remove it from synchronized_standby_slots`,
    });
  }
  return out;
}

/** A standby that must sync failover slots (slot.failover) or host the slot itself (decoding on a standby). */
export function standbyProblems(s: StandbyHaSettings, role: 'failover' | 'decode'): HaProblem[] {
  const out: HaProblem[] = [];
  const at = `standby ${s.server}`;
  const set = (k: string, v: string, restart = false): string => `ALTER SYSTEM SET ${k} = ${v}; then ${restart ? 'restart' : 'SELECT pg_reload_conf(); on'} the standby`;
  if (role === 'decode' && s.versionNum < 160000) {
    out.push({ severity: 'error', message: `${at} runs PostgreSQL ${Math.floor(s.versionNum / 10000)}: logical decoding on a standby needs 16 or later`, fix: 'upgrade, or decode on the primary (database.target.session.attrs: primary)' });
    return out;
  }
  if (s.walLevel !== 'logical') out.push({ severity: 'error', message: `${at} has wal_level = ${s.walLevel}; ${role === 'decode' ? 'decoding on it' : 'syncing logical slots to it'} needs logical`, fix: set('wal_level', 'logical', true) });
  if (s.hotStandbyFeedback !== 'on') {
    out.push({
      severity: 'error',
      message: `${at} has hot_standby_feedback = off: the primary may remove catalog rows the ${role === 'decode' ? "standby's slot" : 'synced slot'} still needs, which invalidates it (conflict with recovery)`,
      fix: set('hot_standby_feedback', 'on'),
    });
  }
  if (!s.primarySlotName) {
    out.push({
      severity: role === 'failover' ? 'error' : 'warning',
      message: `${at} streams without a physical slot (primary_slot_name is empty)${role === 'failover' ? ': failover slots are synced only to a standby with one' : ': the primary may remove WAL it still needs, and hot_standby_feedback does not survive its reconnects'}`,
      fix: `create a physical slot on the primary (SELECT pg_create_physical_replication_slot('standby1');) and ${set('primary_slot_name', "'standby1'")}`,
    });
  }
  if (role === 'failover') {
    if (s.syncReplicationSlots === null || s.versionNum < 170000) {
      out.push({ severity: 'error', message: `${at} runs PostgreSQL ${Math.floor(s.versionNum / 10000)}: failover slots are synced to 17 or later only`, fix: 'upgrade the standby to the primary\'s version' });
    } else if (s.syncReplicationSlots !== 'on') {
      out.push({ severity: 'error', message: `${at} has sync_replication_slots = off: it does not sync the failover slot, so after a promotion the slot is missing`, fix: set('sync_replication_slots', 'on') });
    }
    const readable = s.primaryConninfo !== null && !s.primaryConninfo.startsWith('<');
    if (readable && !/(^|\s)dbname\s*=/.test(s.primaryConninfo!)) {
      out.push({
        severity: 'error',
        message: `${at} has no dbname in primary_conninfo: the slot sync worker needs a database to connect to`,
        fix: `add dbname=<any database> to primary_conninfo (${set('primary_conninfo', "'... dbname=postgres'")})`,
      });
    }
  }
  return out;
}

export const PRIMARY_HA_SQL = `
  SELECT current_setting('server_version_num')::int AS version_num,
         coalesce(current_setting('synchronized_standby_slots', true), '') AS sync_slots,
         coalesce((SELECT json_agg(json_build_object('name', slot_name, 'active', active)) FROM pg_replication_slots WHERE slot_type = 'physical'), '[]'::json) AS physical`;

export const STANDBY_HA_SQL = `
  SELECT current_setting('server_version_num')::int AS version_num, current_setting('wal_level') AS wal_level,
         current_setting('hot_standby_feedback') AS feedback, current_setting('primary_slot_name') AS slot,
         (SELECT setting FROM pg_settings WHERE name = 'primary_conninfo') AS conninfo, current_setting('sync_replication_slots', true) AS sync`;

export interface PrimaryHaRow {
  version_num: number;
  sync_slots: string;
  physical: { name: string; active: boolean }[];
}
export interface StandbyHaRow {
  version_num: number;
  wal_level: string;
  feedback: string;
  slot: string;
  conninfo: string | null;
  sync: string | null;
}

export const primaryHaSettings = (r: PrimaryHaRow): PrimaryHaSettings => ({ versionNum: r.version_num, synchronizedStandbySlots: r.sync_slots, physicalSlots: r.physical });
export const standbyHaSettings = (server: string, r: StandbyHaRow): StandbyHaSettings => ({
  server,
  versionNum: r.version_num,
  walLevel: r.wal_level,
  hotStandbyFeedback: r.feedback,
  primarySlotName: r.slot,
  primaryConninfo: r.conninfo,
  syncReplicationSlots: r.sync,
});
