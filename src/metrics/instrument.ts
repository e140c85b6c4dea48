/**
 * Stop-gap until SqliteRepo takes `observe` in its options like every other port (issue 11:
 * the SQL store is being rewritten beside this change): a plain object that forwards each Repo
 * method to the store and reports it. Remove it when the store reports by itself.
 */
import { AppError } from '../protocol/index.js';
import type { Repo } from '../repo/index.js';
import type { OperationObserver } from '../ports/observer.js';

/** Reports every storage call: method name, seconds, "ok" or the AppError code ("error" for anything else). */
export function instrumentRepo(repo: Repo, observe: OperationObserver): Repo {
  const observed: Record<string, unknown> = {};
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(repo))) {
    const method = (repo as unknown as Record<string, unknown>)[name];
    if (name === 'constructor' || typeof method !== 'function') continue;
    observed[name] = async (...args: unknown[]) => {
      const started = performance.now();
      let outcome = 'ok';
      try {
        return await (method as (...a: unknown[]) => Promise<unknown>).apply(repo, args);
      } catch (err) {
        outcome = err instanceof AppError ? err.code : 'error';
        throw err;
      } finally {
        observe(name, (performance.now() - started) / 1000, outcome);
      }
    };
  }
  return observed as unknown as Repo;
}
