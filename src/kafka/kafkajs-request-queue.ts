/**
 * A fix for kafkajs 2.2.4 (its last release, 2023), applied once when src/kafka/client.ts loads.
 *
 * Every kafkajs connection, once it has had an answer, re-arms a timer forever:
 * `RequestQueue.scheduleCheckPendingRequests` waits `throttledUntil - Date.now()` ms, and
 * `throttledUntil` is -1 unless the broker throttles, so the delay is about minus the epoch, which
 * Node clamps to 1 ms (tulios/kafkajs#1704, #1751). Measured here with one idle admin connection:
 * ~670 wake-ups/s and ~4.7 % of a core; the daemon holds several such connections (each sink's
 * consumer, the DLQ producer, admin). Node 23+ also prints a TimeoutNegativeWarning for it.
 *
 * The replacement schedules a check only when requests are waiting (every 10 ms, or at the end of
 * a broker throttle, as before) or a throttle is in effect; otherwise it arms nothing.
 * Invariant it relies on (kafkajs' own code): a request that cannot be sent at once is queued by
 * `push`, which calls this method with the queue non-empty; every response and every request
 * timeout calls `checkPendingRequests`. So no queued request waits on a timer this skips.
 *
 * Applied only to the kafkajs version and method body it was written for; any other version is
 * left as it is (`kafkajsRequestQueuePatched()` says which).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Upstream's CHECK_PENDING_REQUESTS_INTERVAL (not exported). */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;
const PATCHED_VERSION = '2.2.4';

interface RequestQueueInternals {
  throttledUntil: number;
  pending: unknown[];
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

let patched: boolean | undefined;

function apply(): boolean {
  let version: string;
  let proto: RequestQueueInternals;
  try {
    version = (require('kafkajs/package.json') as { version: string }).version;
    proto = (require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueueInternals }).prototype;
  } catch {
    return false;
  }
  const original = proto.scheduleCheckPendingRequests;
  if (version !== PATCHED_VERSION || typeof original !== 'function' || !original.toString().includes('this.throttledUntil - Date.now()')) return false;
  proto.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: RequestQueueInternals): void {
    if (this.throttleCheckTimeoutId) return; // one check armed is enough; it re-schedules itself
    let delay = this.throttledUntil - Date.now();
    if (this.pending.length > 0) delay = delay > 0 ? delay : CHECK_PENDING_REQUESTS_INTERVAL_MS;
    else if (delay <= 0) return; // nothing waits and no throttle: the next push or response checks
    this.throttleCheckTimeoutId = setTimeout(() => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    }, delay);
  };
  return true;
}

/** Applies the fix (once); true when kafkajs is the version it fixes and it is in place. */
export function kafkajsRequestQueuePatched(): boolean {
  patched ??= apply();
  return patched;
}
