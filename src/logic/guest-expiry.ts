/**
 * Inactive guests expire. Guests cost nothing to make and every one joins the world room, so an
 * attacker (or just time) would otherwise grow it without bound.
 *
 * - Activity is recorded coarsely: a guest's authentication writes `last_active_at` at most once
 *   per `touchEveryMs` (an hour, or a quarter of the TTL if that is shorter) per process, from a
 *   bounded in-memory map; never a write per request. That write also answers whether the guest
 *   is still live, so an expired guest's token is refused (401 TOKEN_REVOKED) here even before
 *   the token verifier checks the account key.
 * - A sweep runs every `sweepIntervalMs` (timer unref'd) and expires at most `sweepBatch` guests
 *   per run whose last activity is older than the TTL (`Repo.expireGuests`: out of the world
 *   room, account key cleared so every token of theirs stops working). It then updates the local
 *   membership cache and publishes `revoke-users`, so every gateway closes their sockets (4501).
 *   A full batch means more are due: the next run comes after `FULL_BATCH_PAUSE_MS` instead.
 * Several logic processes may sweep at once: the store hands each guest to one of them.
 */
import { AppError } from '../protocol/index.js';
import type { Repo } from '../repo/index.js';
import type { Bus } from '../bus/index.js';

export interface GuestExpiryConfig {
  /** A guest inactive this long expires; 0 turns expiry off (activity is still recorded). */
  ttlSeconds: number;
  sweepIntervalMs: number;
  /** Guests expired per sweep at most (one transaction). */
  sweepBatch: number;
}

export interface GuestExpiryLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Activity is written at most this often per guest (unless a quarter of the TTL is shorter). */
const MAX_TOUCH_INTERVAL_MS = 3_600_000;
/** Guests whose last touch this process remembers; past it the oldest is forgotten (and re-touched sooner). */
const MAX_REMEMBERED_TOUCHES = 100_000;
/** After a full batch the backlog is worked off at this pace rather than one batch per interval. */
const FULL_BATCH_PAUSE_MS = 1_000;

export class GuestExpiry {
  /** Guest id -> when this process last wrote its activity. */
  private readonly touched = new Map<string, number>();
  private readonly touchEveryMs: number;
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<unknown> | null = null;
  private stopped = false;

  constructor(
    private readonly config: GuestExpiryConfig,
    private readonly repo: Repo,
    private readonly bus: Bus,
    /** Called with the ids a sweep expired, before their sockets are closed (the membership cache). */
    private readonly onExpired: (userIds: readonly string[]) => void,
    private readonly log: GuestExpiryLogger,
    private readonly now: () => number = Date.now,
  ) {
    const ttlMs = config.ttlSeconds * 1000;
    this.touchEveryMs = ttlMs > 0 ? Math.min(MAX_TOUCH_INTERVAL_MS, ttlMs / 4) : MAX_TOUCH_INTERVAL_MS;
  }

  /** A guest was just created (its activity is its creation time): its first requests write nothing. */
  created(userId: string): void {
    this.touched.delete(userId);
    if (this.touched.size >= MAX_REMEMBERED_TOUCHES) this.touched.delete(this.touched.keys().next().value!);
    this.touched.set(userId, this.now());
  }

  /** A guest authenticated: record it (coarsely); refuses a guest that expired. */
  async touch(userId: string): Promise<void> {
    const now = this.now();
    const last = this.touched.get(userId);
    if (last !== undefined && now - last < this.touchEveryMs) return;
    // Remembered before the write, so a burst of requests writes once.
    this.touched.delete(userId);
    if (this.touched.size >= MAX_REMEMBERED_TOUCHES) this.touched.delete(this.touched.keys().next().value!);
    this.touched.set(userId, now);
    let live: boolean;
    try {
      live = await this.repo.touchGuest(userId, now);
    } catch (err) {
      this.touched.delete(userId);
      throw err;
    }
    if (!live) {
      this.touched.delete(userId);
      throw new AppError('TOKEN_REVOKED', 'This guest account expired after inactivity; start a new guest session');
    }
  }

  start(): void {
    if (this.config.ttlSeconds <= 0 || this.timer || this.stopped) return;
    this.schedule(this.config.sweepIntervalMs);
  }

  /** Stops sweeping and waits for a sweep in progress (before the store closes). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.sweeping;
  }

  /** One sweep: expires at most one batch; resolves with the ids expired. */
  async sweep(): Promise<string[]> {
    const cutoff = this.now() - this.config.ttlSeconds * 1000;
    const expired = await this.repo.expireGuests(cutoff, this.config.sweepBatch);
    if (expired.length === 0) return expired;
    for (const userId of expired) this.touched.delete(userId);
    this.onExpired(expired);
    await this.bus.publish({ kind: 'revoke-users', userIds: expired });
    this.log.info({ count: expired.length }, 'expired inactive guests');
    return expired;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      const run = this.sweep().then(
        (expired) => expired.length >= this.config.sweepBatch,
        (err: unknown) => {
          this.log.warn({ err: (err as Error).message }, 'guest expiry sweep failed; retrying on the next interval');
          return false;
        },
      );
      this.sweeping = run;
      void run.then((more) => {
        this.sweeping = null;
        if (!this.stopped) this.schedule(more ? Math.min(FULL_BATCH_PAUSE_MS, this.config.sweepIntervalMs) : this.config.sweepIntervalMs);
      });
    }, delayMs);
    this.timer.unref();
  }
}
