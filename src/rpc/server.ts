/**
 * The logic role's gRPC edge: serves a LogicApi (the in-process Logic) over @grpc/grpc-js.
 * It only translates: proto messages in, LogicApi call, proto messages or an AppError status out.
 * Calls must carry the internal key derived from the shared secret: the port is for gateways only.
 */
import * as grpc from '@grpc/grpc-js';
import { AppError, CLIENT_MESSAGE_TYPES, GROUP_ROLES, toAppError } from '../protocol/index.js';
import type { HistoryQuery, ClientMessageType, GroupRole, MessageAck, SendMessagePayload } from '../protocol/index.js';
import type { ClientInfo, LogicApi, Session } from '../logic/api.js';
import { unobserved, type OperationObserver } from '../ports/observer.js';
import { INTERNAL_KEY_HEADER, MAX_SENDS_PER_CALL, sameKey, serviceDefinition, toStatus, toWireError, withProtoMessages, type ServiceName } from './definitions.js';
import type { SendOutcome } from './send-stream.js';
import { ServedSendStream } from './serve-send-stream.js';

export interface RpcServerConfig {
  host: string;
  port: number;
  /** `internalKey(secret)`: callers must present it. */
  internalKey: string;
  /**
   * Reports each call: "Service.Method", seconds, and "ok", the AppError code it answered, or
   * "UNAUTHENTICATED" for a caller without the internal key (refused before any handler ran).
   */
  observe?: OperationObserver;
}

/** The operation a send is reported as, whether it came alone (SendMessage) or in a SendMessages batch. */
export const SEND_MESSAGE_CALL = 'MessageService.SendMessage';
/** The outcome of a call refused for a missing or wrong internal key. */
export const UNAUTHENTICATED_CALL = 'UNAUTHENTICATED';

