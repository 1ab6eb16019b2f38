/**
 * Cross-pipeline conflicts: names that must belong to exactly one pipeline (or one sink) within the
 * files one daemon — or one `validate` — loads. Two pipelines on one replication slot silently lose
 * changes (one drops or advances the other's slot); on one publication, one alters the other's
 * table list; on one topic prefix or offsets topic they mix events and positions; on one
 * transactional id their producers fence each other; on one consumer group their sinks split the
 * partitions and each misses the other's share. Each conflict is reported at the later
 * occurrence and names the earlier one's file and line.
 */
import { defaultGroupId } from '../sinks/group-id.js';
import type { ConfigError } from './issues.js';
import { formatPath, type ConfigPath, type Location } from './locate.js';

export interface PipelineForConflicts {
  readonly file: string;
  readonly config: { readonly name: string; readonly source: unknown; readonly kafka: unknown; readonly sinks: readonly unknown[] };
  readonly at: (path: ConfigPath) => Location | undefined;
  /** Whether the file writes `path` itself (else the value is a default). */
  readonly written?: (path: ConfigPath) => boolean;
}

interface Claim {
  readonly pipeline: number;
  /** Where the name is written (or, when it is a default, the field it derives from). */
  readonly path: ConfigPath;
  /** The service the name lives in: a Postgres database, or a Kafka cluster (set of brokers). */
  readonly scope: readonly string[];
  readonly value: string;
  /** For derived defaults: the explicit field that would set it. */
  readonly derived?: string;
}

interface Resource {
  readonly what: string;
  readonly where: 'database' | 'Kafka cluster';
  readonly why: string;
  readonly fix: string;
  readonly claims: (p: Readonly<Record<string, unknown>>, source: Readonly<Record<string, unknown>>, index: number) => Omit<Claim, 'pipeline' | 'scope'>[];
}

const LOCAL = new Set(['localhost', '127.0.0.1', '::1', '[::1]', '0.0.0.0']);
const host = (h: string): string => (LOCAL.has(h.toLowerCase()) ? 'localhost' : h.toLowerCase());

function databaseScope(source: Readonly<Record<string, unknown>>): string[] {
  const db = String(source['database.dbname'] ?? '');
  // database.hosts: every server of the cluster (pipelines sharing any of them share the database).
  const hosts = typeof source['database.hosts'] === 'string' ? source['database.hosts'].split(',').map((e) => e.trim()).filter(Boolean) : [];
  if (hosts.length > 0) {
    return hosts.map((e) => {
      const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(e);
      return `${host((m?.[1] ?? e).replace(/^\[|\]$/g, ''))}:${m?.[2] ?? String(source['database.port'] ?? '')}/${db}`;
    });
  }
  return [`${host(String(source['database.hostname'] ?? ''))}:${String(source['database.port'] ?? '')}/${db}`];
}

