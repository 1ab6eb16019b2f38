/**
 * Which topics a sink consumes. `topics` lists them; otherwise `tables` names them as
 * "schema.table" → "<topic.prefix>.<schema>.<table>". Some sink types (redis, clickhouse) declare
 * `tables` as a per-table map; then its keys are the tables.
 */
export function sinkTables(sink: Readonly<Record<string, unknown>>): string[] {
  const t = sink.tables;
  if (Array.isArray(t)) return t.filter((x): x is string => typeof x === 'string');
  if (t && typeof t === 'object') return Object.keys(t);
  return [];
}

export function sinkTopics(sink: Readonly<Record<string, unknown>>, topicPrefix: string): string[] {
  const topics = Array.isArray(sink.topics) ? sink.topics.filter((x): x is string => typeof x === 'string') : [];
  return [...new Set([...topics, ...sinkTables(sink).map((t) => `${topicPrefix}.${t}`)])];
}

/** What a pipeline's source produces, as far as a sink's topic list is concerned. */
export interface SourceTopics {
  readonly 'topic.prefix': string;
  readonly 'topic.routing.template': string;
  readonly 'table.include.list'?: string | undefined;
  readonly 'table.exclude.list'?: string | undefined;
}

export interface TopicProblem {
  /** Relative to the sink: ['topics', 2], ['tables', 'public.x'], ['tables', 0]. */
  readonly path: readonly (string | number)[];
  readonly message: string;
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const patterns = (list: string | undefined): RegExp[] =>
  (list ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .flatMap((p) => {
      try {
        return [new RegExp(`^(?:${p})$`)];
      } catch {
        return []; // reported by the source's own field check
      }
    });

/**
 * The tables a sink consumes, each with where the sink names it: its `tables` (list or per-table
 * map) and the tables behind its `topics` (by the routing template).
 */
export function sinkTableRefs(sink: Readonly<Record<string, unknown>>, source: SourceTopics): { readonly table: string; readonly path: readonly (string | number)[] }[] {
  const out = new Map<string, readonly (string | number)[]>();
  const list = Array.isArray(sink.tables);
  sinkTables(sink).forEach((t, i) => out.has(t) || out.set(t, list ? ['tables', i] : ['tables', t]));
  if (Array.isArray(sink.topics)) {
    const { tableOf } = topicMatcher(source);
    sink.topics.forEach((topic, i) => {
      const t = typeof topic === 'string' ? tableOf(topic) : null;
      if (t && !out.has(`${t.schema}.${t.table}`)) out.set(`${t.schema}.${t.table}`, ['topics', i]);
    });
  }
  return [...out].map(([table, path]) => ({ table, path }));
}

/** The routing template as a matcher: topic → its schema and table (null for a topic the source does not produce). */
export function topicMatcher(source: SourceTopics): { readonly produced: RegExp; readonly shown: string; readonly defaultShape: boolean; tableOf(topic: string): { schema: string; table: string } | null | undefined } {
  const prefix = source['topic.prefix'];
  const template = source['topic.routing.template'];
  const defaultShape = template === '${prefix}.${schema}.${table}';
  // The routing template as a regex with the schema and table as groups.
  let re = '^';
  const order: string[] = [];
  for (const part of template.split(/(\$\{(?:prefix|schema|table)\})/)) {
    if (part === '${prefix}') re += escapeRe(prefix);
    else if (part === '${schema}' || part === '${table}') {
      re += '(.+?)';
      order.push(part);
    } else re += escapeRe(part);
  }
  const produced = new RegExp(`${re}$`);
  const shown = template.replaceAll('${prefix}', prefix).replaceAll('${schema}', '<schema>').replaceAll('${table}', '<table>');
  return {
    produced,
    shown,
    defaultShape,
    /** null: not produced by the source; undefined: produced, but the template does not name both schema and table. */
    tableOf(topic) {
      const m = produced.exec(topic);
      if (!m) return null;
      const schema = m[order.indexOf('${schema}') + 1];
      const table = m[order.indexOf('${table}') + 1];
      return schema !== undefined && table !== undefined && order.length === 2 ? { schema, table } : undefined;
    },
  };
}

/**
 * Static consistency of a sink with its pipeline's source: a sink names its input by `topics` or by
 * `tables`, not both; every topic must be one the source produces (`topic.routing.template` with
 * this pipeline's prefix); every table must be captured (include/exclude lists). A sink waiting for
 * a topic nobody writes would sit in STARTING forever, so these are config errors.
 */
export function sinkTopicProblems(sink: Readonly<Record<string, unknown>>, source: SourceTopics): TopicProblem[] {
  const problems: TopicProblem[] = [];
  const prefix = source['topic.prefix'];
  const template = source['topic.routing.template'];
  const { shown, defaultShape, tableOf } = topicMatcher(source);
  const include = patterns(source['table.include.list']);
  const exclude = patterns(source['table.exclude.list']);
  const captured = (table: string): string | undefined => {
    if (include.length && !include.some((r) => r.test(table))) return `the source does not capture ${table} (not matched by source.table.include.list "${source['table.include.list']}"): add it there`;
    if (exclude.some((r) => r.test(table))) return `the source does not capture ${table} (matched by source.table.exclude.list "${source['table.exclude.list']}"): remove it there`;
    return undefined;
  };

  const hasTopics = sink.topics !== undefined;
  const tablesIsList = Array.isArray(sink.tables);
  if (hasTopics && tablesIsList) {
    problems.push({ path: ['tables'], message: 'set "topics" or "tables", not both (tables: ["schema.table"] already names the topics "<topic.prefix>.<schema>.<table>"): remove one' });
  }
  if (Array.isArray(sink.topics)) {
    sink.topics.forEach((topic, i) => {
      if (typeof topic !== 'string') return;
      const t = tableOf(topic);
      if (t === null) {
        const parts = topic.split('.');
        const guess = defaultShape && parts.length >= 3 ? `; did you mean "${[prefix, ...parts.slice(-2)].join('.')}"?` : '';
        problems.push({ path: ['topics', i], message: `topic "${topic}" is not produced by this pipeline: its source writes "${shown}" (source.topic.prefix "${prefix}")${guess}` });
        return;
      }
      if (t) {
        const why = captured(`${t.schema}.${t.table}`);
        if (why) problems.push({ path: ['topics', i], message: `topic "${topic}": ${why}` });
      }
    });
  }
  sinkTables(sink).forEach((table, i) => {
    const path = tablesIsList ? ['tables', i] : ['tables', table];
    // Only sinks that derive topics from `tables` (a list, or a per-table map without `topics`).
    if (hasTopics) return;
    if (!defaultShape) {
      problems.push({ path, message: `"tables" maps to topics "${prefix}.<schema>.<table>", but source.topic.routing.template is "${template}": list the topics under "topics" instead` });
      return;
    }
    const why = captured(table);
    if (why) problems.push({ path, message: why });
  });
  return problems;
}
