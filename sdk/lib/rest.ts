/** The HTTP half of the client: one JSON request helper that unwraps the contract's envelope. */
import type { Pagination } from '../../src/protocol/index.js';
import { GoChatError, knownCode } from './errors.js';

/** The subset of `fetch` the SDK uses; `globalThis.fetch` in browsers and Node 18+. */
export type FetchLike = (input: string, init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal }) => Promise<{
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}>;

export interface RestOptions {
  /** Origin of the server, e.g. `http://127.0.0.1:8080`; '' for same-origin requests in a browser. */
  baseUrl: string;
  fetch?: FetchLike;
  /** Each request is aborted after this long with a `TIMEOUT` error. */
  timeoutMs: number;
  /** The bearer token to send, read at each request. */
  token: () => string | null;
}

export interface RestResult<T> {
  data: T;
  status: number;
  pagination?: Pagination;
}

/**
 * Sends `method path` with an optional JSON body and returns `data` of the success envelope,
 * or throws a {@link GoChatError} carrying the contract's code and HTTP status.
 *
 * @example
 * ```ts
 * const rest = new RestClient({ baseUrl: 'http://127.0.0.1:8080', timeoutMs: 15_000, token: () => token });
 * const { data: me } = await rest.request<User>('GET', '/api/users/info');
 * ```
 */
export class RestClient {
  constructor(private readonly options: RestOptions) {}

  async request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<RestResult<T>> {
    const fetchImpl = this.options.fetch ?? (globalThis.fetch as unknown as FetchLike | undefined);
    if (!fetchImpl) throw new GoChatError('NETWORK_ERROR', 'No fetch implementation: pass options.fetch');
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = this.options.token();
    if (token) headers.authorization = `Bearer ${token}`;
    const init: Parameters<FetchLike>[1] = { method, headers };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const controller = typeof AbortController === 'function' ? new AbortController() : null;
    if (controller) init.signal = controller.signal;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller?.abort();
    }, this.options.timeoutMs);

    let status: number;
    let text: string;
    let retryAfterHeader: string | null;
    try {
      const res = await fetchImpl(this.options.baseUrl + path, init);
      status = res.status;
      retryAfterHeader = res.headers.get('retry-after');
      text = await res.text();
    } catch (err) {
      if (timedOut) throw new GoChatError('TIMEOUT', `${method} ${path} took longer than ${this.options.timeoutMs} ms`, { cause: err });
      throw new GoChatError('NETWORK_ERROR', `${method} ${path} failed: the server could not be reached`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    return parseEnvelope<T>(method, path, status, text, retryAfterHeader);
  }
}

function parseEnvelope<T>(method: string, path: string, status: number, text: string, retryAfterHeader: string | null): RestResult<T> {
  let envelope: { success?: unknown; data?: unknown; message?: unknown; code?: unknown; pagination?: Pagination };
  try {
    envelope = JSON.parse(text) as typeof envelope;
  } catch {
    throw new GoChatError('BAD_RESPONSE', `${method} ${path} answered ${status} without JSON`, { status });
  }
  if (envelope === null || typeof envelope !== 'object') {
    throw new GoChatError('BAD_RESPONSE', `${method} ${path} answered ${status} without an envelope`, { status });
  }
  if (envelope.success === true && status < 400) {
    const result: RestResult<T> = { data: envelope.data as T, status };
    if (envelope.pagination) result.pagination = envelope.pagination;
    return result;
  }
  const options: { status: number; retryAfter?: number } = { status };
  const retryAfter = Number(retryAfterHeader);
  if (retryAfterHeader !== null && Number.isFinite(retryAfter)) options.retryAfter = retryAfter;
  const message = typeof envelope.message === 'string' ? envelope.message : undefined;
  throw new GoChatError(knownCode(envelope.code), message, options);
}
