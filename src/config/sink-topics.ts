import { templateProblem } from '../events/template.js';
import { compileTopicNamer } from '../events/topics.js';

const DEFAULT_ROUTING = '{prefix}.{schema}.{table}';
/** Whether a routing template gives one topic per table (names both {schema} and {table}), so `tables` can name topics. */
const perTable = (template: string): boolean => template.includes('{schema}') && template.includes('{table}');

/**
 * Which topics a sink consumes. `topics` lists them; otherwise `tables` (the one table selector of
 * every sink: a list of "schema.table") names them → "<topic.prefix>.<schema>.<table>".
 */
export function sinkTables(sink: Readonly<Record<string, unknown>>): string[] {
  const t = sink.tables;
  return Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * Whether a sink follows the source's table selection (consumes every captured table's topic, new
 * tables included): it names no `topics` and no `tables`.
 */
export function followsSource(sink: Readonly<Record<string, unknown>>): boolean {
  return sink.topics === undefined && sink.tables === undefined;
}

/** The topics a sink names: its `topics`, and the topic of each of its `tables` by the source's routing template. */
export function sinkTopics(sink: Readonly<Record<string, unknown>>, topicPrefix: string, routingTemplate = DEFAULT_ROUTING): string[] {
  const topics = Array.isArray(sink.topics) ? sink.topics.filter((x): x is string => typeof x === 'string') : [];
  const tables = sinkTables(sink);
  if (tables.length === 0 || !perTable(routingTemplate)) return [...new Set(topics)];
  const topicOf = compileTopicNamer(routingTemplate, topicPrefix);
  return [...new Set([...topics, ...tables.map((t) => topicOf(t.slice(0, t.indexOf('.')), t.slice(t.indexOf('.') + 1)))])];
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
/**
 * The include/exclude list's entries. The pipeline check also runs when the source block did not
 * parse: a list still in its YAML shape is then broken (reported at the source), so it selects nothing here.
 */
const patterns = (list: unknown): RegExp[] =>
  (typeof list === 'string' ? list : '')
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

/** The routing template as a regex over topic names, with the order of its schema/table groups. */
function producedPattern(source: SourceTopics): { re: RegExp; order: string[] } {
  let re = '^';
  const order: string[] = [];
  for (const part of source['topic.routing.template'].split(/(\{(?:prefix|schema|table)\})/)) {
    if (part === '{prefix}') re += escapeRe(source['topic.prefix']);
    else if (part === '{schema}' || part === '{table}') {
      re += '(.+?)';
      order.push(part);
    } else re += escapeRe(part);
  }
  return { re: new RegExp(`${re}$`), order };
}

/** What a sink following the source needs to know about it, besides its table selection. */
export interface FollowedSource extends SourceTopics {
  readonly 'offsets.topic'?: string | undefined;
  readonly 'transaction.topic'?: string | undefined;
  readonly 'message.topic'?: string | undefined;
}

/**
 * The data topics of the source's table selection, as a predicate over topic names: for a sink
 * with neither `topics` nor `tables` (it follows the source). A topic matches when the routing
 * template produces it and its schema.table is selected by the include/exclude lists (the same
 * rules as the source's). The source's own topics (offsets, ad-hoc snapshot checkpoints, dead-letter
 * topics, messages, transaction metadata) never match.
 */
export function sourceTopicMatcher(source: FollowedSource): (topic: string) => boolean {
  const prefix = source['topic.prefix'];
  const { re, order } = producedPattern(source);
  const include = patterns(source['table.include.list']);
  const exclude = patterns(source['table.exclude.list']);
  const own = new Set([
    source['offsets.topic'] ?? `${prefix}.cdc-fanout.offsets`,
    (source['transaction.topic'] ?? '{prefix}.transaction').replaceAll('{prefix}', prefix),
    (source['message.topic'] ?? '{prefix}.message').replaceAll('{prefix}', prefix),
  ]);
  return (topic) => {
    if (own.has(topic) || topic.startsWith(`${prefix}.cdc-fanout.`) || topic.startsWith(`${prefix}.dlq.`)) return false;
    const m = re.exec(topic);
    if (!m) return false;
    if (order.length !== 2) return true;
    const table = `${m[order.indexOf('{schema}') + 1]}.${m[order.indexOf('{table}') + 1]}`;
    return (include.length === 0 || include.some((r) => r.test(table))) && !exclude.some((r) => r.test(table));
  };
}

/**
 * The tables a sink consumes, each with where the sink names it: its `tables` (list or per-table
 * map) and the tables behind its `topics` (by the routing template).
 */
export function sinkTableRefs(sink: Readonly<Record<string, unknown>>, source: SourceTopics): { readonly table: string; readonly path: readonly (string | number)[] }[] {
  const out = new Map<string, readonly (string | number)[]>();
  sinkTables(sink).forEach((t, i) => out.has(t) || out.set(t, ['tables', i]));
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
  const defaultShape = template === '{prefix}.{schema}.{table}';
  const { re: produced, order } = producedPattern(source);
  const shown = template.replaceAll('{prefix}', prefix).replaceAll('{schema}', '<schema>').replaceAll('{table}', '<table>');
  return {
    produced,
    shown,
    defaultShape,
    /** null: not produced by the source; undefined: produced, but the template does not name both schema and table. */
    tableOf(topic) {
      const m = produced.exec(topic);
      if (!m) return null;
      const schema = m[order.indexOf('{schema}') + 1];
      const table = m[order.indexOf('{table}') + 1];
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
  // A broken routing template is reported at the source; topics cannot be derived from it.
  if (templateProblem(template, ['prefix', 'schema', 'table'])) return problems;
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
    const path = ['tables', i];
    if (hasTopics) return;
    if (!perTable(template)) {
      problems.push({ path, message: `"tables" names each table's topic, but source.topic.routing.template "${template}" does not give one topic per table (it lacks {schema} or {table}): list the topics under "topics" instead` });
      return;
    }
    const why = captured(table);
    if (why) problems.push({ path, message: why });
  });
  // `table.overrides` (per-table settings, every sink type) name consumed tables only.
  const overrides = sink['table.overrides'];
  if (overrides && typeof overrides === 'object' && !Array.isArray(overrides)) {
    const listed = tablesIsList ? new Set(sinkTables(sink)) : undefined;
    for (const table of Object.keys(overrides)) {
      if (listed && !listed.has(table)) {
        problems.push({ path: ['table.overrides', table], message: `table.overrides configures ${table}, which is not in this sink's tables: add it to tables, or remove the entry` });
      } else if (!listed && !hasTopics && perTable(template) && /^[^.\s]+\.[^.\s]+$/.test(table)) {
        const why = captured(table);
        if (why) problems.push({ path: ['table.overrides', table], message: `table.overrides configures ${table}, but ${why}` });
      }
    }
  }
  return problems;
}