export interface RpcLogger {
  info(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/* Shapes of the decoded requests (proto-loader: camelCase, defaults filled in). */
interface ProtoSession {
  userId: string;
  username: string;
  isGuest: boolean;
  jti: string;
  expiresAt: number;
}
interface WithSession {
  session: ProtoSession | null;
}
interface ProtoHistoryQuery {
  kind?: 'page' | 'afterSeq' | 'beforeSeq';
  page?: number;
  afterSeq?: number;
  beforeSeq?: number;
  size: number;
}

function session(request: WithSession): Session {
  const s = request.session;
  if (!s || !s.userId) throw new AppError('UNAUTHORIZED', 'Missing session');
  return { userId: s.userId, username: s.username, isGuest: s.isGuest, jti: s.jti, expiresAt: s.expiresAt };
}

function client(info: { ip: string } | null): ClientInfo {
  return { ip: info?.ip ?? '' };
}

function historyQuery(q: ProtoHistoryQuery | null): HistoryQuery {
  const size = q?.size ?? 0;
  switch (q?.kind) {
    case 'page':
      return { kind: 'page', page: q.page ?? 1, size };
    case 'afterSeq':
      return { kind: 'after', afterSeq: q.afterSeq ?? 0, size };
    case 'beforeSeq':
      return { kind: 'before', beforeSeq: q.beforeSeq ?? 0, size };
    default:
      throw new AppError('VALIDATION_ERROR', 'query: one of page, afterSeq, beforeSeq is required');
  }
}

type Handler = (request: never) => Promise<object>;

interface ProtoSend extends WithSession {
  conversationId: string;
  content: string;
  messageType?: string;
  tempMessageId: string;
  connId?: string;
  replyTo?: string;
  extraJson?: string;
}

function sendOne(logic: LogicApi, r: ProtoSend): Promise<MessageAck> {
  return logic.sendMessage(session(r), sendPayload(r), r.connId);
}

/** A send's payload as the WebSocket frame's schema would accept it. */
function sendPayload(r: ProtoSend): SendMessagePayload {
  const payload: SendMessagePayload = { conversationId: r.conversationId, content: r.content, tempMessageId: r.tempMessageId };
  if (r.messageType !== undefined) {
    // As the WebSocket frame schema: `system` messages are the server's own.
    if (!(CLIENT_MESSAGE_TYPES as readonly string[]).includes(r.messageType)) {
      throw new AppError('VALIDATION_ERROR', `messageType: must be one of ${CLIENT_MESSAGE_TYPES.join(', ')}`, { field: 'messageType' });
    }
    payload.messageType = r.messageType as ClientMessageType;
  }
  if (r.replyTo !== undefined) payload.replyTo = r.replyTo;
  if (r.extraJson !== undefined) {
    try {
      payload.extra = JSON.parse(r.extraJson) as Record<string, unknown>;
    } catch {
      throw new AppError('VALIDATION_ERROR', 'extra: must be a JSON object', { field: 'extra' });
    }
  }
  return payload;
}

/** One send of a batch or stream, answered on its own (never rejects) and reported as a SendMessage call would be. */
function batchedSend(logic: LogicApi, reportSend: OperationObserver, log: RpcLogger): (r: ProtoSend) => Promise<SendOutcome> {
  return async (r) => {
    const started = performance.now();
    try {
      const ack = await sendOne(logic, r);
      reportSend(SEND_MESSAGE_CALL, (performance.now() - started) / 1000, 'ok');
      return { ack };
    } catch (err) {
      const error = toAppError(err);
      if (error.code === 'INTERNAL_ERROR') log.error({ err: error.cause ?? err, method: SEND_MESSAGE_CALL }, 'rpc call failed');
      reportSend(SEND_MESSAGE_CALL, (performance.now() - started) / 1000, error.code);
      return { error: toWireError(error) };
    }
  };
}

function handlers(logic: LogicApi, reportSend: OperationObserver, log: RpcLogger): Record<ServiceName, Record<string, Handler>> {
  const sendInBatch = batchedSend(logic, reportSend, log);

  return {
    AuthService: {
      Register: (r: { username: string; password: string; client: { ip: string } | null }) =>
        logic.register({ username: r.username, password: r.password }, client(r.client)),
      Login: (r: { username: string; password: string; client: { ip: string } | null }) =>
        logic.login({ username: r.username, password: r.password }, client(r.client)),
      Guest: (r: { guestName?: string; client: { ip: string } | null }) =>
        logic.guest(r.guestName !== undefined ? { guestName: r.guestName } : {}, client(r.client)),
      Authenticate: (r: { token: string }) => logic.authenticate(r.token),
      Logout: async (r: WithSession) => (await logic.logout(session(r)), {}),
    },
    UserService: {
      GetUserInfo: (r: WithSession) => logic.getUserInfo(session(r)),
      FindUserByUsername: (r: WithSession & { username: string }) => logic.findUserByUsername(session(r), r.username),
      Ready: async () => (await logic.ready(), {}),
    },
    ConversationService: {
      ListConversations: async (r: WithSession & { includeHidden: boolean }) => ({
        conversations: await logic.listConversations(session(r), { includeHidden: r.includeHidden }),
      }),
      ListConversationsPage: async (r: WithSession & { limit: number; cursor?: string }) => {
        const { conversations, pagination } = await logic.listConversationsPage(session(r), {
          limit: r.limit,
          ...(r.cursor !== undefined ? { cursor: r.cursor } : {}),
        });
        // proto3 has no null: the last page leaves next_cursor out.
        const { nextCursor, ...rest } = pagination;
        return { conversations, pagination: nextCursor === null ? rest : { ...rest, nextCursor } };
      },
      OpenSingleConversation: (r: WithSession & { targetUserId: string }) => logic.openSingleConversation(session(r), r.targetUserId),
      GetConversation: (r: WithSession & { conversationId: string }) => logic.getConversation(session(r), r.conversationId),
      ListMembers: (r: WithSession & { conversationId: string; page: number; size: number; role?: string }) => {
        if (r.role !== undefined && !(GROUP_ROLES as readonly string[]).includes(r.role)) {
          throw new AppError('VALIDATION_ERROR', `role: must be one of ${GROUP_ROLES.join(', ')}`, { field: 'role' });
        }
        return logic.listMembers(session(r), r.conversationId, { page: r.page, size: r.size, ...(r.role !== undefined ? { role: r.role as GroupRole } : {}) });
      },
      GetMessages: async (r: WithSession & { conversationId: string; query: ProtoHistoryQuery | null }) => {
        const { messages, pagination } = await logic.getMessages(session(r), r.conversationId, historyQuery(r.query));
        return { messagesJson: messages.encode(), messageCount: messages.length, pagination };
      },
      MarkRead: (r: WithSession & { conversationId: string; seqId?: number }) => logic.markRead(session(r), r.conversationId, r.seqId),
      UpdateConversation: (r: WithSession & { conversationId: string; name?: string; avatar?: string; description?: string }) =>
        logic.updateGroup(session(r), r.conversationId, {
          ...(r.name !== undefined ? { name: r.name } : {}),
          ...(r.avatar !== undefined ? { avatar: r.avatar } : {}),
          ...(r.description !== undefined ? { description: r.description } : {}),
        }),
      DeleteConversation: async (r: WithSession & { conversationId: string }) => (await logic.disbandGroup(session(r), r.conversationId), {}),
      AddMembers: async (r: WithSession & { conversationId: string; userIds: string[] }) => ({
        members: await logic.addMembers(session(r), r.conversationId, r.userIds),
      }),
      RemoveMember: async (r: WithSession & { conversationId: string; userId: string }) => (await logic.removeMember(session(r), r.conversationId, r.userId), {}),
      SetMemberRole: (r: WithSession & { conversationId: string; userId: string; role: string }) => {
        if (!(GROUP_ROLES as readonly string[]).includes(r.role)) {
          throw new AppError('VALIDATION_ERROR', `role: must be one of ${GROUP_ROLES.join(', ')}`, { field: 'role' });
        }
        return logic.setMemberRole(session(r), r.conversationId, r.userId, r.role as GroupRole);
      },
      UpdateSettings: (r: WithSession & { conversationId: string; muted?: boolean; pinned?: boolean; hidden?: boolean }) =>
        logic.updateSettings(session(r), r.conversationId, {
          ...(r.muted !== undefined ? { muted: r.muted } : {}),
          ...(r.pinned !== undefined ? { pinned: r.pinned } : {}),
          ...(r.hidden !== undefined ? { hidden: r.hidden } : {}),
        }),
      GetChanges: async (r: WithSession & { conversationId: string; afterChange: number; size: number }) => {
        const { items, pagination } = await logic.getChanges(session(r), r.conversationId, r.afterChange, r.size);
        return { itemsJson: JSON.stringify(items), pagination };
      },
    },
    MessageService: {
      SendMessage: (r: ProtoSend) => sendOne(logic, r),
      PostMessage: (r: ProtoSend) => logic.postMessage(session(r), sendPayload(r)),
      RecallMessage: (r: WithSession & { messageId: string }) => logic.recallMessage(session(r), r.messageId),
      EditMessage: (r: WithSession & { messageId: string; content: string }) => logic.editMessage(session(r), r.messageId, r.content),
      SetReaction: (r: WithSession & { messageId: string; emoji: string; add: boolean }) => logic.setReaction(session(r), r.messageId, r.emoji, r.add),
      Typing: async (r: WithSession & { conversationId: string; typing: boolean }) => (await logic.typing(session(r), r.conversationId, r.typing), {}),
      ListReactions: (r: WithSession & { messageId: string; emoji?: string; page: number; size: number }) =>
        logic.listReactions(session(r), r.messageId, { page: r.page, size: r.size, ...(r.emoji !== undefined ? { emoji: r.emoji } : {}) }),
      SendMessages: async (r: { sends: ProtoSend[] }) => {
        if (r.sends.length > MAX_SENDS_PER_CALL) throw new AppError('VALIDATION_ERROR', `sends: at most ${MAX_SENDS_PER_CALL} per call`, { field: 'sends' });
        return { outcomes: await Promise.all(r.sends.map(sendInBatch)) };
      },
    },
    GroupService: {
      CreateGroup: (r: WithSession & { groupName: string; members: string[] }) =>
        logic.createGroup(session(r), { groupName: r.groupName, members: r.members }),
      GetGroup: (r: WithSession & { groupId: string }) => logic.getGroup(session(r), r.groupId),
      ListGroups: async (r: WithSession) => ({ groups: (await logic.listGroups(session(r))).map(({ myRole, ...group }) => ({ group, myRole })) }),
    },
  };
}

/** The operation an ended send stream is reported as (seconds: how long it was open). */
export const SEND_STREAM_CALL = 'MessageService.SendStream';
/** Unanswered sends one stream may hold before logic stops reading it. */
const MAX_STREAM_IN_FLIGHT = 4 * MAX_SENDS_PER_CALL;

export class RpcServer {
  private readonly server = new grpc.Server({ 'grpc.max_receive_message_length': 1024 * 1024 });
  private readonly observe: OperationObserver;
  private readonly streams = new Set<ServedSendStream<ProtoSend>>();
  /** close() has begun: new send streams are refused. */
  private closing = false;
  private readonly answerSend: (r: ProtoSend) => Promise<SendOutcome>;

  constructor(
    private readonly config: RpcServerConfig,
    logic: LogicApi,
    private readonly log: RpcLogger,
  ) {
    this.observe = config.observe ?? unobserved;
    this.answerSend = batchedSend(logic, this.observe, log);
    for (const [service, methods] of Object.entries(handlers(logic, this.observe, log)) as Array<[ServiceName, Record<string, Handler>]>) {
      const definition = serviceDefinition(service);
      const implementation: grpc.UntypedServiceImplementation = {};
      for (const [method, handler] of Object.entries(methods)) implementation[method] = this.unary(`${service}.${method}`, handler);
      if (service === 'MessageService') {
        const sendStream: grpc.handleBidiStreamingCall<never, object> = (call) => this.sendStream(call);
        implementation.SendStream = sendStream;
      }
      // A method in the .proto without a handler would answer UNIMPLEMENTED at runtime: refuse to start.
      const missing = Object.keys(definition).filter((method) => !implementation[method]);
      if (missing.length > 0) throw new Error(`no handler for ${missing.map((m) => `${service}.${m}`).join(', ')}`);
      this.server.addService(definition, implementation);
    }
  }

  private sendStream(call: grpc.ServerDuplexStream<never, object>): void {
    const started = performance.now();
    if (this.closing) {
      // Shutting down: a stream opened now would outlive the drain. The gateway sends elsewhere.
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'Logic is shutting down' });
      return;
    }
    const key = call.metadata.get(INTERNAL_KEY_HEADER)[0];
    if (typeof key !== 'string' || !sameKey(key, this.config.internalKey)) {
      this.observe(SEND_STREAM_CALL, 0, UNAUTHENTICATED_CALL);
      call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: 'Internal key required' });
      return;
    }
    const stream = new ServedSendStream<ProtoSend>(call, this.answerSend, { maxInFlight: MAX_STREAM_IN_FLIGHT, maxPerBatch: MAX_SENDS_PER_CALL });
    this.streams.add(stream);
    void stream.done.then(() => {
      this.streams.delete(stream);
      this.observe(SEND_STREAM_CALL, (performance.now() - started) / 1000, 'ok');
    });
  }

  private unary(name: string, handler: Handler): grpc.handleUnaryCall<object, object> {
    return (call, callback) => {
      const started = performance.now();
      const finish = (outcome: string) => this.observe(name, (performance.now() - started) / 1000, outcome);
      const key = call.metadata.get(INTERNAL_KEY_HEADER)[0];
      if (typeof key !== 'string' || !sameKey(key, this.config.internalKey)) {
        finish(UNAUTHENTICATED_CALL);
        return callback({ code: grpc.status.UNAUTHENTICATED, details: 'Internal key required' });
      }
      let result: Promise<object>;
      try {
        result = handler(call.request as never);
      } catch (err) {
        result = Promise.reject(err);
      }
      result.then(
        (response) => {
          finish('ok');
          callback(null, withProtoMessages(response));
        },
        (err: unknown) => {
          const error = toAppError(err);
          if (error.code === 'INTERNAL_ERROR') this.log.error({ err: error.cause ?? err, method: name }, 'rpc call failed');
          finish(error.code);
          callback(toStatus(error));
        },
      );
    };
  }

  /** Binds and starts serving; resolves with the bound port (useful with port 0). */
  start(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`${this.config.host}:${this.config.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) return reject(err);
        resolve(port);
      });
    });
  }

  /** Finishes in-flight calls (up to `graceMs`), send streams first, then stops. */
  async close(graceMs = 5_000): Promise<void> {
    this.closing = true;
    const started = Date.now();
    // Long-lived streams would hold tryShutdown open: end each once the sends it read are answered.
    await Promise.race([Promise.all([...this.streams].map((stream) => stream.drain())), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
    graceMs = Math.max(0, graceMs - (Date.now() - started));
    return new Promise((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      force.unref();
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}
