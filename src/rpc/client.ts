/**
 * LogicApi over gRPC, for the gateway role. Calls go round-robin over every address in
 * GOCHAT_LOGIC_ADDR, except sends (by conversation) and logins (by username), which keep to
 * the instance their key hashes to. A call that cannot reach an instance (UNAVAILABLE) is
 * retried on the next one, so a dead logic instance costs no failed request. Retrying is safe: sends are
 * idempotent by tempMessageId. A server-side AppError is rebuilt from the `code` metadata.
 */
import * as grpc from '@grpc/grpc-js';
import { AppError, MessageList } from '../protocol/index.js';
import type {
  AuthResult,
  Conversation,
  ConversationPageQuery,
  ConversationPagination,
  Group,
  GroupMember,
  HistoryQuery,
  MessageAck,
  Pagination,
  ReadResult,
  SendMessagePayload,
  User,
} from '../protocol/index.js';
import type { ClientInfo, ConversationPageResult, Credentials, HistoryResult, LogicApi, Session } from '../logic/api.js';
import { unobserved, type OperationObserver } from '../ports/observer.js';
import { fromStatus, INTERNAL_KEY_HEADER, methodDefinition, type ServiceName } from './definitions.js';

export interface RpcClientConfig {
  /** host:port of every logic instance. */
  addrs: readonly string[];
  /** `internalKey(secret)`, presented on every call. */
  internalKey: string;
  /** Deadline of one call. */
  timeoutMs: number;
  /**
   * Reports each call once it is answered, failover included: "Service.Method", seconds, and
   * "ok" or the AppError code it ended with (an unreachable or timed-out logic is
   * SERVICE_UNAVAILABLE).
   */
  observe?: OperationObserver;
}

/** Proto decoding fills absent message fields with null and adds oneof markers: back to the wire shape. */
function conversation(raw: Conversation & { peer: User | null; _groupId?: string }): Conversation {
  const { peer, groupId, _groupId: _marker, ...rest } = raw;
  const out: Conversation = { ...rest, lastMessage: rest.lastMessage ?? null };
  if (peer) out.peer = peer;
  if (groupId !== undefined) out.groupId = groupId;
  return out;
}

