/** One way to open a Redis connection for the bus and the fan-out queue: same retries, same logging. */
import { Redis } from 'ioredis';

export interface RedisLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Reconnects forever with a capped backoff; fails single commands fast while down. */
function connectionOptions() {
  return {
    maxRetriesPerRequest: 2,
    retryStrategy: (attempt: number) => Math.min(50 * attempt, 1000),
    enableReadyCheck: true,
  };
}

/** `role` names the connection in its log lines ("commands", "subscriber", "fanout"…). */
export function connectRedis(url: string, role: string, log: RedisLogger): Redis {
  const redis = new Redis(url, connectionOptions());
  let lastError = '';
  redis.on('error', (err: Error) => {
    // One line per distinct failure, not one per reconnect attempt.
    if (err.message !== lastError) log.warn({ err: err.message, role }, 'redis connection error');
    lastError = err.message;
  });
  redis.on('ready', () => (lastError = ''));
  return redis;
}

/**
 * Closes a connection and resolves once its socket is closed, so nothing of it (ioredis keeps a
 * timer until the socket closes) outlives the `close()` of the port that owned it.
 */
export async function disconnectRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  let timer: NodeJS.Timeout | undefined;
  const ended = new Promise<void>((resolve) => {
    redis.once('end', () => resolve());
    // ioredis destroys a socket that has not closed after 2 s; never wait longer than that.
    timer = setTimeout(resolve, 2_500).unref();
  });
  redis.disconnect();
  await ended;
  clearTimeout(timer);
}
