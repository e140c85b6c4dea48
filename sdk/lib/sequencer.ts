/** Per-conversation ordering: each message is emitted once, in seqId order, and gaps are reported for filling. */
import type { Message } from '../../src/protocol/index.js';

interface Track {
  /** Highest seqId emitted; everything up to it has been emitted. */
  lastSeq: number;
  /** Messages that arrived ahead of a gap, by seqId. */
  ahead: Map<number, Message>;
}

export interface SequencerOptions {
  /** Emits a message that is next in its conversation. */
  emit(message: Message): void;
  /** Asks for the messages after `afterSeq` of a conversation (a gap was seen). */
  fill(conversationId: string, afterSeq: number): void;
  /** Messages held ahead of a gap, per conversation; past it they are dropped and fetched again by the fill. */
  maxAhead: number;
}

/**
 * Turns messages arriving in any order, with duplicates (live frames, acks, catch-up pages),
 * into one stream per conversation: seqId lastSeq+1, lastSeq+2, … each exactly once.
 *
 * @example
 * ```ts
 * const seq = new Sequencer({ emit: show, fill: (id, after) => fetchAfter(id, after), maxAhead: 10_000 });
 * seq.track('c1', 4);
 * seq.push(message6); // held; fill('c1', 4) is requested
 * seq.push(message5); // emits 5 then 6
 * ```
 */
export class Sequencer {
  private readonly tracks = new Map<string, Track>();

  constructor(private readonly options: SequencerOptions) {}

  isTracked(conversationId: string): boolean {
    return this.tracks.has(conversationId);
  }

  /** Starts following a conversation from `lastSeq` (messages up to it count as seen). No-op when tracked. */
  track(conversationId: string, lastSeq: number): void {
    if (!this.tracks.has(conversationId)) this.tracks.set(conversationId, { lastSeq, ahead: new Map() });
  }

  untrack(conversationId: string): void {
    this.tracks.delete(conversationId);
  }

  /** The highest seqId emitted for a conversation, or undefined when it is not tracked. */
  lastSeq(conversationId: string): number | undefined {
    return this.tracks.get(conversationId)?.lastSeq;
  }

  /** Whether a conversation still waits for messages before some it already holds. */
  hasGap(conversationId: string): boolean {
    return (this.tracks.get(conversationId)?.ahead.size ?? 0) > 0;
  }

  conversations(): string[] {
    return [...this.tracks.keys()];
  }

  clear(): void {
    this.tracks.clear();
  }

  /** Accepts a message of a tracked conversation; untracked ones are ignored (the caller tracks first). */
  push(message: Message): void {
    const track = this.tracks.get(message.conversationId);
    if (!track || message.seqId <= track.lastSeq || track.ahead.has(message.seqId)) return;
    if (message.seqId !== track.lastSeq + 1) {
      if (track.ahead.size < this.options.maxAhead) track.ahead.set(message.seqId, message);
      this.options.fill(message.conversationId, track.lastSeq);
      return;
    }
    track.lastSeq = message.seqId;
    this.options.emit(message);
    for (let next = track.ahead.get(track.lastSeq + 1); next; next = track.ahead.get(track.lastSeq + 1)) {
      track.ahead.delete(next.seqId);
      track.lastSeq = next.seqId;
      this.options.emit(next);
    }
    if (track.ahead.size > 0) this.options.fill(message.conversationId, track.lastSeq);
  }
}
