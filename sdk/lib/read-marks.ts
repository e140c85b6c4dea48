/**
 * Read marks over the WebSocket (`mark-read`), coalesced per conversation: the marks made before
 * the next flush (a microtask away) are one frame each, carrying the furthest seqId asked for.
 * While no socket is open they wait, and the furthest one is sent as soon as one opens. The
 * server's pointer never moves back, so sending only the furthest loses nothing.
 */
import type { ClientFrame } from '../../src/protocol/index.js';
import type { FrameSink } from './outbox.js';

export interface ReadMarksOptions {
  /** The connection to write on now, or null while there is none. */
  sink(): FrameSink | null;
}

export class ReadMarks {
  /** conversationId → the furthest seqId not written yet. */
  private readonly pending = new Map<string, number>();
  private scheduled = false;

  constructor(private readonly options: ReadMarksOptions) {}

  /** Conversations with a mark waiting to be written, and its seqId. */
  get waiting(): ReadonlyMap<string, number> {
    return this.pending;
  }

  /** Asks for `conversationId` read up to `seqId`; written at the next flush, with any later, further mark. */
  mark(conversationId: string, seqId: number): void {
    const known = this.pending.get(conversationId);
    if (known === undefined || seqId > known) this.pending.set(conversationId, seqId);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Writes every waiting mark on the open connection, if any (also called on every open). */
  flush(): void {
    const sink = this.options.sink();
    if (!sink) return;
    for (const [conversationId, seqId] of [...this.pending]) {
      const frame: ClientFrame = { type: 'mark-read', data: { conversationId, seqId } };
      if (!sink.send(frame)) return; // not open: the next open writes them
      this.pending.delete(conversationId);
    }
  }

  /** A conversation gone for the user: its mark would only be refused. */
  forget(conversationId: string): void {
    this.pending.delete(conversationId);
  }

  clear(): void {
    this.pending.clear();
  }
}
