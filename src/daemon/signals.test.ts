import { describe, expect, it } from 'vitest';
import { parseSignal, signalData } from './signals.js';

describe('snapshot signals', () => {
  it('parse Debezium\'s layout: execute (incremental default, blocking, additional-conditions), pause, resume, stop with tables', () => {
    expect(parseSignal('1', 'execute-snapshot', '{"data-collections":["public.a"]}')).toEqual({ id: '1', kind: 'execute', tables: ['public.a'], conditions: {}, type: 'incremental' });
    expect(parseSignal('2', 'execute-snapshot', '{"data-collections":["public.a"],"type":"BLOCKING"}').type).toBe('blocking');
    expect(parseSignal('3', 'execute-snapshot', '{"data-collections":["public.a"],"additional-conditions":[{"data-collection":"public.a","filter":"id > 5"}]}').conditions).toEqual({ 'public.a': 'id > 5' });
    expect(parseSignal('4', 'pause-snapshot', '{"type":"incremental"}').kind).toBe('pause');
    expect(parseSignal('5', 'resume-snapshot', null).kind).toBe('resume');
    expect(parseSignal('6', 'stop-snapshot', '{"data-collections":["public.a"],"type":"incremental"}')).toMatchObject({ kind: 'stop', tables: ['public.a'] });
  });

  it('refuse what they cannot run, saying why', () => {
    expect(() => parseSignal('1', 'log', '{}')).toThrow(/unknown signal type "log" \(known: execute-snapshot, pause-snapshot, resume-snapshot, stop-snapshot\)/);
    expect(() => parseSignal('1', 'execute-snapshot', '{nope')).toThrow('data is not JSON');
    expect(() => parseSignal('1', 'execute-snapshot', '{"type":"fast"}')).toThrow(/"fast" is not supported/);
    expect(() => parseSignal('1', 'execute-snapshot', '{"additional-conditions":{"public.a":"x"}}')).toThrow(/must be a list/);
    expect(() => parseSignal('1', 'execute-snapshot', '{"additional-conditions":[{"data-collection":"public.a"}]}')).toThrow(/"data-collection" and "filter"/);
    expect(() => parseSignal('1', 'execute-snapshot', '{"type":"blocking","additional-conditions":[{"data-collection":"public.a","filter":"x"}]}')).toThrow(/incremental snapshots only/);
  });

  it('round-trip: what the CLI writes parses back to the same request', () => {
    const data = signalData({ kind: 'execute', tables: ['public.a', 'public.b'], conditions: { 'public.b': "status = 'open'" } });
    expect(parseSignal('x', 'execute-snapshot', data)).toEqual({ id: 'x', kind: 'execute', tables: ['public.a', 'public.b'], conditions: { 'public.b': "status = 'open'" }, type: 'incremental' });
    expect(parseSignal('y', 'stop-snapshot', signalData({ kind: 'stop', tables: ['public.a'] })).tables).toEqual(['public.a']);
    expect(signalData({ kind: 'pause' })).toBe('{"type":"incremental"}');
  });
});
