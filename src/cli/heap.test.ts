/** The daemon's own heap flags: added only where the user chose none. */
import { describe, expect, it } from 'vitest';
import { daemonHeapFlags, daemonMallocEnv } from './heap.js';

describe('daemonHeapFlags', () => {
  it('adds both limits when the user set none', () => {
    expect(daemonHeapFlags(['--enable-source-maps'], undefined)).toEqual(['--max-semi-space-size=16', '--max-old-space-size=256']);
  });

  it('keeps a limit the user chose (NODE_OPTIONS or node args, - or _ spelling) and adds only the other', () => {
    expect(daemonHeapFlags(['--max-old-space-size=1024'], undefined)).toEqual(['--max-semi-space-size=16']);
    expect(daemonHeapFlags(['--max_semi_space_size=32'], undefined)).toEqual(['--max-old-space-size=256']);
    expect(daemonHeapFlags(['--max-heap-size=512'], undefined)).toEqual([]);
  });

  it('CDC_FANOUT_HEAP_FLAGS replaces the set; "none" or empty leaves V8 its defaults', () => {
    expect(daemonHeapFlags([], '--max-old-space-size=512  --max-semi-space-size=4')).toEqual(['--max-old-space-size=512', '--max-semi-space-size=4']);
    expect(daemonHeapFlags([], 'none')).toEqual([]);
    expect(daemonHeapFlags([], '')).toEqual([]);
  });
});

describe('daemonMallocEnv', () => {
  it('adds the malloc settings the user did not set, keeps the ones they did', () => {
    expect(daemonMallocEnv({})).toEqual({ MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' });
    expect(daemonMallocEnv({ MALLOC_ARENA_MAX: '8' })).toEqual({ MALLOC_MMAP_THRESHOLD_: '131072' });
    expect(daemonMallocEnv({ CDC_FANOUT_MALLOC_ENV: 'none' })).toEqual({});
  });
});
