/**
 * The GoChat client SDK for browsers and Node: typed REST calls and a self-healing WebSocket.
 * See sdk/README.md.
 *
 * @example
 * ```ts
 * import { GoChatClient, GoChatError } from 'gochat/sdk';
 * const client = new GoChatClient({ baseUrl: 'http://127.0.0.1:8080' });
 * ```
 */
export { GoChatClient, createTempId } from './lib/client.js';
export type {
  ConnectionState,
  ConversationRemovedEvent,
  ConversationsPage,
  ConversationsPageQuery,
  GoChatClientOptions,
  GoChatEvents,
  MessagePage,
  MessagesQuery,
  ReactionsQuery,
  SendOptions,
  Typer,
  TypingIndicator,
} from './lib/client.js';
export { TYPING_INTERVAL_MS } from './lib/typing.js';
export { applyMessageChange, withRecalledQuote } from './lib/message-changes.js';
export type { MessageChanged } from './lib/message-changes.js';
export { LOCAL_CLOSE_CODES } from './lib/disconnect.js';
export type { LocalCloseCode } from './lib/disconnect.js';
export { GoChatError } from './lib/errors.js';
export type { ClientErrorCode, GoChatErrorCode } from './lib/errors.js';
export { Backoff, backoffDelay } from './lib/backoff.js';
export type { BackoffOptions } from './lib/backoff.js';
export { Emitter } from './lib/emitter.js';
export { Sequencer } from './lib/sequencer.js';
export type { FetchLike } from './lib/rest.js';
export type { IncomingFrame, WebSocketFactory, WebSocketLike } from './lib/socket.js';
export { ERROR_CODES, CLOSE_CODES, LIMITS } from '../src/protocol/index.js';
export { parseSystemContent } from '../src/protocol/index.js';
export type {
  AuthResult,
  ChangeItem,
  Conversation,
  ConversationRemoved,
  ConversationSettings,
  ConversationSettingsChanged,
  ConversationUpdate,
  ConversationPagination,
  ConversationType,
  ErrorCode,
  Group,
  GroupInfo,
  GroupInfoPatch,
  GroupMember,
  GroupRole,
  Message,
  MessageAck,
  MessageChangeItem,
  MessageType,
  MyGroup,
  Pagination,
  ReactionCount,
  Reactor,
  ReadReceipt,
  ReadResult,
  ReplySnapshot,
  SystemContent,
  User,
  UserRef,
} from '../src/protocol/index.js';
