/** Enumerations and numbers of the protocol that are not objects: message types, close codes, limits. */

export const MESSAGE_TYPES = ['text', 'image', 'file', 'system'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];
/** What a client may send; `system` messages are written by the server only. */
export const CLIENT_MESSAGE_TYPES = ['text', 'image', 'file'] as const satisfies readonly MessageType[];
export type ClientMessageType = (typeof CLIENT_MESSAGE_TYPES)[number];

export const CONVERSATION_TYPES = ['single', 'group', 'world'] as const;
export type ConversationType = (typeof CONVERSATION_TYPES)[number];

export const GROUP_ROLES = ['owner', 'admin', 'member'] as const;
export type GroupRole = (typeof GROUP_ROLES)[number];

/**
 * WebSocket close codes. 4000–4499: the client should reconnect (with backoff);
 * 4500–4999: terminal, reconnecting with the same token will not help.
 */
export const CLOSE_CODES = {
  /** Server shutting down (standard "going away"). */
  GOING_AWAY: 1001,
  /** Unsent output passed the bound: the client stopped reading. */
  SLOW_CONSUMER: 4000,
  /** No frame for the idle timeout. */
  IDLE_TIMEOUT: 4001,
  /** Too many frames too fast. */
  RATE_LIMITED: 4002,
  /** The token was logged out. */
  TOKEN_REVOKED: 4501,
  /** The token expired while connected. */
  TOKEN_EXPIRED: 4502,
} as const;

/**
 * A frame over the hard limit (1 MiB): the `ws` library closes with this (RFC 6455 "message too
 * big") on its own, so no GoChat code sends it; clients see it all the same.
 */
export const FRAME_TOO_BIG_CLOSE_CODE = 1009;

/**
 * Numbers of the protocol clients build on (contract.md). The server's own bounds (body and frame
 * sizes, the idle timeout) are settings: `src/config/`, `docs/deploy.md`.
 */
export const LIMITS = {
  /** The most messages or conversations one page holds. */
  pageSizeMax: 100,
  /** A page's size when the request names none. */
  pageSizeDefault: 50,
  /** How often a client pings (the server closes a socket silent for 90 s). */
  clientPingIntervalMs: 30_000,
} as const;
