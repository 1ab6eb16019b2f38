import { describe, expect, it } from 'vitest';
import { sinkTableRefs, topicMatcher } from './sink-topics.js';

const source = { 'topic.prefix': 'shop', 'topic.routing.template': '${prefix}.${schema}.${table}' };

describe('sink tables', () => {
  it('topicMatcher maps a produced topic to its table, null for a foreign topic', () => {
    const m = topicMatcher(source);
    expect(m.tableOf('shop.public.users')).toEqual({ schema: 'public', table: 'users' });
    expect(m.tableOf('other.public.users')).toBeNull();
    expect(topicMatcher({ ...source, 'topic.routing.template': '${prefix}.all' }).tableOf('shop.all')).toBeUndefined();
  });

  it('sinkTableRefs: each consumed table with the config path that names it', () => {
    expect(sinkTableRefs({ tables: ['public.a', 'public.b'] }, source)).toEqual([
      { table: 'public.a', path: ['tables', 0] },
      { table: 'public.b', path: ['tables', 1] },
    ]);
    expect(sinkTableRefs({ tables: { 'public.a': {} } }, source)).toEqual([{ table: 'public.a', path: ['tables', 'public.a'] }]);
    expect(sinkTableRefs({ topics: ['shop.public.a', 'elsewhere.x.y'] }, source)).toEqual([{ table: 'public.a', path: ['topics', 0] }]);
  });
});
