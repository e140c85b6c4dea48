/**
 * Typing indicators (docs/protocol.md "Typing"). Outgoing: `typing` at most once per interval per
 * conversation and connection (the server drops the rest anyway), `stop-typing` only after a
 * `typing` that was not stopped yet. Incoming: who is typing where, each until its `expiresInMs`
 * (counted from receipt) runs out, a `typing: false` clears it, or that user's message arrives.
 */
import type { FrameSink } from './outbox.js';

/** A `typing-indicator` frame's data: another member is composing (`typing`) or stopped. */
export interface TypingIndicator {
  conversationId: string;
  userId: string;
  username: string;
  typing: boolean;
  /** How long to show it without a renewal, from receipt (0 when `typing` is false). */
  expiresInMs: number;
}

/** A user typing in a conversation, as {@link Typing.typingIn} lists them. */
export interface Typer {
  userId: string;
  username: string;
}

/** The server passes one `typing` per connection and conversation every 2 s. */
export const TYPING_INTERVAL_MS = 2_000;

export interface TypingOptions {
  /** The connection to write on now, or null while there is none. */
  sink(): FrameSink | null;
  /** Milliseconds; default `Date.now`. */
  now?: () => number;
  /** Default {@link TYPING_INTERVAL_MS}. */
  intervalMs?: number;
}

export class Typing {
  /** conversationId → the last `typing` written (and on which connection), not stopped since. */
  private readonly sent = new Map<string, { at: number; sink: FrameSink }>();
  /** conversationId → userId → who, and until when. */
  private readonly typers = new Map<string, Map<string, { username: string; until: number }>>();
  private readonly now: () => number;
  private readonly intervalMs: number;

  constructor(private readonly options: TypingOptions) {
    this.now = options.now ?? Date.now;
    this.intervalMs = options.intervalMs ?? TYPING_INTERVAL_MS;
  }

  /** Tells the other members you are composing; at most once per interval, nothing without a connection. */
  typing(conversationId: string): void {
    const sink = this.options.sink();
    if (!sink) return;
    const now = this.now();
    const last = this.sent.get(conversationId);
    // A new connection has a throttle of its own on the server: the first one there goes out.
    if (last && last.sink === sink && now - last.at < this.intervalMs) return;
    if (sink.send({ type: 'typing', data: { conversationId } })) this.sent.set(conversationId, { at: now, sink });
  }

  /** Tells them you stopped, only when a `typing` went out on this connection and was not stopped yet. */
  stopTyping(conversationId: string): void {
    const last = this.sent.get(conversationId);
    if (!last) return;
    this.sent.delete(conversationId);
    // Another connection never showed them this one's typing (and its indicators expire by themselves).
    if (this.options.sink() === last.sink) last.sink.send({ type: 'stop-typing', data: { conversationId } });
  }

  /** A `typing-indicator` frame arrived. */
  indicator(data: TypingIndicator): void {
    let users = this.typers.get(data.conversationId);
    if (!data.typing || data.expiresInMs <= 0) {
      users?.delete(data.userId);
      if (users?.size === 0) this.typers.delete(data.conversationId);
      return;
    }
    if (!users) this.typers.set(data.conversationId, (users = new Map()));
    users.set(data.userId, { username: data.username, until: this.now() + data.expiresInMs });
  }

  /** A message of `userId` arrived in the conversation: that user is no longer typing it. */
  messageFrom(conversationId: string, userId: string): void {
    this.indicator({ conversationId, userId, username: '', typing: false, expiresInMs: 0 });
  }

  /** The users typing in a conversation now, in the order they started; expired ones are dropped. */
  typingIn(conversationId: string): Typer[] {
    const users = this.typers.get(conversationId);
    if (!users) return [];
    const now = this.now();
    const result: Typer[] = [];
    for (const [userId, entry] of [...users]) {
      if (entry.until <= now) users.delete(userId);
      else result.push({ userId, username: entry.username });
    }
    if (users.size === 0) this.typers.delete(conversationId);
    return result;
  }

  /** A conversation gone for the user. */
  forget(conversationId: string): void {
    this.sent.delete(conversationId);
    this.typers.delete(conversationId);
  }

  clear(): void {
    this.sent.clear();
    this.typers.clear();
  }
}
