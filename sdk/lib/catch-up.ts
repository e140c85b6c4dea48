/**
 * Everything received, once each, in seqId order per conversation: live frames and acks go through
 * the sequencer, and what the client missed (while away, or behind a gap) is fetched with
 * `afterSeq`, page by page.
 */
import { LIMITS, type Conversation, type Message, type Pagination } from '../../src/protocol/index.js';
import { GoChatError } from './errors.js';
import { Sequencer } from './sequencer.js';

/** Live messages held while a sync takes positions, and ahead of a gap per conversation. */
const MAX_HELD = 10_000;

export interface CatchUpSource {
  /** Every conversation, each with its newest message. */
  conversations(): Promise<Conversation[]>;
  /** The messages after `afterSeq`, ascending, at most `size`. */
  messagesAfter(conversationId: string, afterSeq: number, size: number): Promise<{ messages: Message[]; pagination: Pagination }>;
}

export interface CatchUpOptions {
  source: CatchUpSource;
  /** Emits a message to the app: each once, in seqId order per conversation. */
  emit(message: Message): void;
  /** A fill failed for a reason the next sync will retry. */
  report(error: GoChatError): void;
  /** false once logged out: failures are then expected, not reported. */
  active(): boolean;
  /** A sync found a followed conversation gone from the list (its `conversation-removed` came while away). */
  lost?(conversationId: string): void;
}

/** How a sync ended: `stale` when a newer sync or a reset overtook it, or its connection went away. */
export type SyncOutcome = { kind: 'synced'; conversations: number } | { kind: 'failed'; error: GoChatError } | { kind: 'stale' };

/**
 * Per-conversation positions and the fetches that move them.
 *
 * @example
 * ```ts
 * const catchUp = new CatchUp({ source, emit: (m) => show(m), report: console.error, active: () => true });
 * // after each open:
 * const outcome = await catchUp.sync(() => connection.socket === socket);
 * // each live message, and each own message rebuilt from its ack:
 * catchUp.live(message);
 * ```
 */
export class CatchUp {
  private readonly sequencer: Sequencer;
  /** Conversations followed or unfollowed by frames while the current sync's list request is in flight. */
  private changedDuringSync: Set<string> | null = null;
  /** Set once a sync has taken the conversations' positions; after that, an unknown conversation is new. */
  private baselineTaken = false;
  /** Bumped by every sync and by reset(), so an overtaken sync changes nothing. */
  private generation = 0;
  /** Live messages held while a sync is taking positions, so none is emitted against a stale one. */
  private held: Message[] | null = null;
  /** The fill running per conversation; `again` asks it for one more round. */
  private readonly filling = new Map<string, { again: boolean; done: Promise<void> }>();

  constructor(private readonly options: CatchUpOptions) {
    this.sequencer = new Sequencer({
      emit: (message) => options.emit(message),
      fill: (conversationId) => void this.fill(conversationId),
      maxAhead: MAX_HELD,
    });
  }

  /** The highest seqId emitted for a conversation, or undefined when it is not followed. */
  lastSeq(conversationId: string): number | undefined {
    return this.sequencer.lastSeq(conversationId);
  }

  /** A message from the socket or rebuilt from an ack: ordered, de-duplicated, gaps filled. */
  live(message: Message): void {
    if (this.held) {
      if (this.held.length < MAX_HELD) this.held.push(message);
      return;
    }
    // Before the first sync an unknown conversation starts at this message; after it, an unknown one is new: all of it is missed.
    if (!this.sequencer.isTracked(message.conversationId)) {
      this.sequencer.track(message.conversationId, this.baselineTaken ? 0 : message.seqId - 1);
    }
    this.sequencer.push(message);
  }

  /**
   * A conversation that appeared for us (added to a group, opened elsewhere): follow it from
   * `lastReadSeq`, so what came before we were in it is history, not missed messages.
   */
  follow(conversationId: string, fromSeq: number): void {
    this.changedDuringSync?.add(conversationId);
    if (!this.sequencer.isTracked(conversationId)) this.sequencer.track(conversationId, fromSeq);
  }

  /** A conversation that is gone for us (removed, left, disbanded): stop following it. */
  unfollow(conversationId: string): void {
    this.changedDuringSync?.add(conversationId);
    this.sequencer.untrack(conversationId);
  }

