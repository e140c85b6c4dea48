/**
 * Why a connection ended, and what the client does next: the one place that decides whether to
 * reconnect (like centrifuge's disconnect.go).
 */
import { CLOSE_CODES } from '../../src/protocol/index.js';
import { GoChatError } from './errors.js';

/**
 * The reasons the SDK itself ends a connection. They are never sent on the wire (the SDK closes its
 * socket with 1000) and lie below 1000, where RFC 6455 defines no close code: no close frame can
 * carry one, so none can be mistaken for the server's 4000–4499 ("reconnect") or 4500–4999
 * ("terminal") codes, nor a server code for one of these.
 *
 * @example
 * ```ts
 * import { LOCAL_CLOSE_CODES } from 'gochat/sdk';
 * LOCAL_CLOSE_CODES.NO_PONG; // 3: the server did not answer a ping in time; the client reconnects
 * ```
 */
export const LOCAL_CLOSE_CODES = {
  /** `disconnect()` or `logout()`: stop, do not reconnect. */
  DISCONNECT_CALLED: 1,
  /** `reconnectNow()`: connect again at once, backoff reset. */
  RECONNECT_CALLED: 2,
  /** No frame within `pongTimeoutMs` of a ping: the network died without a close frame; reconnect with backoff. */
  NO_PONG: 3,
  /** Catching up after the open failed: reconnect with backoff rather than run with unknown positions. */
  CATCH_UP_FAILED: 4,
} as const;

export type LocalCloseCode = (typeof LOCAL_CLOSE_CODES)[keyof typeof LOCAL_CLOSE_CODES];

/** What follows the end of a connection. */
export type NextStep =
  | { kind: 'stop' }
  | { kind: 'reconnect-now' }
  | { kind: 'reconnect-later' }
  /** The upgrade failed before opening: a browser cannot tell a refused token from a network error, so ask over HTTP. */
  | { kind: 'check-token' }
  | { kind: 'fail'; error: GoChatError };

const TERMINAL_FROM = 4500;
const TERMINAL_TO = 4999;

/**
 * Decides what to do after a connection ended with `code` (a server close code, a transport code
 * such as 1006, or a {@link LOCAL_CLOSE_CODES} value). `opened`: whether that socket ever opened.
 *
 * @example
 * ```ts
 * nextStep(4000, '', true);                              // { kind: 'reconnect-later' }: slow consumer
 * nextStep(4501, 'token revoked', true).kind;            // 'fail' with TOKEN_REVOKED
 * nextStep(LOCAL_CLOSE_CODES.DISCONNECT_CALLED, '', true); // { kind: 'stop' }
 * ```
 */
export function nextStep(code: number, reason: string, opened: boolean): NextStep {
  if (code === LOCAL_CLOSE_CODES.DISCONNECT_CALLED) return { kind: 'stop' };
  if (code === LOCAL_CLOSE_CODES.RECONNECT_CALLED) return { kind: 'reconnect-now' };
  if (code >= TERMINAL_FROM && code <= TERMINAL_TO) {
    const cause = code === CLOSE_CODES.TOKEN_REVOKED ? 'TOKEN_REVOKED' : code === CLOSE_CODES.TOKEN_EXPIRED ? 'TOKEN_EXPIRED' : 'FORBIDDEN';
    return { kind: 'fail', error: new GoChatError(cause, reason || `Connection closed for good (${code})`) };
  }
  if (!opened) return { kind: 'check-token' };
  return { kind: 'reconnect-later' };
}
