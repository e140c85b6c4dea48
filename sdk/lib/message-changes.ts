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
  /** The logged-in user's id: its own reactions in live items must reach the app even when late. */
  me?: () => string | null;
  /** Messages per conversation whose changes are held, waiting for them; past it the oldest is dropped. Default 500. */
  maxHeld?: number;
  /** Messages per conversation whose last emitted state is remembered (to drop repeats and older states). Default 1000. */
  maxRemembered?: number;
}

/** What was last emitted for a message, and up to which changeSeq the app's `myReactions` are exact. */
interface Remembered {
  change: MessageChanged;
  /** The changeSeq of the last catch-up emitted: its `myReactions` were exact then (-1: none). */
  exactAt: number;
  /** Per emoji, the changeSeq of the last reaction of the user's own the app was told of. */
  own: Map<string, number>;
}

/** Held for a message not emitted yet: its newest state, and the user's own reactions older than it. */
interface Held {
  latest: MessageChanged;
  own: MessageChanged[];
}

/** `a` is a newer state than `b`: a later change, or the change feed's copy of the same one (it carries `myReactions`). */
const newer = (a: MessageChanged, b: MessageChanged): boolean =>
  a.changeSeq > b.changeSeq || (a.changeSeq === b.changeSeq && a.source === 'catch-up' && b.source === 'live');

/**
 * Orders and de-duplicates message changes against the messages emitted.
 *
 * A state older than one emitted is dropped, with one exception: a live item carrying the user's
 * own reaction. A newer live state says nothing of whose its counts are, so that reaction would be
 * lost to `myReactions` (frames may come out of order, and a live frame may follow the feed's read
 * of a later state): it is told again, on the newest state emitted, unless a catch-up or a later
 * reaction of the user's with that emoji already covers it.
 *
 * @example
 * ```ts
 * const changes = new MessageChanges({ emit: (c) => show(c), newestSeq: (id) => catchUp.lastSeq(id), me: () => user.userId });
 * changes.item(update.conversationId, item, 'live'); // each message item of a frame or a feed page
 * changes.messageEmitted(message); // right after each 'message' event
 * ```
 */
export class MessageChanges {
  /** Per conversation, per messageId (oldest held first): changes waiting for their message. */
  private readonly held = new Map<string, Map<string, Held>>();
  /** Per conversation, per messageId: what was last emitted, least recently changed first. */
  private readonly emitted = new Map<string, Map<string, Remembered>>();
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
    const newest = this.options.newestSeq ? this.options.newestSeq(conversationId) : this.newest.get(conversationId);
    if (newest === undefined || item.seqId <= newest) return this.offer(change);
    this.hold(change);
  }

  /** A `message` event was just emitted: the changes held for it (and for those before it) follow. */
  messageEmitted(message: Message): void {
    const id = message.conversationId;
    if (!this.options.newestSeq) this.newest.set(id, Math.max(this.newest.get(id) ?? 0, message.seqId));
    const byMessage = this.held.get(id);
    if (!byMessage) return;
    for (const [messageId, held] of byMessage) {
      if (held.latest.message.seqId > message.seqId) continue;
      byMessage.delete(messageId);
      this.offer(held.latest);
      for (const own of held.own.sort((a, b) => a.changeSeq - b.changeSeq)) this.offer(own);
    }
    if (byMessage.size === 0) this.held.delete(id);
  }

  /**
   * `message` as it is now: when a change of it was already emitted (it arrived before the message,
   * as it can in a cluster), that change's state; else `message` itself.
   */
  current(message: Message): Message {
    const last = this.emitted.get(message.conversationId)?.get(message.messageId);
    return last && last.change.message.seqId === message.seqId ? last.change.message : message;
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

  /** Whose reaction a live change carries is the user's own. */
  private isOwn(change: MessageChanged): boolean {
    const me = this.options.me?.() ?? null;
    return change.source === 'live' && change.reaction !== undefined && me !== null && change.reaction.userId === me;
  }

  /**
   * Keeps one state per message (the newest), so a storm on one message cannot push out another
   * message's recall; the user's own reactions are kept beside it, to be told after it.
   */
  private hold(change: MessageChanged): void {
    let byMessage = this.held.get(change.conversationId);
    if (!byMessage) this.held.set(change.conversationId, (byMessage = new Map()));
    const held = byMessage.get(change.message.messageId);
    if (!held) {
      byMessage.set(change.message.messageId, { latest: change, own: this.isOwn(change) ? [change] : [] });
      // Bounded against messages that never come; one dropped here is a change the app misses
      // until that message changes again or its history is read.
      if (byMessage.size > this.maxHeld) byMessage.delete(byMessage.keys().next().value!);
      return;
    }
    if (this.isOwn(change)) held.own.push(change);
    if (newer(change, held.latest)) held.latest = change;
  }

  /** Emits a change that is news: a newer state, or a late reaction of the user's own (see the class). */
  private offer(change: MessageChanged): void {
    const last = this.emitted.get(change.conversationId)?.get(change.message.messageId);
    if (!last || newer(change, last.change)) return this.send(change, last);
    if (!this.isOwn(change)) return;
    const reaction = change.reaction!;
    if (change.changeSeq <= Math.max(last.exactAt, last.own.get(reaction.emoji) ?? -1)) return;
    last.own.set(reaction.emoji, change.changeSeq);
    // The newest state again, with the late reaction for the app to apply to its myReactions.
    this.options.emit({ ...last.change, source: 'live', reaction });
  }

  private send(change: MessageChanged, previous: Remembered | undefined): void {
    let seen = this.emitted.get(change.conversationId);
    if (!seen) this.emitted.set(change.conversationId, (seen = new Map()));
    const remembered: Remembered = {
      change,
      exactAt: change.source === 'catch-up' ? change.changeSeq : (previous?.exactAt ?? -1),
      own: new Map(previous?.own),
    };
    if (this.isOwn(change)) remembered.own.set(change.reaction!.emoji, change.changeSeq);
    seen.delete(change.message.messageId);
    seen.set(change.message.messageId, remembered);
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

/**
 * `message` with its quote emptied when `change` recalls the message it quotes. A recall sends no
 * change of the replies to it: each client empties their quotes itself (docs/protocol.md "Keeping
 * messages current"), as the server did in storage.
 *
 * @example
 * ```ts
 * client.on('message-changed', (change) => {
 *   for (const [id, m] of store) store.set(id, withRecalledQuote(m, change));
 * });
 * ```
 */
export function withRecalledQuote(message: Message, change: MessageChanged): Message {
  const quoted = message.replyTo;
  if (!quoted || quoted.recalled || quoted.messageId !== change.message.messageId || change.message.recalledAt === undefined) return message;
  const { preview: _preview, ...snapshot } = quoted;
  return { ...message, replyTo: { ...snapshot, preview: '', recalled: true } };
}
