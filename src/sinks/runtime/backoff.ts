/** Exponential backoff with jitter for retrying a batch after a transient sink error. */
export interface BackoffConfig {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Fraction 0..1: the delay is spread uniformly over ±jitter around the exponential value. */
  readonly jitter: number;
}

/** Delay before retry number `attempt` (1 = first retry). `random` is injectable for tests. */
export function backoffDelay(attempt: number, cfg: BackoffConfig, random: () => number = Math.random): number {
  const exp = Math.min(cfg.maxMs, cfg.initialMs * 2 ** Math.max(0, attempt - 1));
  const spread = exp * cfg.jitter * (2 * random() - 1);
  return Math.max(0, Math.min(cfg.maxMs, Math.round(exp + spread)));
}
