import { describe, expect, it } from 'vitest';
import { followsSource, sinkTableRefs, sinkTopics, sourceTopicMatcher, topicMatcher } from './sink-topics.js';

const source = { 'topic.prefix': 'shop', 'topic.routing.template': '{prefix}.{schema}.{table}' };

describe('sink tables', () => {
  it('topicMatcher maps a produced topic to its table, null for a foreign topic', () => {
    const m = topicMatcher(source);
    expect(m.tableOf('shop.public.users')).toEqual({ schema: 'public', table: 'users' });
    expect(m.tableOf('other.public.users')).toBeNull();
    expect(topicMatcher({ ...source, 'topic.routing.template': '{prefix}.all' }).tableOf('shop.all')).toBeUndefined();
  });

  it('sinkTableRefs: each consumed table with the config path that names it', () => {
    expect(sinkTableRefs({ tables: ['public.a', 'public.b'] }, source)).toEqual([
      { table: 'public.a', path: ['tables', 0] },
      { table: 'public.b', path: ['tables', 1] },
    ]);
    expect(sinkTableRefs({ topics: ['shop.public.a', 'elsewhere.x.y'] }, source)).toEqual([{ table: 'public.a', path: ['topics', 0] }]);
  });
});

const followed = { 'topic.prefix': 'shop', 'topic.routing.template': '{prefix}.{schema}.{table}', 'table.include.list': 'public\\.(orders|items_.*)' };

describe('sourceTopicMatcher (sinks that follow the source)', () => {
  it('accepts the data topics of selected tables, including ones that join later, and nothing else', () => {
    const m = sourceTopicMatcher(followed);
    expect(['shop.public.orders', 'shop.public.items_2026'].filter(m)).toEqual(['shop.public.orders', 'shop.public.items_2026']);
    // Not selected, another prefix, the source's own topics, dead-letter topics.
    for (const t of ['shop.public.customers', 'other.public.orders', 'shop.cdc-fanout.offsets', 'shop.cdc-fanout.adhoc-snapshots', 'shop.dlq.search', 'shop.message', 'shop.transaction']) expect(m(t), t).toBe(false);
  });

  it('applies the exclude list and a custom offsets topic', () => {
    const m = sourceTopicMatcher({ 'topic.prefix': 'p', 'topic.routing.template': '{prefix}.{schema}.{table}', 'table.exclude.list': 'audit\\..*', 'offsets.topic': 'p.state' });
    expect(m('p.public.a')).toBe(true);
    expect(m('p.audit.log')).toBe(false);
    expect(m('p.state')).toBe(false);
  });
});

describe('sinkTopics', () => {
  it('names each table\'s topic by the routing template, plus the sink\'s topics', () => {
    expect(sinkTopics({ tables: ['public.a', 'sales.Straße'] }, 'shop')).toEqual(['shop.public.a', 'shop.sales.Stra_e']);
    expect(sinkTopics({ tables: ['public.a'] }, 'shop', '{prefix}.cdc.{schema}_{table}')).toEqual(['shop.cdc.public_a']);
    expect(sinkTopics({ topics: ['shop.all'] }, 'shop', '{prefix}.all')).toEqual(['shop.all']);
  });
});

describe('followsSource', () => {
  it('follows with neither topics nor tables (table.overrides and table.default do not select tables)', () => {
    expect(followsSource({ name: 's', type: 'elasticsearch' })).toBe(true);
    expect(followsSource({ 'table.overrides': { 'public.a': { keys: ['a:{id}'] } }, 'table.default': { keys: ['{id}'] } })).toBe(true);
    expect(followsSource({ tables: ['public.a'] })).toBe(false);
    expect(followsSource({ topics: ['shop.public.a'] })).toBe(false);
  });
});
