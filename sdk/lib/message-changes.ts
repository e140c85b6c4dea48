/**
 * Message changes (recall, edit, reactions) as the app sees them: every `message` change item, from
 * a live `conversation-update` or from a change-feed read, emitted as one `message-changed`, at
 * most once per state of a message, and never before the `message` event of the message it changes.
 *
 * Why hold: in a cluster a change and the message it changes travel different paths (the message
 * through its sender's fan-out, the change from the node that committed it), so the change can
 * arrive first. An app building its view from `message` events would have nothing to apply it to,
 * and would then get the message in its state before the change. So a change of a message past the
 * newest one emitted waits (a bounded number per conversation) and follows that message's event.
 */
import type { Message, MessageChangeItem } from '../../src/protocol/index.js';

/** One change of a message, as the `message-changed` event carries it. */
export interface MessageChanged {
  conversationId: string;
  /** The conversation's change counter at this change. */
  changeSeq: number;
  /**
   * The message after the change. From `live` frames `myReactions` is absent (a frame is shared by
   * every member); from `catch-up` (the change feed, read for you) it is yours, absent meaning none.
   */
  message: Message;
  /** Live only: whose reaction changed. When `userId` is yours, apply it to your `myReactions`. */
  reaction?: { userId: string; emoji: string; added: boolean };
  source: 'live' | 'catch-up';
}

export interface MessageChangesOptions {
  emit(change: MessageChanged): void;
  /**
   * The newest seqId emitted as a `message` of a conversation (all before it too), or undefined
   * when the SDK does not follow it: then nothing is held. Default: the newest seqId passed to
   * {@link MessageChanges.messageEmitted}.
   */
  newestSeq?: (conversationId: string) => number | undefined;
  /** Changes held per conversation for messages not emitted yet; past it the oldest is dropped. Default 500. */
  maxHeld?: number;
  /** Messages per conversation whose last emitted changeSeq is remembered (to drop repeats and older states). Default 1000. */
  maxRemembered?: number;
}

/**
 * Orders and de-duplicates message changes against the messages emitted.
 *
 * @example
 * ```ts
 * const changes = new MessageChanges({ emit: (c) => show(c), newestSeq: (id) => catchUp.lastSeq(id) });
 * changes.item(update.conversationId, item, 'live'); // each message item of a frame or a feed page
 * changes.messageEmitted(message); // right after each 'message' event
 * ```
 */
export class MessageChanges {
  /** Per conversation: changes waiting for their message, in the order they came. */
  private readonly held = new Map<string, MessageChanged[]>();
  /** Per conversation, per messageId: the changeSeq last emitted, least recently changed first. */
  private readonly emitted = new Map<string, Map<string, number>>();
  /** Without `newestSeq`: the newest seqId emitted per conversation. */
  private readonly newest = new Map<string, number>();
  private readonly maxHeld: number;
  private readonly maxRemembered: number;

  constructor(private readonly options: MessageChangesOptions) {
    this.maxHeld = options.maxHeld ?? 500;
    this.maxRemembered = options.maxRemembered ?? 1000;
  }

  /** A `message` item of a live frame or of a change-feed page. */
  item(conversationId: string, item: MessageChangeItem, source: MessageChanged['source']): void {
    const change: MessageChanged = { conversationId, changeSeq: item.changeSeq, message: item.message, source };
    if (item.reaction) change.reaction = item.reaction;
    if (this.isStale(change)) return;
    const newest = this.options.newestSeq ? this.options.newestSeq(conversationId) : this.newest.get(conversationId);
    if (newest === undefined || item.seqId <= newest) return this.send(change);
    const list = this.held.get(conversationId) ?? [];
    list.push(change);
    // Bounded against a message that never comes; one dropped here is a change the app misses
    // until that message changes again or its history is read.
    if (list.length > this.maxHeld) list.shift();
    this.held.set(conversationId, list);
  }

  /** A `message` event was just emitted: the changes held for it (and for those before it) follow. */
  messageEmitted(message: Message): void {
    const id = message.conversationId;
    if (!this.options.newestSeq) this.newest.set(id, Math.max(this.newest.get(id) ?? 0, message.seqId));
    const list = this.held.get(id);
    if (!list) return;
    const ready = list.filter((c) => c.message.seqId <= message.seqId);
    if (ready.length === 0) return;
    const waiting = list.filter((c) => c.message.seqId > message.seqId);
    if (waiting.length > 0) this.held.set(id, waiting);
    else this.held.delete(id);
    for (const change of ready) this.send(change);
  }

  /** The conversation is gone for us: nothing of it is held or remembered. */
  forget(conversationId: string): void {
    this.held.delete(conversationId);
    this.emitted.delete(conversationId);
    this.newest.delete(conversationId);
  }

  clear(): void {
    this.held.clear();
    this.emitted.clear();
    this.newest.clear();
  }

  /** Already emitted at this changeSeq or a later one: a repeat (a live frame and the feed) or an older state. */
  private isStale(change: MessageChanged): boolean {
    const last = this.emitted.get(change.conversationId)?.get(change.message.messageId);
    return last !== undefined && last >= change.changeSeq;
  }

  private send(change: MessageChanged): void {
    // Held changes are checked again: a newer state of the same message may have gone out meanwhile.
    if (this.isStale(change)) return;
    let seen = this.emitted.get(change.conversationId);
    if (!seen) this.emitted.set(change.conversationId, (seen = new Map()));
    seen.delete(change.message.messageId);
    seen.set(change.message.messageId, change.changeSeq);
    if (seen.size > this.maxRemembered) seen.delete(seen.keys().next().value!);
    this.options.emit(change);
  }
}

/**
 * The message as `change` says it is now, with your own reactions (`myReactions`) kept right: a
 * `catch-up` change carries them (absent: none); a `live` one carries nobody's, so those of `known`
 * (your copy before the change) are kept, with the change's `reaction` applied when it is yours,
 * and any whose emoji is no longer on the message dropped (a recall takes every reaction).
 *
 * @example
 * ```ts
 * client.on('message-changed', (change) => {
 *   const known = store.get(change.message.messageId);
 *   store.set(change.message.messageId, applyMessageChange(known, change, client.user!.userId));
 * });
 * ```
 */
export function applyMessageChange(known: Message | undefined, change: MessageChanged, me: string | null): Message {
  const { myReactions: _ignored, ...message } = change.message;
  let mine: string[];
  if (change.source === 'catch-up') mine = change.message.myReactions ?? [];
  else {
    mine = [...(known?.myReactions ?? [])];
    const reaction = change.reaction;
    if (reaction && me !== null && reaction.userId === me) {
      mine = mine.filter((emoji) => emoji !== reaction.emoji);
      if (reaction.added) mine.push(reaction.emoji);
    }
  }
  const present = new Set((message.reactions ?? []).map((r) => r.emoji));
  mine = mine.filter((emoji) => present.has(emoji));
  return mine.length > 0 ? { ...message, myReactions: mine } : message;
}
