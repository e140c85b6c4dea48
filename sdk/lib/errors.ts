/** Typed errors: every contract error code, plus the few failures only a client can see. */
import { ERROR_CODES, isErrorCode, type ErrorCode, type ErrorFrameData } from '../../src/protocol/index.js';

/**
 * Failures that happen on the client's side of the wire:
 * `NETWORK_ERROR` (no answer), `TIMEOUT` (a request or send took too long), `CLOSED` (the client
 * was logged out or disposed while the call was pending), `OUTBOX_FULL` (too many unacked sends),
 * `BAD_RESPONSE` (the server answered something that is not the contract's JSON envelope).
 */
export type ClientErrorCode = 'NETWORK_ERROR' | 'TIMEOUT' | 'CLOSED' | 'OUTBOX_FULL' | 'BAD_RESPONSE';

/** A contract `ErrorCode` (see `ERROR_CODES`) or a `ClientErrorCode`. */
export type GoChatErrorCode = ErrorCode | ClientErrorCode;

const RETRYABLE_CLIENT_CODES: ReadonlySet<GoChatErrorCode> = new Set(['NETWORK_ERROR', 'TIMEOUT']);
const AUTH_CODES: ReadonlySet<GoChatErrorCode> = new Set(['UNAUTHORIZED', 'TOKEN_EXPIRED', 'TOKEN_REVOKED']);

export interface GoChatErrorOptions {
  /** HTTP status; for WebSocket errors the status the same code has over HTTP; 0 for client-side failures. */
  status?: number;
  /** Seconds to wait before retrying (from `Retry-After`). */
  retryAfter?: number;
  /** The send this error answers, for WebSocket `error` frames. */
  tempMessageId?: string;
  cause?: unknown;
}

/**
 * The one error type the SDK throws and emits. `code` is the contract's error code
 * (or a {@link ClientErrorCode}); `message` is the server's human-readable text.
 *
 * @example
 * ```ts
 * try {
 *   await client.login('alice', 'wrong password');
 * } catch (err) {
 *   if (err instanceof GoChatError && err.code === 'INVALID_CREDENTIALS') showLoginError();
 *   else throw err;
 * }
 * ```
 */
export class GoChatError extends Error {
  readonly code: GoChatErrorCode;
  readonly status: number;
  readonly retryAfter?: number;
  readonly tempMessageId?: string;

  constructor(code: GoChatErrorCode, message?: string, options: GoChatErrorOptions = {}) {
    super(message ?? (isErrorCode(code) ? ERROR_CODES[code].message : code), options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'GoChatError';
    this.code = code;
    this.status = options.status ?? (isErrorCode(code) ? ERROR_CODES[code].http : 0);
    if (options.retryAfter !== undefined) this.retryAfter = options.retryAfter;
    if (options.tempMessageId !== undefined) this.tempMessageId = options.tempMessageId;
  }

  /** Whether the same request may succeed later unchanged (rate limits, outages, network). */
  get retryable(): boolean {
    return isErrorCode(this.code) ? ERROR_CODES[this.code].retryable : RETRYABLE_CLIENT_CODES.has(this.code);
  }

  /** True for a missing, bad, expired or revoked token: log in again. */
  get isAuthError(): boolean {
    return AUTH_CODES.has(this.code);
  }

  /**
   * Builds the error for a WebSocket `error` frame.
   *
   * @example
   * ```ts
   * GoChatError.fromFrame({ code: 'NOT_CONVERSATION_MEMBER', message: 'Not a member', tempMessageId: 't1' }).status; // 403
   * ```
   */
  static fromFrame(data: ErrorFrameData): GoChatError {
    const options: GoChatErrorOptions = data.tempMessageId !== undefined ? { tempMessageId: data.tempMessageId } : {};
    return new GoChatError(knownCode(data.code), data.message, options);
  }
}

/** A code this SDK version does not know is reported as INTERNAL_ERROR rather than passed through untyped. */
export function knownCode(code: unknown): ErrorCode {
  return isErrorCode(code) ? code : 'INTERNAL_ERROR';
}