/** FNV-1a: a stable, cheap string hash for instance affinity. */
function hash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export class RpcLogicClient implements LogicApi {
  private readonly clients: grpc.Client[];
  private next = 0;
  private inFlight = 0;
  private idle: Array<() => void> = [];
  private readonly observe: OperationObserver;

  constructor(private readonly config: RpcClientConfig) {
    this.observe = config.observe ?? unobserved;
    if (config.addrs.length === 0) throw new Error('RpcLogicClient needs at least one logic address');
    this.clients = config.addrs.map(
      (addr) =>
        new grpc.Client(addr, grpc.credentials.createInsecure(), {
          'grpc.keepalive_time_ms': 10_000,
          'grpc.keepalive_timeout_ms': 5_000,
          // Reconnect quickly to an instance that comes back.
          'grpc.initial_reconnect_backoff_ms': 200,
          'grpc.max_reconnect_backoff_ms': 2_000,
        }),
    );
  }

  /**
   * Healthy channels first, starting from the round-robin position, or from the instance
   * `affinity` hashes to: a username's logins then always meet the same per-username limiter.
   */
  private candidates(affinity?: string): grpc.Client[] {
    const start = (affinity === undefined ? this.next++ : hash(affinity)) % this.clients.length;
    const ordered = this.clients.map((_, i) => this.clients[(start + i) % this.clients.length]!);
    const failing = (c: grpc.Client) => c.getChannel().getConnectivityState(false) === grpc.connectivityState.TRANSIENT_FAILURE;
    return [...ordered.filter((c) => !failing(c)), ...ordered.filter(failing)];
  }

  private async call<Res>(service: ServiceName, method: string, request: object, affinity?: string): Promise<Res> {
    const definition = methodDefinition(service, method);
    const name = `${service}.${method}`;
    const started = performance.now();
    this.inFlight++;
    // Anything thrown that is not a gRPC status (a bug) is reported as "error", never as ok.
    let outcome = 'error';
    try {
      for (const client of this.candidates(affinity)) {
        try {
          const response = await this.unary<Res>(client, definition, request);
          outcome = 'ok';
          return response;
        } catch (err) {
          const status = err as grpc.ServiceError;
          const appError = fromStatus(status);
          if (appError) {
            outcome = appError.code;
            throw appError;
          }
          if (status.code === grpc.status.UNAVAILABLE) continue; // try the next instance
          const code = status.code === grpc.status.DEADLINE_EXCEEDED ? 'SERVICE_UNAVAILABLE' : 'INTERNAL_ERROR';
          outcome = code;
          throw new AppError(code, undefined, undefined, { cause: err });
        }
      }
      outcome = 'SERVICE_UNAVAILABLE';
      throw new AppError('SERVICE_UNAVAILABLE', 'No logic instance is reachable');
    } finally {
      this.observe(name, (performance.now() - started) / 1000, outcome);
      if (--this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  private unary<Res>(client: grpc.Client, definition: grpc.MethodDefinition<object, object>, request: object): Promise<Res> {
    const metadata = new grpc.Metadata();
    metadata.set(INTERNAL_KEY_HEADER, this.config.internalKey);
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        definition.path,
        definition.requestSerialize,
        definition.responseDeserialize,
        request,
        metadata,
        { deadline: Date.now() + this.config.timeoutMs },
        (err, response) => (err ? reject(err) : resolve(response as Res)),
      );
    });
  }

  register(input: Credentials, client: ClientInfo): Promise<User> {
    return this.call('AuthService', 'Register', { ...input, client });
  }

  login(input: Credentials, client: ClientInfo): Promise<AuthResult> {
    return this.call('AuthService', 'Login', { ...input, client }, input.username.normalize('NFC').toLowerCase());
  }

  guest(input: { guestName?: string }, client: ClientInfo): Promise<AuthResult> {
    return this.call('AuthService', 'Guest', { ...input, client });
  }

  authenticate(token: string): Promise<Session> {
    return this.call('AuthService', 'Authenticate', { token });
  }

  async logout(session: Session): Promise<void> {
    await this.call('AuthService', 'Logout', { session });
  }

  getUserInfo(session: Session): Promise<User> {
    return this.call('UserService', 'GetUserInfo', { session });
  }

  findUserByUsername(session: Session, username: string): Promise<User> {
    return this.call('UserService', 'FindUserByUsername', { session, username });
  }

  async listConversations(session: Session): Promise<Conversation[]> {
    const { conversations } = await this.call<{ conversations: Array<Parameters<typeof conversation>[0]> }>('ConversationService', 'ListConversations', {
      session,
    });
    return conversations.map(conversation);
  }

  async listConversationsPage(session: Session, query: ConversationPageQuery): Promise<ConversationPageResult> {
    const request = { session, limit: query.limit, ...(query.cursor !== undefined ? { cursor: query.cursor } : {}) };
    const res = await this.call<{
      conversations: Array<Parameters<typeof conversation>[0]>;
      pagination: Omit<ConversationPagination, 'nextCursor'> & { nextCursor?: string; _nextCursor?: string };
    }>('ConversationService', 'ListConversationsPage', request);
    const { page, size, total, hasMore, nextCursor } = res.pagination;
    return { conversations: res.conversations.map(conversation), pagination: { page, size, total, hasMore, nextCursor: nextCursor ?? null } };
  }

  async openSingleConversation(session: Session, targetUserId: string): Promise<{ conversation: Conversation; created: boolean }> {
    const res = await this.call<{ conversation: Parameters<typeof conversation>[0]; created: boolean }>('ConversationService', 'OpenSingleConversation', {
      session,
      targetUserId,
    });
    return { conversation: conversation(res.conversation), created: res.created };
  }

  /** The page arrives as the codec's text and stays text until someone asks for values. */
  async getMessages(session: Session, conversationId: string, query: HistoryQuery): Promise<HistoryResult> {
    const q =
      query.kind === 'page'
        ? { page: query.page, size: query.size }
        : query.kind === 'after'
          ? { afterSeq: query.afterSeq, size: query.size }
          : { beforeSeq: query.beforeSeq, size: query.size };
    const page = await this.call<{ messagesJson: string; messageCount: number; pagination: Pagination }>('ConversationService', 'GetMessages', {
      session,
      conversationId,
      query: q,
    });
    return { messages: MessageList.decode(page.messagesJson, page.messageCount), pagination: page.pagination };
  }

  markRead(session: Session, conversationId: string): Promise<ReadResult> {
    return this.call('ConversationService', 'MarkRead', { session, conversationId });
  }

  async createGroup(session: Session, input: { groupName: string; members: string[] }): Promise<{ group: Group; conversation: Conversation }> {
    const res = await this.call<{ group: Group; conversation: Parameters<typeof conversation>[0] }>('GroupService', 'CreateGroup', { session, ...input });
    return { group: res.group, conversation: conversation(res.conversation) };
  }

  getGroup(session: Session, groupId: string): Promise<{ group: Group; members: GroupMember[] }> {
    return this.call('GroupService', 'GetGroup', { session, groupId });
  }

  /**
   * A conversation's sends go to the instance its id hashes to (while that one is up): one
   * sender's messages then get seqIds in the order they were sent, commits batch per
   * conversation, and deliveries leave in seqId order. Correctness does not depend on it.
   */
  sendMessage(session: Session, payload: SendMessagePayload, connId?: string): Promise<MessageAck> {
    const request = { session, ...payload, ...(connId !== undefined ? { connId } : {}) };
    return this.call('MessageService', 'SendMessage', request, `conversation:${payload.conversationId}`);
  }

  async ready(): Promise<void> {
    await this.call('UserService', 'Ready', {});
  }

  /** Resolves when no call is in flight (graceful shutdown of a gateway). */
  drain(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  close(): void {
    for (const client of this.clients) client.close();
  }
}
