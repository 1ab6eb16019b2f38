/**
 * What the connected ClickHouse server can do. The sink targets both Debian's ClickHouse 18.16 and
 * modern servers (tested: 18.16 and 26.x): it reads `SELECT version()` once and turns newer
 * features on only where present, so the current state (live rows after FINAL, the `_current` view)
 * is the same. One visible difference: with the is_deleted column (23.2+) FINAL hides deleted rows.
 */
export interface ServerFeatures {
  readonly version: string;
  /** DateTime64(precision, tz): 20.1+. Older servers store timestamps per `timestamp.fallback`. */
  readonly dateTime64: boolean;
  /** `insert_deduplication_token` setting + `non_replicated_deduplication_window` table setting: 22.2+. */
  readonly dedupToken: boolean;
  /** `ReplacingMergeTree(ver, is_deleted)`: 23.2+. */
  readonly isDeletedColumn: boolean;
  /** `ALTER TABLE … ADD COLUMN IF NOT EXISTS`: 19.x+ (checked via system.columns on older ones anyway). */
  readonly addColumnIfNotExists: boolean;
}

export function parseVersion(version: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(version.trim());
  if (!m) throw new Error(`cannot parse ClickHouse version "${version}" (expected "MAJOR.MINOR…")`);
  return [Number(m[1]), Number(m[2])];
}

function atLeast(v: [number, number], major: number, minor: number): boolean {
  return v[0] > major || (v[0] === major && v[1] >= minor);
}

export function featuresOf(version: string): ServerFeatures {
  const v = parseVersion(version);
  return {
    version,
    dateTime64: atLeast(v, 20, 1),
    dedupToken: atLeast(v, 22, 2),
    isDeletedColumn: atLeast(v, 23, 2),
    addColumnIfNotExists: atLeast(v, 19, 3),
  };
}
