/**
 * Shared settings of the property-based (fuzz) tests in test/unit/fuzz-*.test.ts: one seed for
 * every run, so a failure reproduces, and a per-call time budget, so a parser that blows up on
 * some input fails with that input instead of slowing the suite down.
 *
 * fast-check prints the seed, the path and the shrunk counterexample of a failure. To run with
 * another seed, or more runs for a longer campaign: FUZZ_SEED=123 FUZZ_RUNS=20 npx vitest run
 * test/unit/fuzz- (FUZZ_RUNS multiplies each property's own number of runs).
 */
import fc from 'fast-check';
import { it } from 'vitest';

export const FUZZ_SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20_240_601;
const SCALE = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : 1;

/** Most any single call may take: the inputs are at most some kilobytes (or a few deep nestings). */
export const CALL_BUDGET_MS = 2_000;
/** Times a slow call is retried before it fails: a busy machine stalls one call, a blow-up stalls every one. */
const SLOW_TRIES = 3;

/** fast-check parameters: the seed, `numRuns` (times FUZZ_RUNS), and a wall-clock limit for the whole property. */
export function fuzzParams(numRuns: number, timeLimitMs = 20_000): fc.Parameters<unknown> {
  return { seed: FUZZ_SEED, numRuns: Math.round(numRuns * SCALE), interruptAfterTimeLimit: timeLimitMs * SCALE, markInterruptAsFailure: false };
}

/** A vitest timeout for a property run with fuzzParams(_, timeLimitMs): the limit and room for the slowest call. */
export function fuzzTimeout(timeLimitMs = 20_000): number {
  return timeLimitMs * SCALE + 10_000;
}

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Calls `fn`: fine if it returns, or throws an instance of one of `allowed`; anything else thrown
 * (a TypeError, a RangeError from a blown stack...) is rethrown. A call slower than the budget is
 * timed again, and fails if it is slow every time. Returns what `fn` returned, or the typed error.
 */
export function resultOrTypedError<T>(fn: () => T, allowed: readonly ErrorClass[]): { value: T } | { error: Error } {
  const times: number[] = [];
  for (;;) {
    const t0 = performance.now();
    let out: { value: T } | { error: Error };
    try {
      out = { value: fn() };
    } catch (err) {
      if (!allowed.some((c) => err instanceof c)) throw err;
      out = { error: err as Error };
    }
    times.push(Math.round(performance.now() - t0));
    if (times.at(-1)! <= CALL_BUDGET_MS) return out;
    if (times.length === SLOW_TRIES) throw new Error(`took ${times.join(', ')} ms in ${SLOW_TRIES} tries, more than the ${CALL_BUDGET_MS} ms budget of one call`);
  }
}

/** A test that `check` holds for `numRuns` values of `arbitrary`, with the shared seed and budgets. */
export function itHolds<T>(title: string, arbitrary: fc.Arbitrary<T>, check: (value: T) => void, numRuns: number): void {
  it(title, () => fc.assert(fc.property(arbitrary, check), fuzzParams(numRuns)), fuzzTimeout());
}
