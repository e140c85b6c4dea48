/**
 * Decorators the composition root wraps around the ports, so logic, gateway and storage stay
 * free of metrics code: each forwards every call unchanged and only observes.
 */
import type { Repo } from '../repo/index.js';
import type { Metrics } from './metrics.js';

/**
 * Forwards everything to `target`, with `overrides` in front. Methods are bound once and kept:
 * these wrappers sit on every request and message, and a bind per call was measurable there.
 */
function decorate<T extends object>(target: T, overrides: Partial<T>): T {
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(obj, prop) {
      if (Object.prototype.hasOwnProperty.call(overrides, prop)) return overrides[prop as keyof T];
      let value = bound.get(prop);
      if (value !== undefined) return value;
      value = Reflect.get(obj, prop, obj) as unknown;
      if (typeof value !== 'function') return value;
      value = (value as (...args: unknown[]) => unknown).bind(obj);
      bound.set(prop, value);
      return value;
    },
  });
}

/** Times every storage call (the SQLite store; PostgresRepo times its own queries). */
export function instrumentRepo(repo: Repo, metrics: Metrics): Repo {
  const overrides: Partial<Record<keyof Repo, unknown>> = {};
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(repo)) as Array<keyof Repo>) {
    const method = repo[name];
    if (name === ('constructor' as keyof Repo) || typeof method !== 'function') continue;
    const labels = { operation: name };
    overrides[name] = async (...args: unknown[]) => {
      const start = performance.now();
      try {
        return await (method as (...a: unknown[]) => Promise<unknown>).apply(repo, args);
      } finally {
        metrics.db.observe(labels, (performance.now() - start) / 1000);
      }
    };
  }
  return decorate(repo, overrides as Partial<Repo>);
}
