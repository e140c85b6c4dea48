/** Real HTTP and WebSocket clients for black-box tests, with event waits that time out instead of sleeping. */
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import type { AuthResult, Message, ServerFrame } from '../../src/protocol/index.js';

export interface HttpResult<T = unknown> {
  status: number;
  headers: Headers;
  body: { success: boolean; message: string; data: T; code?: string; pagination?: { page: number; size: number; total: number; hasMore: boolean } };
}

export class Api {
  constructor(readonly baseUrl: string) {}

  async request<T = unknown>(
    method: string,
    path: string,
    options: { token?: string; body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string> } = {},
  ): Promise<HttpResult<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | Buffer | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const res = await fetch(this.baseUrl + path, { method, headers, body: body as BodyInit | undefined });
    const text = await res.text();
    let parsed: HttpResult<T>['body'];
    try {
      parsed = JSON.parse(text) as HttpResult<T>['body'];
    } catch {
      throw new Error(`${method} ${path} answered ${res.status} with non-JSON: ${text.slice(0, 200)}`);
    }
    return { status: res.status, headers: res.headers, body: parsed };
  }

  get<T = unknown>(path: string, token?: string) {
    return this.request<T>('GET', path, token ? { token } : {});
  }

  post<T = unknown>(path: string, body?: unknown, token?: string) {
    return this.request<T>('POST', path, { body, ...(token ? { token } : {}) });
  }

  put<T = unknown>(path: string, body?: unknown, token?: string) {
    return this.request<T>('PUT', path, { body, ...(token ? { token } : {}) });
  }

  del<T = unknown>(path: string, token?: string) {
    return this.request<T>('DELETE', path, token ? { token } : {});
  }

  /** Registers and logs in a fresh user with a unique name. */
  async user(prefix = 'user'): Promise<AuthResult> {
    const username = uniqueName(prefix);
    const reg = await this.post('/api/auth/register', { username, password: 'correct horse' });
    if (reg.status !== 201) throw new Error(`register failed: ${JSON.stringify(reg.body)}`);
    const login = await this.post<AuthResult>('/api/auth/login', { username, password: 'correct horse' });
    if (login.status !== 200) throw new Error(`login failed: ${JSON.stringify(login.body)}`);
    return login.body.data;
  }
}

let counter = 0;
/** A conversation's whole history after `afterSeq`, oldest first, read page by page with the catch-up cursor. */
export async function fullHistory(api: Api, conversationId: string, token: string, afterSeq = 0): Promise<Message[]> {
  const out: Message[] = [];
  for (let cursor = afterSeq; ; ) {
    const page = await api.get<Message[]>(`/api/conversations/${conversationId}/messages?afterSeq=${cursor}&size=100`, token);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    out.push(...page.body.data);
    if (!page.body.pagination?.hasMore || page.body.data.length === 0) return out;
    cursor = page.body.data.at(-1)!.seqId;
  }
}

export function uniqueName(prefix = 'u'): string {
  return `${prefix}${process.pid.toString(36)}${(counter++).toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`.slice(0, 32);
}

type Frame = ServerFrame | { type: string; data?: unknown };

/** A WebSocket client that queues every frame so tests can wait for the one they expect. */
export class WsClient {
  readonly frames: Frame[] = [];
  private waiters: Array<{ match: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
    this.closed = new Promise((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static connect(wsUrl: string, token: string): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`${wsUrl}?token=${encodeURIComponent(token)}`);
      const client = new WsClient(socket);
      socket.once('open', () => resolve(client));
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
    });
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  sendMessage(conversationId: string, content: string, tempMessageId: string, messageType?: string): void {
    this.send({ type: 'send-message', data: { conversationId, content, tempMessageId, ...(messageType ? { messageType } : {}) } });
  }

  /** The first frame (already received or still to come) that matches. */
  next<T extends Frame = Frame>(match: (f: Frame) => boolean, timeoutMs = 5_000): Promise<T> {
    const seen = this.frames.find(match);
    if (seen) {
      this.frames.splice(this.frames.indexOf(seen), 1);
      return Promise.resolve(seen as T);
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for a frame; got ${JSON.stringify(this.frames.slice(-5))}`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (f) => {
          clearTimeout(timer);
          this.frames.splice(this.frames.indexOf(f), 1);
          resolve(f as T);
        },
      });
    });
  }

  nextOfType<T extends Frame = Frame>(type: string, timeoutMs?: number): Promise<T> {
    return this.next<T>((f) => f.type === type, timeoutMs);
  }

  /** Collects `count` frames of `type`, in arrival order. */
  async collect<T extends Frame = Frame>(type: string, count: number, timeoutMs = 10_000): Promise<T[]> {
    const out: T[] = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < count) out.push(await this.nextOfType<T>(type, Math.max(1, deadline - Date.now())));
    return out;
  }

  close(): void {
    this.socket.close();
  }
}
