/**
 * LogicApi over gRPC, for the gateway role. Calls go round-robin over every address in
 * GOCHAT_LOGIC_ADDR, except sends (by conversation) and logins (by username), which keep to
 * the instance their key hashes to. A call that cannot reach an instance (UNAVAILABLE) is
 * retried on the next one, so a dead logic instance costs no failed request. Retrying is safe: sends are
 * idempotent by tempMessageId. A server-side AppError is rebuilt from the `code` metadata.
 *
 * Sends are batched and streamed: every send accepted in one event-loop turn for the same logic
 * instance is one message on that instance's long-lived SendStream (`send-stream.ts`), each
 * answered on its own. A unary call per message cost the gateway and logic roles about 200 µs of
 * CPU each per message (docs/performance.md). A lone send still leaves in the turn it arrived, so
 * batching adds no waiting of its own. When a stream ends with sends unanswered (logic died or
 * shut down), those go again as SendMessages calls, which fail over like any call; an instance
 * without SendStream (older) gets SendMessages calls, and one without those SendMessage calls.
 */
import * as grpc from '@grpc/grpc-js';
import { AppError, MessageList } from '../protocol/index.js';
import type {
  AuthResult,
  ChangeItem,
  Conversation,
  ConversationPageQuery,
  ConversationPagination,
  ConversationSettings,
  Group,
  GroupInfoPatch,
  GroupMember,
  GroupRole,
  HistoryQuery,
  Message,
  MessageAck,
  MyGroup,
  Pagination,
  Reactor,
  ReadResult,
  SendMessagePayload,
  User,
} from '../protocol/index.js';
import type { ClientInfo, ConversationPageResult, Credentials, HistoryResult, LogicApi, MembersQuery, ReactionsPageQuery, Session } from '../logic/api.js';
import { unobserved, type OperationObserver } from '../ports/observer.js';
import { fromStatus, fromWireError, INTERNAL_KEY_HEADER, MAX_SENDS_PER_CALL, messageFromProto, methodDefinition, sendToProto, type ProtoMessage, type ServiceName } from './definitions.js';
import { SendStream, type SendOutcome } from './send-stream.js';

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
function conversation(raw: Conversation & { peer: User | null; _groupId?: string; _myRole?: string; _peerLastReadSeq?: string }): Conversation {
  const { peer, groupId, myRole, peerLastReadSeq, _groupId: _marker, _myRole: _roleMarker, _peerLastReadSeq: _readMarker, ...rest } = raw;
  const out: Conversation = { ...rest, lastMessage: rest.lastMessage ? messageFromProto(rest.lastMessage as unknown as ProtoMessage) : null };
  if (peer) out.peer = peer;
  if (groupId !== undefined) out.groupId = groupId;
  if (myRole !== undefined) out.myRole = myRole;
  if (peerLastReadSeq !== undefined && peerLastReadSeq !== null) out.peerLastReadSeq = Number(peerLastReadSeq);
  return out;
}

/**
 * A batch's estimated encoded size stays under this, well inside logic's 1 MiB receive limit
 * (a send's content is at most 3 bytes per UTF-16 unit, plus its fixed fields).
 */
const MAX_BATCH_BYTES = 512 * 1024;
const SEND_OVERHEAD_BYTES = 256;

const SEND_MESSAGE = 'MessageService.SendMessage';
const SEND_MESSAGES = 'MessageService.SendMessages';

interface QueuedSend {
  request: { session: Session; conversationId: string; content: string; tempMessageId: string; messageType?: string; connId?: string; replyTo?: string; extraJson?: string };
  bytes: number;
  started: number;
  resolve: (ack: MessageAck) => void;
  reject: (err: unknown) => void;
}

