/**
 * Group commit. Sends that arrive in the same event-loop turn are stored in one transaction
 * (one fsync), then published and resolved in order. One batch is in flight at a time, so
 * seqIds are handed out and published in the order the sends were accepted.
 */
import type { AppendResult, NewMessage, Repo } from '../repo/index.js';

export interface PendingSend {
  message: NewMessage;
  /** Passed through to `onCommitted`: who should receive it, and which connection sent it. */
  recipients: readonly string[];
  connId?: string;
}

interface Queued extends PendingSend {
  resolve: (result: AppendResult) => void;
  reject: (err: unknown) => void;
}

/** Called once per batch, after commit and before any sender is resolved. */
export type CommitListener = (sends: readonly PendingSend[], results: readonly AppendResult[]) => void;

export class MessageWriter {
  private queue: Queued[] = [];
  private scheduled = false;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly repo: Repo,
    private readonly onCommitted: CommitListener,
    private readonly maxBatch = 1000,
  ) {}

  submit(send: PendingSend): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ...send, resolve, reject });
      if (!this.scheduled && !this.flushing) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
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
