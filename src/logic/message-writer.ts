/**
 * Group commit. Sends that arrive in the same event-loop turn are stored in one transaction
 * (one fsync), then published and resolved in order. One batch is in flight at a time, so
 * seqIds are handed out and published in the order the sends were accepted.
 *
 * Commit pacing: when sends arrive faster than two per `commitWindowMs`, a batch starts no sooner
 * than `commitWindowMs` after the previous one, so a steady stream of single sends (many users
 * each sending now and then) shares commits instead of paying one fsync each. A send that finds
 * the store idle, or a trickle of fewer than two per window, is committed in the same turn: the
 * wait applies only when more sends are likely to arrive within it, and never exceeds it.
 */
import { AppError } from '../protocol/index.js';
import type { AppendResult, NewMessage, Repo, StoredAppend } from '../repo/index.js';
import type { Recipients } from './membership-cache.js';

export interface PendingSend {
  message: NewMessage;
  /** Passed through to `onCommitted`: who should receive it, and which connection sent it. */
  recipients: Recipients;
  connId?: string;
}

interface Queued extends PendingSend {
  resolve: (result: StoredAppend) => void;
  reject: (err: unknown) => void;
  /** Times the store found this send's member set changed since it was checked. */
  staleRounds?: number;
}

/**
 * A change committed on its own (a group administration operation), run between batches: it commits
 * and publishes inside `run`, so within one process commit order is publish order for changes and
 * messages alike (an in-process bus has no reordering stage to repair it).
 */
interface QueuedChange {
  change: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

const isChange = (entry: Queued | QueuedChange): entry is QueuedChange => 'change' in entry;

/** Called once per batch, after commit and before any sender is resolved; stale sends are not in it. */
export type CommitListener = (sends: readonly PendingSend[], results: readonly StoredAppend[]) => void;

/**
 * Checks sends again whose conversation's member set changed after they were checked: each comes
 * back as the send to store (its recipients and `membersSeq` as of now) or the error to answer it
 * with (the sender is no longer a member).
 */
export type Revalidate = (sends: readonly PendingSend[]) => Promise<Array<PendingSend | Error>>;

/** A send found stale this many times in a row is answered SERVICE_UNAVAILABLE (retryable). */
const MAX_STALE_ROUNDS = 3;

export interface MessageWriterOptions {
  /** Most sends in one transaction. */
  maxBatch?: number;
  /** Shortest gap between batch starts under a steady stream of sends; 0 turns pacing off. */
  commitWindowMs?: number;
  /** Monotonic milliseconds (tests drive it). */
  now?: () => number;
  /** Sends the store found stale; without it they are answered SERVICE_UNAVAILABLE. */
  revalidate?: Revalidate;
}

/** Weight of the newest batch in the smoothed arrival rate. */
const RATE_SMOOTHING = 0.25;
/** Pacing applies when the arrival rate predicts at least this many more sends within the window. */
const PACING_MIN_EXPECTED_SENDS = 2;

export class MessageWriter {
  private queue: Array<Queued | QueuedChange> = [];
  private scheduled = false;
  private flushing: Promise<void> | null = null;
  private readonly maxBatch: number;
  private readonly commitWindowMs: number;
  private readonly now: () => number;
  private readonly revalidate: Revalidate | undefined;
  /** `now()` when the previous batch started. */
  private lastBatchAt = -Infinity;
  /** Smoothed sends per millisecond, measured batch to batch. */
  private sendsPerMs = 0;

  constructor(
    private readonly repo: Repo,
    private readonly onCommitted: CommitListener,
    options: MessageWriterOptions = {},
  ) {
    this.maxBatch = Math.max(1, options.maxBatch ?? 1000);
    this.commitWindowMs = Math.max(0, options.commitWindowMs ?? 0);
    this.now = options.now ?? (() => performance.now());
    this.revalidate = options.revalidate;
  }

  submit(send: PendingSend): Promise<StoredAppend> {
    return new Promise((resolve, reject) => {
      this.queue.push({ message: send.message, recipients: send.recipients, connId: send.connId, resolve, reject });
      this.schedule();
    });
  }

  /**
   * Runs `change` (which commits and publishes) alone, after the sends queued before it and before
   * those queued after: its place in this process's commit order is its place in the publish order.
   */
  submitChange<T>(change: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ change, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    const wait = this.pacingDelayMs();
    if (wait > 0) setTimeout(() => void this.flush(), wait);
    else setImmediate(() => void this.flush());
  }