/** `sends` cut into batches of at most MAX_SENDS_PER_CALL sends and about MAX_BATCH_BYTES, in order. */
function batches(sends: readonly QueuedSend[]): QueuedSend[][] {
  const out: QueuedSend[][] = [];
  let batch: QueuedSend[] = [];
  let bytes = 0;
  for (const send of sends) {
    if (batch.length > 0 && (batch.length === MAX_SENDS_PER_CALL || bytes + send.bytes > MAX_BATCH_BYTES)) {
      out.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(send);
    bytes += send.bytes;
  }
  if (batch.length > 0) out.push(batch);
  return out;
}

/** A send's outcome -> its AppError, or null for an ack. */
function outcomeError(outcome: SendOutcome): AppError | null {
  if (outcome.ack) return null;
  return outcome.error ? fromWireError(outcome.error) : NO_OUTCOME();
}

const NO_OUTCOME = () => new AppError('INTERNAL_ERROR', 'logic answered no outcome for a send');

/**
 * A group change goes where the conversation's sends go (while that instance is up): its writer
 * then orders the change among the sends, commit order is publish order, and that instance's
 * member cache learns of the change at once instead of at its next stale commit.
 */
const changeAffinity = (conversationId: string): string => `conversation:${conversationId}`;

/** Where one message's actions go (see `recallMessage`). */
const messageAffinity = (messageId: string): string => `message:${messageId}`;

/** FNV-1a: a stable, cheap string hash for instance affinity. */
function hash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** The index in GOCHAT_LOGIC_ADDR of the instance a conversation's sends go to while it is up. */
export function sendInstanceOf(conversationId: string, instances: number): number {
  return hash(changeAffinity(conversationId)) % instances;
}

export class RpcLogicClient implements LogicApi {
  private readonly clients: grpc.Client[];
  private next = 0;
  private inFlight = 0;
  private idle: Array<() => void> = [];
  private readonly observe: OperationObserver;
  /** Sends accepted this turn, by the index of the logic instance their conversation hashes to. */
  private readonly queuedSends = new Map<number, QueuedSend[]>();
  private flushScheduled = false;
  /** The send stream to each instance, by index, opened on first use. */
  private readonly streams: Array<SendStream<QueuedSend> | undefined> = [];
  /** Instances that do not serve SendStream (older versions): they get SendMessages calls. */
  private readonly streamless = new Set<number>();
  private closed = false;

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
    return this.candidatesFrom((affinity === undefined ? this.next++ : hash(affinity)) % this.clients.length);
  }

  private candidatesFrom(start: number): grpc.Client[] {
    return this.candidateIndexes(start).map((i) => this.clients[i]!);
  }

  /** Instance indexes from `start` on, those whose channel is failing last. */
  private candidateIndexes(start: number): number[] {
    const ordered = this.clients.map((_, i) => (start + i) % this.clients.length);
    const failing = (i: number) => this.clients[i]!.getChannel().getConnectivityState(false) === grpc.connectivityState.TRANSIENT_FAILURE;
    return [...ordered.filter((i) => !failing(i)), ...ordered.filter(failing)];
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
      this.settled();
    }
  }

  private metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    metadata.set(INTERNAL_KEY_HEADER, this.config.internalKey);
    return metadata;
  }

  private unary<Res>(client: grpc.Client, definition: grpc.MethodDefinition<object, object>, request: object): Promise<Res> {
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        definition.path,
        definition.requestSerialize,
        definition.responseDeserialize,
        request,
        this.metadata(),
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

  async listConversations(session: Session, options: { includeHidden?: boolean } = {}): Promise<Conversation[]> {
    const { conversations } = await this.call<{ conversations: Array<Parameters<typeof conversation>[0]> }>('ConversationService', 'ListConversations', {
      session,
      includeHidden: options.includeHidden === true,
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

  markRead(session: Session, conversationId: string, seqId?: number): Promise<ReadResult> {
    return this.call('ConversationService', 'MarkRead', { session, conversationId, ...(seqId !== undefined ? { seqId } : {}) });
  }

  async createGroup(session: Session, input: { groupName: string; members: string[] }): Promise<{ group: Group; conversation: Conversation }> {
    const res = await this.call<{ group: Group; conversation: Parameters<typeof conversation>[0] }>('GroupService', 'CreateGroup', { session, ...input });
    return { group: res.group, conversation: conversation(res.conversation) };
  }

  getGroup(session: Session, groupId: string): Promise<{ group: Group; members: GroupMember[] }> {
    return this.call('GroupService', 'GetGroup', { session, groupId });
  }

  async listGroups(session: Session): Promise<MyGroup[]> {
    const { groups } = await this.call<{ groups: Array<{ group: Group; myRole: MyGroup['myRole'] }> }>('GroupService', 'ListGroups', { session });
    return groups.map(({ group, myRole }) => ({ ...group, myRole }));
  }

  listMembers(session: Session, conversationId: string, query: MembersQuery): Promise<{ members: GroupMember[]; pagination: Pagination }> {
    return this.call('ConversationService', 'ListMembers', { session, conversationId, ...query });
  }

  async getConversation(session: Session, conversationId: string): Promise<Conversation> {
    return conversation(await this.call<Parameters<typeof conversation>[0]>('ConversationService', 'GetConversation', { session, conversationId }));
  }

  async addMembers(session: Session, conversationId: string, userIds: readonly string[]): Promise<GroupMember[]> {
    const { members } = await this.call<{ members: GroupMember[] }>('ConversationService', 'AddMembers', { session, conversationId, userIds }, changeAffinity(conversationId));
    return members;
  }

  async removeMember(session: Session, conversationId: string, userId: string): Promise<void> {
    await this.call('ConversationService', 'RemoveMember', { session, conversationId, userId }, changeAffinity(conversationId));
  }

  setMemberRole(session: Session, conversationId: string, userId: string, role: GroupRole): Promise<GroupMember> {
    return this.call('ConversationService', 'SetMemberRole', { session, conversationId, userId, role }, changeAffinity(conversationId));
  }

  async updateGroup(session: Session, conversationId: string, patch: GroupInfoPatch): Promise<Conversation> {
    return conversation(await this.call<Parameters<typeof conversation>[0]>('ConversationService', 'UpdateConversation', { session, conversationId, ...patch }, changeAffinity(conversationId)));
  }

  async disbandGroup(session: Session, conversationId: string): Promise<void> {
    await this.call('ConversationService', 'DeleteConversation', { session, conversationId }, changeAffinity(conversationId));
  }

  async updateSettings(session: Session, conversationId: string, patch: Partial<ConversationSettings>): Promise<Conversation> {
    return conversation(await this.call<Parameters<typeof conversation>[0]>('ConversationService', 'UpdateSettings', { session, conversationId, ...patch }));
  }

  async postMessage(session: Session, payload: SendMessagePayload): Promise<{ message: Message; created: boolean }> {
    // Where the conversation's other sends go: one instance orders them.
    const res = await this.call<{ message: ProtoMessage; created: boolean }>('MessageService', 'PostMessage', { session, ...sendToProto(payload) }, changeAffinity(payload.conversationId));
    return { message: messageFromProto(res.message), created: res.created };
  }

  // The gateway knows only a message action's message id: every action on one message goes to one
  // instance (while it is up), so a reaction storm on one message is published in commit order and
  // devices see its changeSeqs without gaps. The store's lock orders actions whatever instance runs them.
  async recallMessage(session: Session, messageId: string): Promise<Message> {
    return messageFromProto(await this.call<ProtoMessage>('MessageService', 'RecallMessage', { session, messageId }, messageAffinity(messageId)));
  }

  async editMessage(session: Session, messageId: string, content: string): Promise<Message> {
    return messageFromProto(await this.call<ProtoMessage>('MessageService', 'EditMessage', { session, messageId, content }, messageAffinity(messageId)));
  }

  async setReaction(session: Session, messageId: string, emoji: string, add: boolean): Promise<Message> {
    return messageFromProto(await this.call<ProtoMessage>('MessageService', 'SetReaction', { session, messageId, emoji, add }, messageAffinity(messageId)));
  }

  async typing(session: Session, conversationId: string, typing: boolean): Promise<void> {
    await this.call('MessageService', 'Typing', { session, conversationId, typing });
  }

  async listReactions(session: Session, messageId: string, query: ReactionsPageQuery): Promise<{ reactors: Reactor[]; pagination: Pagination }> {
    return this.call('MessageService', 'ListReactions', { session, messageId, ...query });
  }

  async getChanges(session: Session, conversationId: string, afterChange: number, size: number): Promise<{ items: ChangeItem[]; pagination: Pagination }> {
    const page = await this.call<{ itemsJson: string; pagination: Pagination }>('ConversationService', 'GetChanges', { session, conversationId, afterChange, size });
    return { items: JSON.parse(page.itemsJson) as ChangeItem[], pagination: page.pagination };
  }

  /**
   * A conversation's sends go to the instance its id hashes to (while that one is up): one
   * sender's messages then get seqIds in the order they were sent, commits batch per
   * conversation, and deliveries leave in seqId order. Correctness does not depend on it.
   */
  sendMessage(session: Session, payload: SendMessagePayload, connId?: string): Promise<MessageAck> {
    let fields: ReturnType<typeof sendToProto>;
    try {
      fields = sendToProto(payload);
    } catch (err) {
      return Promise.reject(err);
    }
    const request: QueuedSend['request'] = { session, ...fields, ...(connId !== undefined ? { connId } : {}) };
    const primary = sendInstanceOf(payload.conversationId, this.clients.length);
    this.inFlight++;
    return new Promise<MessageAck>((resolve, reject) => {
      let queue = this.queuedSends.get(primary);
      if (!queue) this.queuedSends.set(primary, (queue = []));
      queue.push({ request, bytes: SEND_OVERHEAD_BYTES + 3 * (payload.content.length + (request.extraJson?.length ?? 0)), started: performance.now(), resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // After the I/O phase: every frame read in this turn is in the queue by then.
        setImmediate(() => this.flushSends());
      }
    });
  }

  private flushSends(): void {
    this.flushScheduled = false;
    const queued = [...this.queuedSends];
    this.queuedSends.clear();
    for (const [primary, queue] of queued) for (const batch of batches(queue)) this.sendBatch(primary, batch);
  }

  /**
   * Sends a stream left unanswered, again as SendMessages calls that fail over: each to its own
   * conversation's instance first, in batches of the usual bounds (a draining instance can leave
   * more than one call may carry), one call at a time.
   */
  private resend(sends: readonly QueuedSend[]): void {
    const byPrimary = new Map<number, QueuedSend[]>();
    for (const send of sends) {
      const primary = sendInstanceOf(send.request.conversationId, this.clients.length);
      let list = byPrimary.get(primary);
      if (!list) byPrimary.set(primary, (list = []));
      list.push(send);
    }
    // One call after the other per instance: a sender's messages keep the order they were sent in.
    for (const [primary, list] of byPrimary) {
      void (async () => {
        for (const batch of batches(list)) await this.sendBatchUnary(primary, batch);
      })();
    }
  }

  /**
   * A batch goes on the send stream of the first healthy instance from its primary. Instances
   * that answered the stream UNIMPLEMENTED (older than this gateway) get SendMessages calls.
   */
  private sendBatch(primary: number, batch: QueuedSend[]): void {
    if (this.closed) return void this.sendBatchUnary(primary, batch); // answers SERVICE_UNAVAILABLE
    const instance = this.candidateIndexes(primary)[0]!;
    if (this.streamless.has(instance)) return void this.sendBatchUnary(primary, batch);
    let stream = this.streams[instance];
    if (!stream) {
      stream = new SendStream<QueuedSend>(this.clients[instance]!, () => this.metadata(), this.config.timeoutMs, {
        outcome: (send, outcome) => this.finish(send, outcomeError(outcome), outcome.ack ?? null),
        broken: (sends, code) => {
          if (code === grpc.status.UNIMPLEMENTED) this.streamless.add(instance);
          // Unanswered: maybe stored, maybe never read. Sent again by unary calls, which fail over.
          this.resend(sends);
        },
      });
      this.streams[instance] = stream;
    }
    // A stream whose instance is not keeping up (it stops reading past its bound) holds no more:
    // the overflow goes as calls of its own, which HTTP/2 flow control and deadlines bound.
    if (!stream.write(batch)) void this.sendBatchUnary(primary, batch);
  }

  /** One SendMessages call, failing over like any call; each send settles with its own outcome. */
  private async sendBatchUnary(primary: number, batch: readonly QueuedSend[]): Promise<void> {
    if (this.closed) {
      for (const send of batch) this.finish(send, new AppError('SERVICE_UNAVAILABLE', 'The gateway is shutting down'), null);
      return;
    }
    const started = performance.now();
    const definition = methodDefinition('MessageService', 'SendMessages');
    let failure: AppError | null = null;
    let outcomes: SendOutcome[] | null = null;
    try {
      for (const client of this.candidatesFrom(primary)) {
        try {
          ({ outcomes } = await this.unary<{ outcomes: SendOutcome[] }>(client, definition, { sends: batch.map((send) => send.request) }));
          break;
        } catch (err) {
          const status = err as grpc.ServiceError;
          if (status.code === grpc.status.UNAVAILABLE) continue;
          if (status.code === grpc.status.UNIMPLEMENTED) return this.sendOneByOne(batch); // a logic instance older than this gateway
          failure = fromStatus(status) ?? new AppError(status.code === grpc.status.DEADLINE_EXCEEDED ? 'SERVICE_UNAVAILABLE' : 'INTERNAL_ERROR', undefined, undefined, { cause: err });
          break;
        }
      }
    } catch (err) {
      failure = new AppError('INTERNAL_ERROR', undefined, undefined, { cause: err });
    }
    if (!outcomes && !failure) failure = new AppError('SERVICE_UNAVAILABLE', 'No logic instance is reachable');
    this.observe(SEND_MESSAGES, (performance.now() - started) / 1000, failure ? failure.code : 'ok');
    batch.forEach((send, i) => {
      const outcome = outcomes?.[i];
      this.finish(send, failure ?? (outcome ? outcomeError(outcome) : NO_OUTCOME()), outcome?.ack ?? null);
    });
  }

  /** Settles one send: reported as a SendMessage call, then resolved with its ack or rejected. */
  private finish(send: QueuedSend, error: AppError | null, ack: MessageAck | null): void {
    this.observe(SEND_MESSAGE, (performance.now() - send.started) / 1000, error ? error.code : 'ok');
    if (error) send.reject(error);
    else send.resolve(ack!);
    this.settled();
  }

  private sendOneByOne(batch: readonly QueuedSend[]): void {
    for (const send of batch) {
      this.call<MessageAck>('MessageService', 'SendMessage', send.request, `conversation:${send.request.conversationId}`).then(send.resolve, send.reject).finally(() => this.settled());
    }
  }

  private settled(): void {
    if (--this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
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
    this.closed = true;
    for (const stream of this.streams) stream?.close();
    for (const client of this.clients) client.close();
  }
}
