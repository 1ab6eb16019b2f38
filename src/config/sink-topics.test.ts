import { describe, expect, it } from 'vitest';
import { followsSource, sourceTopicMatcher } from './sink-topics.js';

const source = { 'topic.prefix': 'shop', 'topic.routing.template': '${prefix}.${schema}.${table}', 'table.include.list': 'public\\.(orders|items_.*)' };

describe('sourceTopicMatcher (sinks that follow the source)', () => {
  it('accepts the data topics of selected tables, including ones that join later, and nothing else', () => {
    const m = sourceTopicMatcher(source);
    expect(['shop.public.orders', 'shop.public.items_2026'].filter(m)).toEqual(['shop.public.orders', 'shop.public.items_2026']);
    // Not selected, another prefix, the source's own topics, dead-letter topics.
    for (const t of ['shop.public.customers', 'other.public.orders', 'shop.cdc-fanout.offsets', 'shop.cdc-fanout.adhoc-snapshots', 'shop.dlq.search', 'shop.message', 'shop.transaction']) expect(m(t), t).toBe(false);
  });

  it('applies the exclude list and a custom offsets topic', () => {
    const m = sourceTopicMatcher({ 'topic.prefix': 'p', 'topic.routing.template': '${prefix}.${schema}.${table}', 'table.exclude.list': 'audit\\..*', 'offsets.topic': 'p.state' });
    expect(m('p.public.a')).toBe(true);
    expect(m('p.audit.log')).toBe(false);
    expect(m('p.state')).toBe(false);
  });
});

describe('followsSource', () => {
  it('follows with neither topics nor tables, or with a per-table map plus table.default', () => {
    expect(followsSource({ name: 's', type: 'elasticsearch' })).toBe(true);
    expect(followsSource({ tables: { 'public.a': { keys: ['a:{id}'] } }, 'table.default': { keys: ['{id}'] } })).toBe(true);
    expect(followsSource({ tables: ['public.a'] })).toBe(false);
    expect(followsSource({ topics: ['shop.public.a'] })).toBe(false);
    expect(followsSource({ tables: { 'public.a': { keys: ['a:{id}'] } } })).toBe(false);
  });
});
