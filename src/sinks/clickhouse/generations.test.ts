import { describe, expect, it } from 'vitest';
import type { RebuildState } from '../generations.js';
import { clickhouseSpec } from './config.js';
import { ClickHouseGenerations, generationSuffix } from './generations.js';

const state = (phase: RebuildState['phase']): RebuildState => ({ group: 'g', generation: 2, rebuildGroup: 'g.rebuild.g2', suffix: generationSuffix('g', 2), tables: null, phase, startedAt: 't' });

describe('ClickHouse generations', () => {
  it('names generation tables per live group (identifier-safe) and writes them until the swap, the live names after', async () => {
    expect(generationSuffix('g', 2)).toMatch(/^__g2_[0-9a-f]{6}$/);
    expect(generationSuffix('other', 2)).not.toBe(generationSuffix('g', 2));
    const cfg = clickhouseSpec.parse({ url: 'http://127.0.0.1:1', mode: 'both', 'table.overrides': { 'public.orders': { 'table.name': 'orders', mode: 'both' }, 'public.items': { mode: 'upsert' } } });
    const gens = new ClickHouseGenerations(cfg, 'g');
    const building = gens.rebuildConfig(state('building'));
    expect(building).toEqual({
      'checkpoint.group': 'g.rebuild.g2',
      'table.name.format': `{schema}_{table}${generationSuffix('g', 2)}`,
      mode: 'upsert',
      'table.overrides': { 'public.orders': { 'table.name': `orders${generationSuffix('g', 2)}`, mode: 'upsert' }, 'public.items': { mode: 'upsert' } },
    });
    expect(gens.rebuildConfig(state('draining'))).toMatchObject({ 'checkpoint.group': 'g.rebuild.g2', 'table.name.format': '{schema}_{table}', 'table.overrides': { 'public.orders': { 'table.name': 'orders' } } });
    await gens.close();
  });

  it('refuses changelog tables: a compacted log no longer holds the history', async () => {
    const gens = new ClickHouseGenerations(clickhouseSpec.parse({ url: 'http://127.0.0.1:1', 'table.overrides': { 'public.audit': { mode: 'changelog' } } }), 'g');
    expect(() => gens.rebuildConfig(state('building'))).toThrow(/changelog-mode tables cannot be rebuilt from the log/);
    await gens.close();
  });
});