  /** A send of ours was stored at `seqId`, but its message cannot be rebuilt here: fetch it if it is ahead. */
  storedAt(conversationId: string, seqId: number): void {
    const last = this.sequencer.lastSeq(conversationId);
    if (last !== undefined && seqId > last) void this.fill(conversationId);
  }

  /**
   * After each open: take every conversation's position from the list, then fetch what was missed.
   * The first sync only records positions (history is the app's to page through). `isCurrent`
   * tells whether the connection it runs for is still the current one.
   */
  async sync(isCurrent: () => boolean): Promise<SyncOutcome> {
    const generation = ++this.generation;
    this.held ??= [];
    // Frames that follow or unfollow a conversation while the list is fetched are newer than the list.
    const changed = new Set<string>();
    this.changedDuringSync = changed;
    const trackedBefore = new Set(this.sequencer.conversations());
    let list: Conversation[];
    try {
      list = await this.options.source.conversations();
    } catch (err) {
      if (generation !== this.generation) return { kind: 'stale' };
      this.release();
      return { kind: 'failed', error: err instanceof GoChatError ? err : new GoChatError('NETWORK_ERROR', 'Catch-up failed', { cause: err }) };
    }
    if (generation !== this.generation) return { kind: 'stale' };
    const fills: Array<Promise<void>> = [];
    // A conversation we lost while away (removed from a group) is not followed any more.
    if (this.changedDuringSync === changed) this.changedDuringSync = null;
    const listed = new Set(list.map((c) => c.conversationId));
    for (const id of trackedBefore) {
      if (listed.has(id) || changed.has(id)) continue;
      this.sequencer.untrack(id);
      this.options.lost?.(id);
    }
    for (const conversation of list) {
      const newest = conversation.lastMessage?.seqId ?? 0;
      const id = conversation.conversationId;
      if (changed.has(id) && !this.sequencer.isTracked(id)) continue; // left while the list was in flight
      // New since the last sync (a group we were added to, a 1:1 opened with us): what we have not
      // read is what we missed; what came before our read pointer is history.
      if (!this.sequencer.isTracked(id)) this.sequencer.track(id, this.baselineTaken ? conversation.lastReadSeq : newest);
      if (newest > (this.sequencer.lastSeq(id) ?? newest)) fills.push(this.fill(id));
    }
    this.baselineTaken = true;
    this.release();
    await Promise.all(fills);
    if (generation !== this.generation || !isCurrent()) return { kind: 'stale' };
    return { kind: 'synced', conversations: list.length };
  }

  /** Logout: forget every position; a sync or fill still running changes nothing. */
  reset(): void {
    this.sequencer.clear();
    this.baselineTaken = false;
    this.held = null;
    this.generation++;
  }

  private release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const message of held) this.live(message);
  }

  /** Fetches a conversation's messages after its position, page by page. One fill at a time per conversation. */
  private fill(conversationId: string): Promise<void> {
    const running = this.filling.get(conversationId);
    if (running) {
      running.again = true;
      return running.done;
    }
    const state = { again: true, done: Promise.resolve() };
    this.filling.set(conversationId, state);
    state.done = (async () => {
      // Let the caller finish pushing what it holds before the first page is asked for.
      await Promise.resolve();
      try {
        while (state.again) {
          state.again = false;
          await this.fetchAfter(conversationId);
        }
      } catch (err) {
        if (err instanceof GoChatError && (err.code === 'NOT_CONVERSATION_MEMBER' || err.code === 'CONVERSATION_NOT_FOUND')) {
          this.sequencer.untrack(conversationId);
        } else if (this.options.active()) {
          // The next reconnect's sync picks the gap up again.
          this.options.report(err instanceof GoChatError ? err : new GoChatError('NETWORK_ERROR', 'Catch-up failed', { cause: err }));
        }
      } finally {
        this.filling.delete(conversationId);
      }
    })();
    return state.done;
  }

  private async fetchAfter(conversationId: string): Promise<void> {
    for (;;) {
      const after = this.sequencer.lastSeq(conversationId);
      if (after === undefined) return;
      const page = await this.options.source.messagesAfter(conversationId, after, LIMITS.pageSizeMax);
      for (const message of page.messages) this.sequencer.push(message);
      const progressed = (this.sequencer.lastSeq(conversationId) ?? after) > after;
      if (!page.pagination.hasMore || !progressed) return;
    }
  }
}
