/**
 * Sends waiting for their ack. Each is written once per connection and again on the next one until
 * acked; the server's idempotency on tempMessageId makes every resend resolve to the stored original.
 */
import type { ClientFrame, MessageAck, SendMessagePayload } from '../../src/protocol/index.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { GoChatError } from './errors.js';

/** Where frames are written: the current socket (`FrameSocket` fits). */
export interface FrameSink {
  /** false when the frame could not be written (not open); the outbox keeps it for the next connection. */
  send(frame: ClientFrame): boolean;
}

export interface OutboxOptions {
  /** The connection to write on now, or null while there is none. */
  sink(): FrameSink | null;
  /** Unacked sends kept at most; more reject with OUTBOX_FULL. */
  maxEntries: number;
  /** A send not acked this long after it was made rejects with TIMEOUT; 0 waits for ever. */
  sendTimeoutMs: number;
  /** Delays between resends after a retryable error: the same backoff as reconnects. */
  retry?: BackoffOptions;
}

interface Entry {
  payload: SendMessagePayload;
  resolve(ack: MessageAck): void;
  reject(err: GoChatError): void;
  /** The `sendTimeoutMs` deadline. */
  deadline: ReturnType<typeof setTimeout> | null;
  /** The resend after a retryable error. */
  retryTimer: ReturnType<typeof setTimeout> | null;
  /** The sink it was last written to; written again when that one is gone. */
  sentOn: FrameSink | null;
  retries: number;
}

/** Resends after retryable errors (rate limits, restarts) before the send rejects with the last one. */
export const MAX_SEND_RETRIES = 5;

/**
 * The unacked sends, in the order they were made.
 *
 * @example
 * ```ts
 * const outbox = new Outbox({ sink: () => connection.socket, maxEntries: 1000, sendTimeoutMs: 0 });
 * const ack = outbox.add({ conversationId: '2', content: 'hi', messageType: 'text', tempMessageId: createTempId() });
 * // on every open: outbox.flush(); on every message-ack frame: outbox.acked(ack)
 * ```
 */
export class Outbox {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly options: OutboxOptions) {}

  get size(): number {
    return this.entries.size;
  }

  payloads(): SendMessagePayload[] {
    return Array.from(this.entries.values(), (entry) => entry.payload);
  }

  /** Queues a send and writes it now if a connection is open. A second send with the same tempMessageId joins the first. */
  add(payload: SendMessagePayload): Promise<MessageAck> {
    const tempMessageId = payload.tempMessageId;
    const existing = this.entries.get(tempMessageId);
    if (existing) {
      return new Promise((resolve, reject) => {
        const { resolve: first, reject: firstReject } = existing;
        existing.resolve = (ack) => (first(ack), resolve(ack));
        existing.reject = (err) => (firstReject(err), reject(err));
      });
    }
    if (this.entries.size >= this.options.maxEntries) {
      return Promise.reject(new GoChatError('OUTBOX_FULL', 'Too many messages wait for an ack', { tempMessageId }));
    }
    return new Promise<MessageAck>((resolve, reject) => {
      const entry: Entry = { payload, resolve, reject, deadline: null, retryTimer: null, sentOn: null, retries: 0 };
      const timeout = this.options.sendTimeoutMs;
      if (timeout > 0) {
        entry.deadline = setTimeout(() => {
          entry.deadline = null;
          this.remove(entry);
          // entry.reject, not this promise's: sends that joined this one time out with it.
          entry.reject(new GoChatError('TIMEOUT', `No ack within ${timeout} ms`, { tempMessageId }));
        }, timeout);
      }
      this.entries.set(tempMessageId, entry);
      this.transmit(entry);
    });
  }

  /** Writes every send not yet written on the current connection: call it when one opens. */
  flush(): void {
    for (const entry of this.entries.values()) this.transmit(entry);
  }

  /** Resolves the send `ack` answers; returns its payload, or undefined when no send of ours waits for it. */
  acked(ack: MessageAck): SendMessagePayload | undefined {
    const entry = this.entries.get(ack.tempMessageId);
    if (!entry) return undefined;
    this.remove(entry);
    entry.resolve(ack);
    return entry.payload;
  }

  /**
   * Handles an error frame for one of our sends: a retryable one is resent after a backoff delay
   * (or the server's `retryAfter`), a few times; any other rejects the send. Returns false when the
   * error answers no send waiting here.
   */
  refused(error: GoChatError): boolean {
    const entry = error.tempMessageId !== undefined ? this.entries.get(error.tempMessageId) : undefined;
    if (!entry) return false;
    if (error.retryable && entry.retries < MAX_SEND_RETRIES) {
      entry.retries++;
      entry.sentOn = null;
      const delay = error.retryAfter !== undefined ? error.retryAfter * 1000 : backoffDelay(entry.retries, this.options.retry);
      if (entry.retryTimer) clearTimeout(entry.retryTimer);
      entry.retryTimer = setTimeout(() => {
        entry.retryTimer = null;
        this.transmit(entry);
      }, delay);
      return true;
    }
    this.remove(entry);
    entry.reject(error);
    return true;
  }

  /** The client disconnected: pending resends wait for the next connection instead of a timer. */
  pause(): void {
    for (const entry of this.entries.values()) {
      if (!entry.retryTimer) continue;
      clearTimeout(entry.retryTimer);
      entry.retryTimer = null;
    }
  }

  /** Rejects every send with `reason` and clears every timer (logout). */
  close(reason: GoChatError): void {
    const entries = [...this.entries.values()];
    for (const entry of entries) this.remove(entry);
    for (const entry of entries) entry.reject(reason);
  }

  private transmit(entry: Entry): void {
    const sink = this.options.sink();
    if (!sink || entry.sentOn === sink) return;
    if (!sink.send({ type: 'send-message', data: entry.payload })) return;
    entry.sentOn = sink;
    // Written on a new connection before its resend was due: the resend is moot.
    if (entry.retryTimer) {
      clearTimeout(entry.retryTimer);
      entry.retryTimer = null;
    }
  }

  private remove(entry: Entry): void {
    this.entries.delete(entry.payload.tempMessageId);
    if (entry.deadline) clearTimeout(entry.deadline);
    if (entry.retryTimer) clearTimeout(entry.retryTimer);
    entry.deadline = entry.retryTimer = null;
  }
}
