/**
 * The in-process LogicApi: auth, conversations, groups, messages and read pointers.
 * It sees only the Repo and Bus interfaces; the composition root picks their implementations.
 */
import { randomInt } from 'node:crypto';
import { AppError } from '../protocol/index.js';
import type {
  AuthResult,
  Conversation,
  Group,
  GroupMember,
  HistoryQuery,
  MessageAck,
  Pagination,
  ReadResult,
  SendMessagePayload,
  User,
} from '../protocol/index.js';
import type { AppendResult, Repo } from '../repo/index.js';
import type { Bus, Delivery } from '../bus/index.js';
import type { ClientInfo, Credentials, HistoryJsonResult, HistoryResult, LogicApi, Session } from './api.js';
import { MembershipCache } from './membership-cache.js';
import { GuestExpiry, type GuestExpiryConfig } from './guest-expiry.js';
import { MessageWriter, type PendingSend } from './message-writer.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { RateLimiter, type RateRule } from './rate-limiter.js';
import { TokenService } from './tokens.js';
import { checkContent } from './content.js';

export interface LogicConfig {
  jwtSecret: string;
  tokenTtlSeconds: number;
  scryptCost: number;
  maxContentChars: number;
  worldRoom: boolean;
  maxGroupMembers: number;
  /** Commit pacing under a steady stream of sends (MessageWriter); 0 turns it off. */
  commitWindowMs: number;
  /** Inactive guests expire (absent: never). */
  guestExpiry?: GuestExpiryConfig;
  limits: {
    sendPerUser: RateRule;
    loginPerUsername: RateRule;
    loginPerIp: RateRule;
    registerPerIp: RateRule;
    guestPerIp: RateRule;
  };
}

export interface LogicLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Hashing a password nobody has keeps a login for an unknown name as slow as a wrong password. */
const DUMMY_HASH_PASSWORD = 'gochat-dummy-password';

export class Logic implements LogicApi {
  private readonly tokens: TokenService;
  private readonly membership: MembershipCache;
  private readonly guestExpiry: GuestExpiry;
  private readonly writer: MessageWriter;
  private readonly sendLimiter: RateLimiter;
  private readonly loginByName: RateLimiter;
  private readonly loginByIp: RateLimiter;
  private readonly registerByIp: RateLimiter;
  private readonly guestByIp: RateLimiter;
  private dummyHash: Promise<string> | null = null;

  constructor(
    private readonly config: LogicConfig,
    private readonly repo: Repo,
    private readonly bus: Bus,
    private readonly log: LogicLogger,
  ) {
    this.tokens = new TokenService(config.jwtSecret, config.tokenTtlSeconds);
    this.membership = new MembershipCache(repo);
    this.guestExpiry = new GuestExpiry(
      config.guestExpiry ?? { ttlSeconds: 0, sweepIntervalMs: 60_000, sweepBatch: 500 },
      repo,
      bus,
      (userIds) => this.membership.worldMembersLeft(userIds),
      log,
    );
    this.writer = new MessageWriter(repo, (sends, results) => this.publishCommitted(sends, results), { commitWindowMs: config.commitWindowMs });
    this.sendLimiter = new RateLimiter(config.limits.sendPerUser);
    this.loginByName = new RateLimiter(config.limits.loginPerUsername);
    this.loginByIp = new RateLimiter(config.limits.loginPerIp);
    this.registerByIp = new RateLimiter(config.limits.registerPerIp);
    this.guestByIp = new RateLimiter(config.limits.guestPerIp);
  }

  // ---- auth ----

  async register(input: Credentials, client: ClientInfo): Promise<User> {
    this.registerByIp.hit(client.ip);
    const passwordHash = await hashPassword(input.password, this.config.scryptCost);
    const user = await this.repo.createUser({ username: input.username.normalize('NFC'), passwordHash, isGuest: false });
    await this.joinWorld(user.userId);
    return user;
  }

  async login(input: Credentials, client: ClientInfo): Promise<AuthResult> {
    this.loginByIp.hit(client.ip);
    // Per username *and* IP: guessing from one address is slowed, while an attacker elsewhere
    // cannot lock the account's owner out. The per-IP limit above bounds each address overall.
    const nameKey = `${input.username.normalize('NFC').toLowerCase()}\n${client.ip}`;
    this.loginByName.hit(nameKey);
    const record = await this.repo.findUserByUsername(input.username);
    const valid = record
      ? await verifyPassword(input.password, record.passwordHash)
      : await verifyPassword(input.password, await this.getDummyHash()).then(() => false);
    if (!record || !valid || record.isGuest) throw new AppError('INVALID_CREDENTIALS');
    this.loginByName.reset(nameKey);
    const { passwordHash: _hash, ...user } = record;
    return { ...(await this.tokens.issue(user)), user };
  }

