/** One authenticated WebSocket: sends with a bound on unsent output, tracks liveness. */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Session } from '../../logic/api.js';
import { CLOSE_CODES, encodeServerFrame, type ErrorCode, type ServerFrame } from '../../protocol/index.js';

const TEXT_FRAME = { binary: false } as const;

/**
 * Connections written to in this event-loop turn. Each is corked at its first frame and all are
 * uncorked together at the end of the turn: one writev per connection per turn instead of one per
 * frame (syscalls dominated the send path), and one scheduled callback per turn rather than one per
 * connection (a group message touches every member's connection once).
 */
const corked: ClientConnection[] = [];

function flushCorked(): void {
  for (const conn of corked.splice(0)) conn.uncork();
}

function scheduleUncork(conn: ClientConnection): void {
  if (corked.push(conn) === 1) setImmediate(flushCorked);
}

export class ClientConnection {
  lastSeen = Date.now();
  /** When a `typing` of each conversation last went to logic (bounded: a few conversations at a time). */
  private readonly typingAt = new Map<string, number>();
  /** Frames received in the current rate window, and when that window began. */
  framesInWindow = 0;
  frameWindowStart = Date.now();
  /** send-message frames handed to logic and not answered yet. */
  inFlight = 0;
  private closing = false;
  private corked = false;

  constructor(
    readonly id: string,
    readonly session: Session,
    private readonly socket: WebSocket,
    private readonly maxBufferedBytes: number,
    /** The TCP socket under `socket`: corked so one event-loop turn's frames leave in one write. */
    private readonly transport: Duplex,
    /** The client's address, for the per-address budgets. */
    readonly ip: string,
  ) {}

  get userId(): string {
    return this.session.userId;
  }

  /** When the server last pinged it (0: never). */
  private pingedAt = 0;

  /**
   * A protocol ping when nothing was heard from the client for `intervalMs` and none was sent
   * within it: the answer (the `pong` event) is a sign of life. Costs nothing for a busy client.
   */
  pingIfQuiet(now: number, intervalMs: number): void {
    if (!this.isOpen || now - this.lastSeen < intervalMs || now - this.pingedAt < intervalMs) return;
    this.pingedAt = now;
    try {
      this.socket.ping();
    } catch {
      // Closing meanwhile: the close handler cleans up.
    }
  }

  /** Whether a `typing` for the conversation may go to logic now (one per `throttleMs`). */
  typingAllowed(conversationId: string, now: number, throttleMs: number): boolean {
    const last = this.typingAt.get(conversationId);
    if (last !== undefined && now - last < throttleMs) return false;
    this.typingAt.delete(conversationId);
    this.typingAt.set(conversationId, now);
    if (this.typingAt.size > 16) this.typingAt.delete(this.typingAt.keys().next().value!);
    return true;
  }

  /** Output written but not sent yet, in bytes: what a droppable frame yields to. */
  get bufferedBytes(): number {
    return this.socket.bufferedAmount;
  }

  get isOpen(): boolean {
    return !this.closing && this.socket.readyState === this.socket.OPEN;
  }

  /**
   * Sends an already-serialized text frame (a Buffer is sent as is, so one encoding can serve
   * every recipient); a reader that stopped reading is cut off instead of buffered forever.
   */
  sendRaw(frame: string | Buffer): void {
    if (!this.isOpen) return;
    if (this.socket.bufferedAmount + frame.length > this.maxBufferedBytes) {
      this.close(CLOSE_CODES.SLOW_CONSUMER, 'slow consumer');
      return;
    }
    if (!this.corked) {
      this.corked = true;
      this.transport.cork();
      scheduleUncork(this);
    }
    this.socket.send(frame, TEXT_FRAME);
  }

  /** Called once at the end of each event-loop turn in which this connection was written to. */
  uncork(): void {
    this.corked = false;
    this.transport.uncork();
  }

  /** Stops reading the client's frames; TCP then pushes back on a client that keeps sending. */
  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    if (this.socket.isPaused) this.socket.resume();
  }

  send(frame: ServerFrame): void {
    this.sendRaw(encodeServerFrame(frame));
  }

  sendError(code: ErrorCode, message: string, tempMessageId?: string): void {
    this.send({ type: 'error', data: tempMessageId === undefined ? { message, code } : { message, code, tempMessageId } });
  }

  /** Closes with a code; a peer that does not complete the handshake is dropped shortly after. */
  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.socket.close(code, reason);
    setTimeout(() => this.socket.terminate(), 2_000).unref();
  }
}
