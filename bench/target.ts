/**
 * The load generator's view of a server under test. GoChat is set up through its real HTTP
 * API (guests and registered users, 1:1 conversations, groups); the baseline relay has no API,
 * so users are plain ids and conversations are entered with `join` frames. After setup both
 * see exactly the same WebSocket traffic.
 */
import WebSocket from 'ws';

export interface BenchUser {
  index: number;
  userId: string;
  token: string;
}

export interface IncomingFrame {
  type: string;
  data?: Record<string, unknown>;
}

/** A client WebSocket that hands every parsed frame to one handler. */
export class BenchSocket {
  onFrame: (frame: IncomingFrame) => void = () => {};
  /**
   * When set, takes each frame's bytes instead of `onFrame` (which then sees nothing): a reader
   * that must keep up with a large fan-out can pick fields out without a JSON.parse per frame.
   */
  onRaw: ((raw: Buffer) => void) | undefined;
  readonly closed: Promise<number>;
  isOpen = true;

  constructor(readonly ws: WebSocket) {
    // Text frames arrive as one Buffer (binaryType 'nodebuffer', the default).
    ws.on('message', (raw) => (this.onRaw ? this.onRaw(raw as Buffer) : this.onFrame(JSON.parse(raw.toString()) as IncomingFrame)));
    this.closed = new Promise((resolve) =>
      ws.on('close', (code) => {
        this.isOpen = false;
        resolve(code);
      }),
    );
    ws.on('error', () => {});
  }

  send(frame: string): void {
    if (this.isOpen) this.ws.send(frame);
  }

  terminate(): void {
    this.ws.terminate();
  }
}

export interface Target {
  readonly kind: 'baseline' | 'gochat';
  /** `count` users; the first `registered` are full accounts (only they may create groups). */
  users(count: number, registered: number): Promise<BenchUser[]>;
  pair(a: BenchUser, b: BenchUser): Promise<string>;
  group(owner: BenchUser, members: readonly BenchUser[]): Promise<string>;
  connect(user: BenchUser, conversationIds: readonly string[]): Promise<BenchSocket>;
}

/** The server answered the WebSocket upgrade with an HTTP status instead of switching protocols. */
export class UpgradeRefused extends Error {
  constructor(readonly status: number) {
    super(`upgrade refused: ${status}`);
  }
}

/** Opens a client socket; `localAddress` picks its loopback source address (the IP the server sees). */
export function openSocket(url: string, localAddress?: string): Promise<BenchSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...(localAddress ? { localAddress } : {}) });
    ws.once('open', () => resolve(new BenchSocket(ws)));
    // Not `once`: a socket that fails after a refusal must not throw an unhandled 'error'.
    ws.on('error', reject);
    ws.once('unexpected-response', (req, res) => {
      reject(new UpgradeRefused(res.statusCode ?? 0));
      // Free the connection at once: an attacker that retries must not pile up refused sockets.
      req.destroy();
    });
  });
}

/** Runs `fn` over `items` with at most `concurrency` at a time; results keep the input order. */
export async function pool<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}

export class BaselineTarget implements Target {
  readonly kind = 'baseline' as const;
  private conversations = 0;

  constructor(private readonly wsUrl: string) {}

  async users(count: number): Promise<BenchUser[]> {
    return Array.from({ length: count }, (_, index) => ({ index, userId: String(index + 1), token: '' }));
  }

  async pair(): Promise<string> {
    return `c${++this.conversations}`;
  }

  async group(): Promise<string> {
    return `g${++this.conversations}`;
  }

  async connect(user: BenchUser, conversationIds: readonly string[]): Promise<BenchSocket> {
    const socket = await openSocket(`${this.wsUrl}?userId=${user.userId}`);
    if (conversationIds.length === 0) return socket;
    await new Promise<void>((resolve) => {
      let pending = conversationIds.length;
      socket.onFrame = (frame) => {
        if (frame.type === 'joined' && --pending === 0) resolve();
      };
      for (const conversationId of conversationIds) socket.send(JSON.stringify({ type: 'join', data: { conversationId } }));
    });
    socket.onFrame = () => {};
    return socket;
  }
}

interface Envelope<T> {
  success: boolean;
  message: string;
  code?: string;
  data: T;
}

export class GoChatTarget implements Target {
  readonly kind = 'gochat' as const;
  private created = 0;
  private requests = 0;
  private readonly baseUrls: readonly string[];
  private readonly wsUrls: readonly string[];

  /**
   * `gateways` (a cluster): requests go round-robin over their base URLs, and user `i` connects
   * to gateway `i % n`, so the members of a pair or group sit on different gateways and every
   * message crosses between them. `baseUrl` and `wsUrl` are then the first gateway's.
   */
  constructor(
    readonly baseUrl: string,
    private readonly wsUrl: string,
    private readonly runTag: string,
    gateways?: { baseUrls: readonly string[]; wsUrls: readonly string[] },
  ) {
    this.baseUrls = gateways?.baseUrls.length ? gateways.baseUrls : [baseUrl];
    this.wsUrls = gateways?.wsUrls.length ? gateways.wsUrls : [wsUrl];
  }

  async request<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    const base = this.baseUrls[this.requests++ % this.baseUrls.length]!;
    const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const parsed = (await res.json()) as Envelope<T>;
    if (!parsed.success) throw new Error(`${method} ${path} -> ${res.status} ${parsed.code}: ${parsed.message}`);
    return parsed.data;
  }

  /**
   * Registered users pay two scrypt hashes each (register + login) at the server's default cost,
   * so only the few that must own groups are registered; the rest enter as guests, which is the
   * same user row, token and socket path without the password hash.
   */
  async users(count: number, registered: number): Promise<BenchUser[]> {
    return pool(
      Array.from({ length: count }, (_, i) => i),
      registered > 0 ? 8 : 32,
      async (index) => {
        const username = `b${this.runTag}_${this.created++}`;
        let auth: { token: string; user: { userId: string } };
        if (index < registered) {
          const credentials = { username, password: 'bench-password' };
          await this.request('POST', '/api/auth/register', credentials);
          auth = await this.request('POST', '/api/auth/login', credentials);
        } else {
          auth = await this.request('POST', '/api/auth/guest', { guestName: username });
        }
        return { index, userId: auth.user.userId, token: auth.token };
      },
    );
  }

  async pair(a: BenchUser, b: BenchUser): Promise<string> {
    const conversation = await this.request<{ conversationId: string }>('POST', '/api/conversations', { targetUserId: b.userId }, a.token);
    return conversation.conversationId;
  }

  async group(owner: BenchUser, members: readonly BenchUser[]): Promise<string> {
    const created = await this.request<{ conversation: { conversationId: string } }>(
      'POST',
      '/api/groups',
      { groupName: `bench ${this.runTag}`, members: members.map((m) => m.userId) },
      owner.token,
    );
    return created.conversation.conversationId;
  }

  connect(user: BenchUser): Promise<BenchSocket> {
    const wsUrl = this.wsUrls.length > 1 ? this.wsUrls[user.index % this.wsUrls.length]! : this.wsUrl;
    return openSocket(`${wsUrl}?token=${encodeURIComponent(user.token)}`);
  }
}
