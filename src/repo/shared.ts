/** Helpers every Repo implementation shares: keys, times and the history-range arithmetic. */
import type { Message } from '../protocol/index.js';
import type { HistoryQuery, NewMessage } from './index.js';

export const WORLD_KEY = 'world';
export const WORLD_NAME = 'World';

/**
 * `users.last_active_at` of an expired guest. Outside the range the expiry sweep scans
 * (`>= 0`), so expired guests never slow it down, and a touch refuses it (`touchGuest`).
 * A schema with an `expired_at` column would say this plainly; migration 4 gave us this one.
 */
export const EXPIRED_GUEST_ACTIVITY = -1;

let isoSecond = Number.NaN;
let isoPrefix = '';

/**
 * ISO-8601 UTC with milliseconds. Messages stored together share their second, so the
 * 'YYYY-MM-DDTHH:MM:SS.' prefix is formatted once per second: a 50-message page spent
 * more time in Date#toISOString than in its query.
 */
export const toIso = (ms: number): string => {
  const t = Number(ms);
  if (!Number.isInteger(t) || t < 0 || t >= 253402300800000) return new Date(t).toISOString();
  const second = Math.floor(t / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const milli = t - second * 1000;
  return `${isoPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
};

/** Usernames are unique case-insensitively, after Unicode normalization. */
export const usernameKey = (username: string): string => username.normalize('NFC').toLowerCase();

/** One key per unordered pair, so a 1:1 conversation exists at most once. */
export function pairKey(a: string, b: string): string {
  const [lo, hi] = BigInt(a) < BigInt(b) ? [a, b] : [b, a];
  return `${lo}:${hi}`;
}

export interface SeqRange {
  from: number;
  to: number;
  empty: boolean;
  hasMore: boolean;
}

/**
 * Because seqIds are 1..last with no gaps, every page is an exact seq range: no OFFSET scans,
 * and page 1 is the newest `size` messages.
 */
export function historyRange(query: HistoryQuery, last: number): SeqRange {
  let from: number;
  let to: number;
  switch (query.kind) {
    case 'page':
      to = last - (query.page - 1) * query.size;
      from = Math.max(1, to - query.size + 1);
      return { from, to, empty: to < 1, hasMore: to >= 1 && from > 1 };
    case 'after':
      from = query.afterSeq + 1;
      to = Math.min(last, query.afterSeq + query.size);
      return { from, to, empty: from > to, hasMore: to < last };
    case 'before':
      to = Math.min(query.beforeSeq - 1, last);
      from = Math.max(1, to - query.size + 1);
      return { from, to, empty: to < 1, hasMore: to >= 1 && from > 1 };
  }
}

/** A new message as stored with `seqId`: everything but the row id. */
export function storedMessage(m: NewMessage, seqId: number): Omit<Message, 'messageId'> {
  const message: Omit<Message, 'messageId'> = {
    conversationId: m.conversationId,
    senderId: m.senderId,
    senderName: m.senderName,
    content: m.content,
    messageType: m.messageType,
    seqId,
    sendTime: toIso(m.sendTime),
  };
  if (m.replyTo !== undefined) message.replyTo = m.replyTo;
  if (m.extra !== undefined) message.extra = m.extra;
  return message;
}

/**
 * The optional fields a store keeps in `messages.meta`, in MessageSchema's order (encodings follow
 * the order fields were set in). `myReactions` is not among them: it is each reader's own.
 */
const META_FIELDS = ['replyTo', 'extra', 'editedAt', 'recalledAt', 'recalledBy', 'reactions'] as const;
export type MessageMeta = Pick<Message, (typeof META_FIELDS)[number]>;

/** `messages.meta` of a message: its optional fields as JSON, or null for a plain message (most). */
export function metaOf(message: MessageMeta): string | null {
  let meta: Record<string, unknown> | null = null;
  for (const field of META_FIELDS) {
    const value = message[field];
    if (value !== undefined) (meta ??= {})[field] = value;
  }
  return meta === null ? null : JSON.stringify(meta);
}

/** `message` with the optional fields of its stored `meta` set after the seed's eight, in their order. */
export function withMeta<M extends Omit<Message, 'messageId'>>(message: M, meta: string | null | undefined): M {
  if (meta === null || meta === undefined) return message;
  return Object.assign(message, JSON.parse(meta) as MessageMeta);
}

/** The message without its optional fields: what a recall leaves of it. */
export function withoutMeta<M extends Message>(message: M): Message {
  const { messageId, conversationId, senderId, senderName, content, messageType, seqId, sendTime } = message;
  return { messageId, conversationId, senderId, senderName, content, messageType, seqId, sendTime };
}
