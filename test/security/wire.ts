/**
 * Low-level clients for hostile tests: a WebSocket upgrade that reports the refusal's status and
 * body, a raw WebSocket that writes frames byte by byte (invalid UTF-8, lying length headers,
 * never reading), and HTTP from a chosen loopback address (per-IP limits).
 */
import http from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';

export interface UpgradeResult {
  status: number;
  /** The JSON envelope of a refused upgrade. */
  body?: { success: boolean; code?: string; message?: string };
  headers: http.IncomingHttpHeaders;
}

function handshakeHeaders(): Record<string, string> {
  return {
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
  };
}

/** Tries the upgrade; 101 when accepted (the socket is closed right away), else the refusal. */
export function tryUpgrade(wsUrl: string, token: string | null): Promise<UpgradeResult> {
  const url = new URL(wsUrl.replace(/^ws/, 'http'));
  if (token !== null) url.searchParams.set('token', token);
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: handshakeHeaders() });
    req.setTimeout(10_000, () => req.destroy(new Error('upgrade timed out')));
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        let body: UpgradeResult['body'];
        try {
          body = JSON.parse(text) as UpgradeResult['body'];
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, ...(body ? { body } : {}) });
      });
    });
    req.on('error', reject);
  });
}

export const OPCODE = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** One client-to-server frame, masked as RFC 6455 requires. `declaredLength` may lie. */
export function encodeFrame(opcode: number, payload: Buffer, options: { fin?: boolean; declaredLength?: number } = {}): Buffer {
  const length = options.declaredLength ?? payload.length;
  const head: number[] = [(options.fin === false ? 0 : 0x80) | opcode];
  if (length < 126) head.push(0x80 | length);
  else if (length < 65_536) head.push(0x80 | 126, length >> 8, length & 0xff);
  else {
    head.push(0x80 | 127);
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(length));
    head.push(...big);
  }
  const mask = randomBytes(4);
  const masked = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) masked[i] = payload[i]! ^ mask[i % 4]!;
  return Buffer.concat([Buffer.from(head), mask, masked]);
}

export interface ServerFrameRaw {
  opcode: number;
  payload: Buffer;
}

/** A WebSocket spoken by hand over TCP: for bytes a well-behaved library would never send. */
export class RawWebSocket {
  readonly frames: ServerFrameRaw[] = [];
  /** Resolves when the TCP connection ends, with the close code the server sent (if it sent one). */
  readonly ended: Promise<{ closeCode: number | null }>;
  private buffer = Buffer.alloc(0);
  private closeCode: number | null = null;
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: net.Socket) {
    this.ended = new Promise((resolve) => socket.once('close', () => resolve({ closeCode: this.closeCode })));
  }

  static connect(wsUrl: string, token: string): Promise<RawWebSocket> {
    const url = new URL(wsUrl);
    url.searchParams.set('token', token);
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(url.port), url.hostname);
      socket.once('error', reject);
      socket.once('connect', () => {
        const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`];
        for (const [k, v] of Object.entries(handshakeHeaders())) lines.push(`${k}: ${v}`);
        socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      });
      let head = Buffer.alloc(0);
      const onHead = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onHead);
        const status = head.subarray(0, end).toString().split(' ')[1];
        if (status !== '101') {
          socket.destroy();
          reject(new Error(`upgrade refused with ${status}`));
          return;
        }
        const client = new RawWebSocket(socket);
        socket.off('error', reject);
        socket.on('error', () => undefined);
        socket.on('data', (data: Buffer) => client.onData(data));
        client.onData(head.subarray(end + 4));
        resolve(client);
      };
      socket.on('data', onHead);
    });
  }

  private onData(data: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, data]);
    for (;;) {
      if (this.buffer.length < 2) break;
      const opcode = this.buffer[0]! & 0x0f;
      let length = this.buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) break;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) break;
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.buffer.length < offset + length) break;
      const payload = this.buffer.subarray(offset, offset + length);
      this.buffer = this.buffer.subarray(offset + length);
      if (opcode === OPCODE.close && payload.length >= 2) this.closeCode = payload.readUInt16BE(0);
      this.frames.push({ opcode, payload: Buffer.from(payload) });
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  write(frame: Buffer): boolean {
    return this.socket.write(frame);
  }

  sendText(text: string | Buffer): void {
    this.write(encodeFrame(OPCODE.text, typeof text === 'string' ? Buffer.from(text) : text));
  }

  /** The next text frame parsed as JSON, waiting up to `timeoutMs`. */
  async nextJson(timeoutMs = 5_000): Promise<{ type: string; data?: Record<string, unknown> }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.frames.findIndex((f) => f.opcode === OPCODE.text);
      if (index >= 0) {
        const [frame] = this.frames.splice(index, 1);
        return JSON.parse(frame!.payload.toString('utf8')) as { type: string; data?: Record<string, unknown> };
      }
      const closed = this.frames.find((f) => f.opcode === OPCODE.close);
      if (closed) throw new Error(`connection closed with ${closed.payload.length >= 2 ? closed.payload.readUInt16BE(0) : 'no code'}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a text frame');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * An HTTP JSON request from a chosen local address (127.0.0.x) so per-IP limits see distinct
 * clients. It also names that address in X-Forwarded-For, playing the trusted proxy for a target
 * behind a TCP balancer (started with GOCHAT_TRUST_PROXY=true); the embedded server ignores it.
 */
export function requestFrom(
  localAddress: string,
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: { success: boolean; code?: string; data?: unknown } }> {
  const url = new URL(path, baseUrl);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method,
      localAddress,
      headers: {
        'x-forwarded-for': localAddress,
        ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
      },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) as { success: boolean; code?: string } });
        } catch {
          reject(new Error(`${method} ${path} answered ${res.statusCode} with non-JSON: ${text.slice(0, 200)}`));
        }
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Writes `bytes` on a fresh TCP connection and collects whatever comes back until the server
 * closes it or `timeoutMs` passes (then the connection is closed from here).
 */
export function rawExchange(port: number, bytes: string | Buffer, timeoutMs = 3_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('close', done);
    socket.on('error', done);
  });
}

/** The status code and JSON body of a raw HTTP/1.1 answer ('' body when there is none). */
export function parseRawAnswer(answer: string): { status: number; body: string } {
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 0);
  const split = answer.indexOf('\r\n\r\n');
  return { status, body: split === -1 ? '' : answer.slice(split + 4) };
}
