/**
 * Read pointers, written in batches: every mark asked for in one event-loop turn is one store
 * transaction (one fsync), and marks of the same (conversation, user) in that turn are one row
 * write — the furthest of them. A device that sends `mark-read` after every message of a busy
 * conversation costs a row update per turn, not a commit per frame.
 */
import type { ReadMark, ReadMarkResult, Repo } from '../repo/index.js';

interface Pending {
  mark: ReadMark;
  waiters: Array<{ resolve: (result: ReadMarkResult) => void; reject: (err: unknown) => void }>;
}

/** The furthest of two marks: null (everything) beats any seqId. */
const furthest = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : Math.max(a, b));

export class ReadMarks {
  private pending = new Map<string, Pending>();
  private scheduled = false;
  private flushing: Promise<void> | null = null;

  constructor(private readonly repo: Pick<Repo, 'markReadMany'>) {}

  /** Resolves with the pointer after the batch that carried this mark committed. */
  mark(conversationId: string, userId: string, seqId: number | null): Promise<ReadMarkResult> {
    return new Promise((resolve, reject) => {
      const key = `${conversationId}\n${userId}`;
      const entry = this.pending.get(key);
      if (entry) {
        entry.mark.seqId = furthest(entry.mark.seqId, seqId);
        entry.waiters.push({ resolve, reject });
      } else {
        this.pending.set(key, { mark: { conversationId, userId, seqId }, waiters: [{ resolve, reject }] });
      }
      this.schedule();
    });
  }

  /** Resolves once every mark asked for so far is written (graceful shutdown). */
  async drain(): Promise<void> {
    while (this.pending.size > 0 || this.flushing || this.scheduled) {
      if (this.flushing) await this.flushing;
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    let done!: () => void;
    this.flushing = new Promise((resolve) => (done = resolve));
    try {
      // Marks that arrive while a batch is written form the next one.
      while (this.pending.size > 0) {
        const batch = [...this.pending.values()];
        this.pending = new Map();
        try {
          const results = await this.repo.markReadMany(batch.map((p) => p.mark));
          batch.forEach((p, i) => p.waiters.forEach((w) => w.resolve(results[i]!)));
        } catch (err) {
          for (const p of batch) for (const w of p.waiters) w.reject(err);
        }
      }
    } finally {
      this.flushing = null;
      done();
    }
  }
}