  async guest(input: { guestName?: string }, client: ClientInfo): Promise<AuthResult> {
    this.guestByIp.hit(client.ip);
    const base = input.guestName?.normalize('NFC') ?? `guest_${randomInt(100_000, 1_000_000)}`;
    const user = await this.createGuest(base);
    await this.joinWorld(user.userId);
    return { ...(await this.tokens.issue(user)), user };
  }

  /** Guests get a real, unique username: the wished-for one, or it with a random suffix. */
  private async createGuest(base: string): Promise<User> {
    // Unusable hash: a guest can never log in with a password.
    const passwordHash = 'guest';
    for (let attempt = 0; attempt < 8; attempt++) {
      const suffix = attempt === 0 ? '' : `-${randomInt(1000, 10_000_000)}`;
      const username = base.slice(0, 32 - suffix.length) + suffix;
      try {
        return await this.repo.createUser({ username, passwordHash, isGuest: true });
      } catch (err) {
        if (!(err instanceof AppError && err.code === 'USERNAME_TAKEN')) throw err;
      }
    }
    throw new AppError('USERNAME_TAKEN', 'Could not find a free guest name; try another');
  }

  private async joinWorld(userId: string): Promise<void> {
    if (!this.config.worldRoom) return;
    const conversationId = await this.repo.joinWorld(userId);
    // One id added, not a reload of every member.
    this.membership.memberJoined(conversationId, userId);
  }

  private getDummyHash(): Promise<string> {
    this.dummyHash ??= hashPassword(DUMMY_HASH_PASSWORD, this.config.scryptCost);
    return this.dummyHash;
  }

  async authenticate(token: string): Promise<Session> {
    if (!token) throw new AppError('UNAUTHORIZED', 'Missing token');
    const claims = await this.tokens.verify(token);
    if (await this.repo.isTokenRevoked(claims.jti)) throw new AppError('TOKEN_REVOKED');
    if (claims.isGuest) await this.guestExpiry.touch(claims.userId);
    return claims;
  }

  async logout(session: Session): Promise<void> {
    await this.repo.revokeToken(session.jti, session.expiresAt);
    await this.bus.publish({ kind: 'revoke', userId: session.userId, jti: session.jti });
  }

  async getUserInfo(session: Session): Promise<User> {
    const [user] = await this.repo.getUsers([session.userId]);
    if (!user) throw new AppError('USER_NOT_FOUND');
    return user;
  }

  async findUserByUsername(_session: Session, username: string): Promise<User> {
    const record = await this.repo.findUserByUsername(username);
    if (!record) throw new AppError('USER_NOT_FOUND', `No user named "${username}"`);
    const { passwordHash: _hash, ...user } = record;
    return user;
  }

  // ---- conversations ----

  listConversations(session: Session): Promise<Conversation[]> {
    return this.repo.listConversations(session.userId);
  }

  async openSingleConversation(session: Session, targetUserId: string): Promise<{ conversation: Conversation; created: boolean }> {
    if (targetUserId === session.userId) {
      throw new AppError('VALIDATION_ERROR', 'targetUserId: cannot start a conversation with yourself', { field: 'targetUserId' });
    }
    const [target] = await this.repo.getUsers([targetUserId]);
    if (!target) throw new AppError('USER_NOT_FOUND', `User ${targetUserId} not found`, { userIds: [targetUserId] });
    const { conversationId, created } = await this.repo.getOrCreateSingleConversation(session.userId, target.userId);
    const conversation = await this.repo.getConversation(conversationId, session.userId);
    if (!conversation) throw new AppError('INTERNAL_ERROR');
    return { conversation, created };
  }

  /** Throws CONVERSATION_NOT_FOUND or NOT_CONVERSATION_MEMBER unless `userId` may use the conversation. */
  private async requireMember(conversationId: string, userId: string) {
    const membership = await this.membership.forMember(conversationId, userId);
    if (!membership) throw new AppError('CONVERSATION_NOT_FOUND');
    if (!membership.isMember) throw new AppError('NOT_CONVERSATION_MEMBER');
    return membership;
  }

  async getMessages(session: Session, conversationId: string, query: HistoryQuery): Promise<HistoryResult> {
    await this.requireMember(conversationId, session.userId);
    const page = await this.repo.getMessages(conversationId, query);
    return { messages: page.messages, pagination: pagination(query, page) };
  }

  async getMessagesJson(session: Session, conversationId: string, query: HistoryQuery): Promise<HistoryJsonResult> {
    await this.requireMember(conversationId, session.userId);
    const page = await this.repo.getMessagesJson(conversationId, query);
    return { json: page.json, pagination: pagination(query, page) };
  }

