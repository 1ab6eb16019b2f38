/**
 * CPU profile of a bench phase via node:inspector, summarised by component: where the main thread's
 * time went (our source/events code, the Kafka client, the pgoutput reader, GC, idle …).
 */
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Share of the main thread's samples, in percent, per component. */
  readonly byComponent: Record<string, number>;
  /** The hottest functions (self time), percent. */
  readonly topFunctions: Record<string, number>;
}

/** Names the component a stack frame belongs to. */
function component(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const src = /\/src\/([^/]+)\//.exec(url);
  if (src) return `src/${src[1]}`;
  if (url.startsWith('node:')) return 'node core';
  return 'other';
}

export async function startProfile(): Promise<() => Promise<Profile>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
    session.disconnect();
    return profile;
  };
}

export function summarise(profile: Profile, file?: string): ProfileSummary {
  if (file) writeFileSync(file, JSON.stringify(profile));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byComponent = new Map<string, number>();
  const byFn = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const cf = nodes.get(id)!.callFrame;
    const c = component(cf.url, cf.functionName);
    byComponent.set(c, (byComponent.get(c) ?? 0) + dt);
    const fn = `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*node_modules\//, '').replace(/^.*\/src\//, 'src/')}:${cf.lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + dt);
    total += dt;
  });
  const pct = (m: Map<string, number>, n: number): Record<string, number> =>
    Object.fromEntries(
      [...m]
        .sort((a, b) => b[1] - a[1])
        .slice(0, n)
        .map(([k, v]) => [k, Math.round((v / total) * 1000) / 10]),
    );
  return { byComponent: pct(byComponent, 14), topFunctions: pct(byFn, 15) };
}
