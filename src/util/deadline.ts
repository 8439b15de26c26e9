export class DeadlineError extends Error {}

/**
 * `work`, or a DeadlineError once `ms` have passed without an answer. The work itself goes on
 * (a Docker call keeps its own timeout); only the caller stops waiting for it.
 */
export function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`${what} did not answer within ${ms} ms`)), ms);
  });
  // a failure that comes after the deadline has no one to tell
  work.catch(() => undefined);
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