  /** How long the batch now forming should wait for company (0: commit at the end of this turn). */
  private pacingDelayMs(): number {
    if (this.commitWindowMs === 0) return 0;
    const sinceLast = this.now() - this.lastBatchAt;
    if (sinceLast >= this.commitWindowMs) return 0;
    // Wait only when at least two more sends are expected to join: otherwise the wait buys little
    // and costs latency (a trickle of one send every few ms commits each at once).
    if (this.sendsPerMs * this.commitWindowMs < PACING_MIN_EXPECTED_SENDS) return 0;
    return Math.ceil(this.commitWindowMs - sinceLast);
  }

  /** Updates the arrival rate from a batch of `size` sends gathered since the previous batch. */
  private noteBatch(size: number): void {
    const now = this.now();
    const gap = Math.max(now - this.lastBatchAt, 0.001);
    const rate = Number.isFinite(gap) ? size / gap : 0;
    this.sendsPerMs += RATE_SMOOTHING * (rate - this.sendsPerMs);
    this.lastBatchAt = now;
  }

  /** Resolves when everything submitted so far is committed (used by graceful shutdown). */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.flushing || this.scheduled) {
      if (this.flushing) await this.flushing;
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    let done!: () => void;
    this.flushing = new Promise((resolve) => (done = resolve));
    try {
      while (this.queue.length > 0) {
        const head = this.queue[0]!;
        if (isChange(head)) {
          this.queue.shift();
          await head.change().then(head.resolve, head.reject);
          continue;
        }
        const batch = this.takeSends();
        this.noteBatch(batch.length);
        const stale: Queued[] = [];
        try {
          this.settle(batch, await this.repo.appendMessages(batch.map((q) => q.message)), stale);
        } catch {
          // One bad row must not fail its neighbours: retry them one by one.
          for (const send of batch) {
            try {
              this.settle([send], await this.repo.appendMessages([send.message]), stale);
            } catch (err) {
              send.reject(err);
            }
          }
        }
        // Checked again, then stored before anything queued later: a sender's order holds.
        if (stale.length > 0) this.queue.unshift(...(await this.recheck(stale)));
      }
    } finally {
      this.flushing = null;
      done();
    }
  }

  /** The sends at the head of the queue, up to the first change and at most `maxBatch`. */
  private takeSends(): Queued[] {
    let n = 0;
    while (n < this.queue.length && n < this.maxBatch && !isChange(this.queue[n]!)) n++;
    return this.queue.splice(0, n) as Queued[];
  }

  /** Publishes and resolves what was stored; collects the stale sends into `stale`. */
  private settle(batch: readonly Queued[], results: readonly AppendResult[], stale: Queued[]): void {
    const sends: Queued[] = [];
    const stored: StoredAppend[] = [];
    batch.forEach((send, i) => {
      const result = results[i]!;
      if (result.stale) stale.push(send);
      else {
        sends.push(send);
        stored.push(result);
      }
    });
    try {
      if (sends.length > 0) this.onCommitted(sends, stored);
    } finally {
      sends.forEach((send, i) => send.resolve(stored[i]!));
    }
  }

  /** The stale sends to queue again, in order; the refused ones are answered here. */
  private async recheck(stale: readonly Queued[]): Promise<Queued[]> {
    const again: Queued[] = [];
    let checked: Array<PendingSend | Error>;
    try {
      checked = this.revalidate ? await this.revalidate(stale) : stale.map(() => new AppError('SERVICE_UNAVAILABLE'));
    } catch (err) {
      checked = stale.map(() => (err instanceof Error ? err : new AppError('INTERNAL_ERROR')));
    }
    stale.forEach((send, i) => {
      const outcome = checked[i]!;
      const rounds = (send.staleRounds ?? 0) + 1;
      if (outcome instanceof Error) return send.reject(outcome);
      if (rounds >= MAX_STALE_ROUNDS) return send.reject(new AppError('SERVICE_UNAVAILABLE', 'The conversation changed while sending; try again'));
      again.push({ ...outcome, resolve: send.resolve, reject: send.reject, staleRounds: rounds });
    });
    return again;
  }
}
