/**
 * A small JSON-over-HTTP client for the attack scenarios. Unlike `fetch` it can pick the
 * loopback source address (`127.0.0.x`), so the server sees a normal user and the attacker
 * as different IPs, as it would on the internet, and per-IP limits treat them apart.
 */
import http from 'node:http';

export interface JsonAnswer<T> {
  status: number;
  /** The parsed envelope's `data`, when `success` was true. */
  data?: T;
  /** The envelope's error code, when it had one. */
  code?: string;
  /** Bytes of the response body. */
  bytes: number;
}

export interface RequestOptions {
  body?: unknown;
  token?: string;
  /** Source address of the connection (any 127.0.0.0/8 address reaches the loopback server). */
  localAddress?: string;
  agent?: http.Agent;
  /** The request is abandoned (rejected) after this long; 0 waits forever. */
  timeoutMs?: number;
}

/** Answers every status (the caller classifies it); rejects only on a network error or the timeout. */
export function requestJson<T>(baseUrl: string, method: string, path: string, options: RequestOptions = {}): Promise<JsonAnswer<T>> {
  const url = new URL(path, baseUrl);
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers: Record<string, string> = {};
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method, headers, agent: options.agent ?? false, ...(options.localAddress ? { localAddress: options.localAddress } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const answer: JsonAnswer<T> = { status: res.statusCode ?? 0, bytes: raw.length };
          try {
            const parsed = JSON.parse(raw.toString()) as { success?: boolean; code?: string; data?: T };
            if (parsed.success) answer.data = parsed.data as T;
            if (typeof parsed.code === 'string') answer.code = parsed.code;
          } catch {
            // not JSON (e.g. a proxy's or Node's own error page): the status says enough
          }
          resolve(answer);
        });
      },
    );
    if (options.timeoutMs) req.setTimeout(options.timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

/** `requestJson` that insists on a 2xx answer with data: for setup, where anything else is a broken run. */
export async function mustJson<T>(baseUrl: string, method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const answer = await requestJson<T>(baseUrl, method, path, options);
  if (answer.status < 200 || answer.status >= 300 || answer.data === undefined) {
    throw new Error(`${method} ${path} -> ${answer.status} ${answer.code ?? ''}`);
  }
  return answer.data;
}
