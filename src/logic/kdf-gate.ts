/**
 * Bounded concurrency for password hashing. scrypt runs on libuv's small thread pool (4 threads by
 * default), which file and DNS work share: a registration flood that queued thousands of hashes
 * there pushed real logins from ~80 ms to seconds. A gate holds at most `concurrency` hashes
 * running and `maxQueued` waiting; past that a caller is refused at once, with a retry hint,
 * instead of queued behind the flood.
 */
import { AppError } from '../protocol/index.js';

export interface KdfGateConfig {
  concurrency: number;
  maxQueued: number;
}

export class KdfGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly config: KdfGateConfig,
    private readonly name: string,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.config.concurrency) {
      if (this.waiting.length >= this.config.maxQueued) {
        throw new AppError('SERVICE_UNAVAILABLE', `Too many ${this.name} in progress; try again shortly`, undefined, { retryAfter: 1 });
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      // The slot passes straight to the next waiter, so `running` counts it without a gap.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
