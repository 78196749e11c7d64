/**
 * Runs the jobs with at most `limit` at once; the results in the jobs' order. After a job fails,
 * no new job starts, and the first error is thrown only once the jobs already running have
 * ended: a rollback must not race jobs that are still creating things.
 */
export async function pool<T>(jobs: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  await Promise.all(
    Array.from({ length: Math.min(limit, jobs.length) }, async () => {
      while (next < jobs.length && !failure) {
        const i = next++;
        try {
          results[i] = await jobs[i]!();
        } catch (error) {
          failure ??= { error };
        }
      }
    }),
  );
  if (failure) throw failure.error;
  return results;
}
