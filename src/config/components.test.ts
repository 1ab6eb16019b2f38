import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadComponents } from './components.js';
import { formatError } from './issues.js';
import { loadConfig } from './load.js';

describe('a sink plugin that fails to load', () => {
  it('makes a sink of its type a located config error instead of accepting any keys', async () => {
    const real = await loadComponents();
    const components = {
      ...real,
      plugins: real.plugins.map((p) => (p.type === 'redis' ? { type: 'redis', description: 'broken', spec: z.object({}).catchall(z.unknown()), loadError: 'Cannot find module ioredis' } : p)),
    };
    const dir = mkdtempSync(join(tmpdir(), 'cdc-plugin-'));
    writeFileSync(join(dir, 'p.yaml'), 'name: p\nsource:\n  topic.prefix: p\nkafka:\n  bootstrap.servers: k:9092\nsinks:\n  - name: c\n    type: redis\n    tables: [public.users]\n    anything: goes\n');
    const r = await loadConfig(join(dir, 'p.yaml'), { components, cwd: dir });
    expect(r.errors.map(formatError)).toEqual([
      'p.yaml:8:11: sinks[0].type: the redis sink plugin failed to load (Cannot find module ioredis), so this sink\'s fields cannot be checked and it could not run; reinstall (npm ci) or remove the sink',
    ]);
  });
});
