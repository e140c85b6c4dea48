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
import type { AppendResult, NewMessage, Repo } from '../repo/index.js';
import type { Recipients } from './membership-cache.js';

export interface PendingSend {
  message: NewMessage;
  /** Passed through to `onCommitted`: who should receive it, and which connection sent it. */
  recipients: Recipients;
  connId?: string;
}

interface Queued extends PendingSend {
  resolve: (result: AppendResult) => void;
  reject: (err: unknown) => void;
}

/** Called once per batch, after commit and before any sender is resolved. */
export type CommitListener = (sends: readonly PendingSend[], results: readonly AppendResult[]) => void;

export interface MessageWriterOptions {
  /** Most sends in one transaction. */
  maxBatch?: number;
  /** Shortest gap between batch starts under a steady stream of sends; 0 turns pacing off. */
  commitWindowMs?: number;
  /** Monotonic milliseconds (tests drive it). */
  now?: () => number;
}

/** Weight of the newest batch in the smoothed arrival rate. */
const RATE_SMOOTHING = 0.25;
/** Pacing applies when the arrival rate predicts at least this many more sends within the window. */
const PACING_MIN_EXPECTED_SENDS = 2;

export class MessageWriter {
  private queue: Queued[] = [];
  private scheduled = false;
  private flushing: Promise<void> | null = null;
  private readonly maxBatch: number;
  private readonly commitWindowMs: number;
  private readonly now: () => number;
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
  }

  submit(send: PendingSend): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ message: send.message, recipients: send.recipients, connId: send.connId, resolve, reject });
      if (!this.scheduled && !this.flushing) {
        this.scheduled = true;
        const wait = this.pacingDelayMs();
        if (wait > 0) setTimeout(() => void this.flush(), wait);
        else setImmediate(() => void this.flush());
      }
    });
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
        const batch = this.queue.splice(0, this.maxBatch);
        this.noteBatch(batch.length);
        try {
          this.settle(batch, await this.repo.appendMessages(batch.map((q) => q.message)));
        } catch {
          // One bad row must not fail its neighbours: retry them one by one.
          for (const send of batch) {
            try {
              this.settle([send], await this.repo.appendMessages([send.message]));
            } catch (err) {
              send.reject(err);
            }
          }
        }
      }
    } finally {
      this.flushing = null;
      done();
    }
  }

  private settle(batch: readonly Queued[], results: readonly AppendResult[]): void {
    try {
      this.onCommitted(batch, results);
    } finally {
      batch.forEach((send, i) => send.resolve(results[i]!));
    }
  }
}
