/**
 * A lean WebSocket chat client for long runs: it keeps no frame log (memory stays flat on the
 * client side too), resolves each send by its tempMessageId, and gives up cleanly on close.
 */
import WebSocket from 'ws';
import type { Message, MessageAck } from '../../src/protocol/index.js';

export type SendOutcome = { kind: 'ack'; ack: MessageAck } | { kind: 'error'; code: string } | { kind: 'closed' };

export class ChatClient {
  readonly closed: Promise<number>;
  private readonly pending = new Map<string, (outcome: SendOutcome) => void>();
  private isClosed = false;

  private constructor(
    private readonly socket: WebSocket,
    onMessage: (message: Message) => void,
  ) {
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string; data?: { tempMessageId?: string; code?: string } };
      if (frame.type === 'new-message') return onMessage(frame.data as unknown as Message);
      const tempId = frame.data?.tempMessageId;
      const resolve = tempId === undefined ? undefined : this.pending.get(tempId);
      if (!resolve) return;
      this.pending.delete(tempId!);
      resolve(frame.type === 'message-ack' ? { kind: 'ack', ack: frame.data as unknown as MessageAck } : { kind: 'error', code: String(frame.data?.code) });
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.on('close', (code) => {
        this.isClosed = true;
        for (const settle of this.pending.values()) settle({ kind: 'closed' });
        this.pending.clear();
        resolve(code);
      }),
    );
  }

  static connect(wsUrl: string, token: string, onMessage: (message: Message) => void = () => undefined): Promise<ChatClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`${wsUrl}?token=${encodeURIComponent(token)}`);
      const client = new ChatClient(socket, onMessage);
      socket.once('open', () => resolve(client));
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
  }

  /** Sends and resolves with the ack, the error, or `closed` if the connection went away first. */
  send(conversationId: string, content: string, tempMessageId: string): Promise<SendOutcome> {
    if (this.isClosed) return Promise.resolve({ kind: 'closed' });
    return new Promise((resolve) => {
      this.pending.set(tempMessageId, resolve);
      this.socket.send(JSON.stringify({ type: 'send-message', data: { conversationId, content, tempMessageId } }), (err) => {
        if (err && this.pending.delete(tempMessageId)) resolve({ kind: 'closed' });
      });
    });
  }

  close(): Promise<number> {
    this.socket.close();
    return this.closed;
  }
}
