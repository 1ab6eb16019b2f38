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
