/**
 * Seeded randomness for the tests that pick random data or random kill moments. Every such test
 * prints its seed; `CDC_TEST_SEED=<n> npx vitest run <file>` replays the same choices (kill timing
 * still races real processes, so a replay reproduces the schedule, not every interleaving).
 */
import { rng, type Rng } from '../../scripts/verify/rng.js';

export function testRng(name: string): Rng & { readonly seed: number } {
  const fromEnv = process.env.CDC_TEST_SEED;
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
  if (!Number.isSafeInteger(seed)) throw new Error(`CDC_TEST_SEED must be an integer, got ${JSON.stringify(fromEnv)}`);
  console.log(`${name}: seed ${seed} (replay with CDC_TEST_SEED=${seed})`);
  return { ...rng(seed), seed };
}
