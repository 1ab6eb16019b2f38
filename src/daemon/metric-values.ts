/** Reads current values of the shared prom-client instruments, filtered by labels (for /pipelines). */
import type { Counter, Gauge } from 'prom-client';

type Labels = Record<string, string>;

export async function metricValues(metric: Counter | Gauge, match: Labels): Promise<{ labels: Labels; value: number }[]> {
  const data = await metric.get();
  return data.values
    .filter((v) => Object.entries(match).every(([k, want]) => String(v.labels[k]) === want))
    .map((v) => ({ labels: Object.fromEntries(Object.entries(v.labels).map(([k, x]) => [k, String(x)])), value: v.value }));
}

export async function metricSum(metric: Counter | Gauge, match: Labels): Promise<number> {
  return (await metricValues(metric, match)).reduce((a, v) => a + v.value, 0);
}