  async markRead(session: Session, conversationId: string): Promise<ReadResult> {
    await this.requireMember(conversationId, session.userId);
    return this.repo.markRead(conversationId, session.userId);
  }

  // ---- groups ----

  async createGroup(session: Session, input: { groupName: string; members: string[] }) {
    if (session.isGuest) throw new AppError('FORBIDDEN', 'Guests cannot create groups');
    const name = input.groupName.trim();
    if (name.length === 0) throw new AppError('VALIDATION_ERROR', 'groupName: must not be blank', { field: 'groupName' });
    const memberIds = [...new Set(input.members)].filter((id) => id !== session.userId);
    if (memberIds.length + 1 > this.config.maxGroupMembers) {
      throw new AppError('VALIDATION_ERROR', `members: a group has at most ${this.config.maxGroupMembers} members`, {
        field: 'members',
      });
    }
    const found = new Set((await this.repo.getUsers(memberIds)).map((u) => u.userId));
    const missing = memberIds.filter((id) => !found.has(id));
    if (missing.length > 0) {
      throw new AppError('USER_NOT_FOUND', `Unknown user ids: ${missing.join(', ')}`, { userIds: missing });
    }
    const { groupId, conversationId } = await this.repo.createGroup({ ownerId: session.userId, name, memberIds });
    const [group, conversation] = await Promise.all([
      this.repo.getGroup(groupId),
      this.repo.getConversation(conversationId, session.userId),
    ]);
    if (!group || !conversation) throw new AppError('INTERNAL_ERROR');
    return { group, conversation };
  }

  async getGroup(session: Session, groupId: string): Promise<{ group: Group; members: GroupMember[] }> {
    const group = await this.repo.getGroup(groupId);
    if (!group) throw new AppError('GROUP_NOT_FOUND');
    await this.requireMember(group.conversationId, session.userId);
    return { group, members: await this.repo.getGroupMembers(groupId) };
  }

  // ---- messages ----

  async sendMessage(session: Session, payload: SendMessagePayload, connId?: string): Promise<MessageAck> {
    checkContent(payload.content, this.config.maxContentChars);
    const membership = await this.requireMember(payload.conversationId, session.userId);
    this.sendLimiter.hit(session.userId);
    const send: PendingSend = {
      message: {
        conversationId: membership.info.conversationId,
        senderId: session.userId,
        senderName: session.username,
        tempMessageId: payload.tempMessageId,
        content: payload.content,
        messageType: payload.messageType ?? 'text',
        sendTime: Date.now(),
      },
      recipients: membership.recipients,
    };
    if (connId !== undefined) send.connId = connId;
    const { message } = await this.writer.submit(send);
    return {
      tempMessageId: payload.tempMessageId,
      messageId: message.messageId,
      conversationId: message.conversationId,
      seqId: message.seqId,
      sendTime: message.sendTime,
    };
  }

  /** Runs right after a batch commits, in seq order: each new message is serialized once and published. */
  private publishCommitted(sends: readonly PendingSend[], results: readonly AppendResult[]): void {
    sends.forEach((send, i) => {
      const result = results[i];
      if (!result || result.duplicate) return; // a resend was delivered the first time
      const { message } = result;
      const common = {
        conversationId: message.conversationId,
        seqId: message.seqId,
        // The store serialized the message once; every recipient gets these bytes.
        frame: `{"type":"new-message","data":${result.json}}`,
        ...(send.connId !== undefined ? { excludeConnId: send.connId } : {}),
      };
      // The world room: one broadcast to every connection, no member list.
      const delivery: Delivery =
        send.recipients === 'all-connected' ? { kind: 'broadcast', ...common } : { kind: 'message', recipients: send.recipients, ...common };
      this.bus.publish(delivery).catch((err: unknown) => this.log.error({ err, conversationId: message.conversationId }, 'delivery publish failed'));
    });
  }

  async ready(): Promise<void> {
    await this.repo.ping();
  }

  /** Starts the periodic expiry of inactive guests (the composition root calls it once). */
  startGuestExpiry(): void {
    this.guestExpiry.start();
  }

  /** Stops the guest sweep and commits everything accepted so far (graceful shutdown). */
  async drain(): Promise<void> {
    await this.guestExpiry.stop();
    await this.writer.drain();
  }
}

/** The contract's pagination block for a history page. */
function pagination(query: HistoryQuery, page: { total: number; hasMore: boolean }): Pagination {
  return { page: query.kind === 'page' ? query.page : 1, size: query.size, total: page.total, hasMore: page.hasMore };
}
