/**
 * Decorators the composition root wraps around the ports, so logic, gateway and storage stay
 * free of metrics code: each forwards every call unchanged and only observes.
 */
import { toAppError } from '../protocol/index.js';
import type { LogicApi } from '../logic/api.js';
import type { Repo } from '../repo/index.js';
import type { Bus } from '../bus/index.js';
import type { Metrics } from './metrics.js';

/** Forwards everything to `target`, with `overrides` in front. */
function decorate<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      if (Object.prototype.hasOwnProperty.call(overrides, prop)) return overrides[prop as keyof T];
      const value = Reflect.get(obj, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(obj) : value;
    },
  });
}

/** Counts sends in, acked and rejected (by code). */
export function instrumentLogic<T extends LogicApi>(api: T, metrics: Metrics): T {
  const sendMessage: LogicApi['sendMessage'] = async (session, payload, connId) => {
    metrics.messagesReceived.inc();
    try {
      const ack = await api.sendMessage(session, payload, connId);
      metrics.messagesAcked.inc();
      return ack;
    } catch (err) {
      metrics.messagesRejected.inc({ code: toAppError(err).code });
      throw err;
    }
  };
  return decorate(api, { sendMessage } as Partial<T>);
}

/** Times every storage call (the SQLite store; PostgresRepo times its own queries). */
export function instrumentRepo(repo: Repo, metrics: Metrics): Repo {
  const overrides: Partial<Record<keyof Repo, unknown>> = {};
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(repo)) as Array<keyof Repo>) {
    const method = repo[name];
    if (name === ('constructor' as keyof Repo) || typeof method !== 'function') continue;
    overrides[name] = async (...args: unknown[]) => {
      const end = metrics.db.startTimer({ operation: name });
      try {
        return await (method as (...a: unknown[]) => Promise<unknown>).apply(repo, args);
      } finally {
        end();
      }
    };
  }
  return decorate(repo, overrides as Partial<Repo>);
}

/** Counts message deliveries handed to this gateway's connections. */
export function instrumentBus(bus: Bus, metrics: Metrics): Bus {
  return decorate(bus, {
    subscribe: (handler) =>
      bus.subscribe((event) => {
        if (event.kind === 'message') metrics.messagesDelivered.inc();
        handler(event);
      }),
  });
}