function kafkaScope(kafka: Readonly<Record<string, unknown>>): string[] {
  return String(kafka['bootstrap.servers'] ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean)
    .map((b) => {
      const i = b.lastIndexOf(':');
      return i > 0 ? `${host(b.slice(0, i))}:${b.slice(i + 1)}` : host(b);
    });
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

const resources: Resource[] = [
  {
    what: 'replication slot',
    where: 'database',
    why: 'one pipeline would drop, recreate or advance the other\'s slot and changes would be lost',
    fix: 'give each pipeline its own source.slot.name',
    claims: (_p, s) => [{ path: ['source', 'slot.name'], value: str(s['slot.name']) ?? '' }],
  },
  {
    what: 'publication',
    where: 'database',
    why: 'each pipeline manages its publication\'s table list, so one would change what the other captures',
    fix: 'give each pipeline its own source.publication.name',
    claims: (_p, s) => [{ path: ['source', 'publication.name'], value: str(s['publication.name']) ?? '' }],
  },
  {
    what: 'topic prefix',
    where: 'Kafka cluster',
    why: 'both would write the same topics and their sinks could not tell the events apart',
    fix: 'give each pipeline its own source.topic.prefix',
    claims: (_p, s) => [{ path: ['source', 'topic.prefix'], value: str(s['topic.prefix']) ?? '' }],
  },
  {
    what: 'offsets topic',
    where: 'Kafka cluster',
    why: 'each would resume from the other\'s position',
    fix: 'set a distinct source.offsets.topic (its default derives from topic.prefix)',
    claims: (_p, s) => {
      const explicit = str(s['offsets.topic']);
      return [explicit ? { path: ['source', 'offsets.topic'], value: explicit } : { path: ['source', 'topic.prefix'], value: `${String(s['topic.prefix'])}.cdc-fanout.offsets`, derived: 'offsets.topic' }];
    },
  },
  {
    what: 'Kafka transactional id',
    where: 'Kafka cluster',
    why: 'their producers would fence each other and both would restart forever',
    fix: 'give each pipeline its own source.name (the transactional id is "cdc-fanout-<source.name>")',
    // source.name defaults to the pipeline name (unique already): point at whichever is written.
    claims: (p, s) => [{ path: s.name !== p.name ? ['source', 'name'] : ['name'], value: `cdc-fanout-${String(s.name)}` }],
  },
];

/** Consumer groups: one claim per sink. */
const groups: Resource = {
  what: 'sink consumer group',
  where: 'Kafka cluster',
  why: 'the sinks would split the partitions between them and each would miss the other\'s share',
  fix: 'give each sink its own group.id (default "cdc-fanout.<pipeline>.<sink name>")',
  claims: (p) =>
    ((p.sinks as unknown[]) ?? []).map((raw, i) => {
      const sink = (raw ?? {}) as Record<string, unknown>;
      const explicit = str(sink['group.id']);
      return explicit ? { path: ['sinks', i, 'group.id'], value: explicit } : { path: ['sinks', i, 'name'], value: defaultGroupId(String(p.name), String(sink.name)) };
    }),
};

const overlaps = (a: readonly string[], b: readonly string[]): boolean => a.some((x) => b.includes(x));

/** Every name two pipelines (or two sinks of one pipeline) share, as located errors. */
export function findConflicts(pipelines: readonly PipelineForConflicts[]): ConfigError[] {
  const errors: ConfigError[] = [];
  const where = (c: Claim): string => {
    const p = pipelines[c.pipeline] as PipelineForConflicts;
    const loc = p.at(c.path);
    return `${p.file}${loc ? `:${loc.line}:${loc.col}` : ''}`;
  };
  for (const r of [...resources, groups]) {
    const claims: Claim[] = [];
    pipelines.forEach((p, i) => {
      const source = (p.config.source ?? {}) as Record<string, unknown>;
      const scope = r.where === 'database' ? databaseScope(source) : kafkaScope((p.config.kafka ?? {}) as Record<string, unknown>);
      for (const c of r.claims(p.config as unknown as Record<string, unknown>, source, i)) if (c.value) claims.push({ ...c, pipeline: i, scope });
    });
    const reported = new Set<Claim>();
    for (let b = 0; b < claims.length; b++) {
      const later = claims[b] as Claim;
      for (let a = 0; a < b; a++) {
        const first = claims[a] as Claim;
        if (first.value !== later.value || !overlaps(first.scope, later.scope) || reported.has(later)) continue;
        // A derived offsets topic collides exactly when the topic prefixes do: reported once, as the prefix.
        if (first.derived && later.derived) continue;
        reported.add(later);
        const p = pipelines[later.pipeline] as PipelineForConflicts;
        const firstP = pipelines[first.pipeline] as PipelineForConflicts;
        const owner = first.pipeline === later.pipeline ? `${formatPath(first.path.slice(0, 2))} of this pipeline` : `pipeline "${firstP.config.name}"`;
        const derived = later.derived ? ` (the default ${later.derived}, from topic.prefix)` : p.written && !p.written(later.path) ? ` (the default of ${formatPath(later.path)})` : '';
        errors.push({
          file: p.file,
          path: formatPath(later.path),
          message: `${r.what} "${later.value}"${derived} in ${r.where} ${later.scope.join(',')} is also used by ${owner} at ${where(first)}: ${r.why}; ${r.fix}`,
          location: p.at(later.path),
        });
      }
    }
  }
  return errors;
}
