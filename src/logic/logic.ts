/**
 * The in-process LogicApi: auth, conversations, groups, messages and read pointers.
 * It sees only the Repo and Bus interfaces; the composition root picks their implementations.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { AppError, encodeServerFrame, LIMITS } from '../protocol/index.js';
import type {
  AuthResult,
  ChangeItem,
  Conversation,
  ConversationPageQuery,
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
  ReplySnapshot,
  SendMessagePayload,
  User,
} from '../protocol/index.js';
import type { GroupChangeResult, MessageChangeResult, MessageEdit, Repo, StoredAppend } from '../repo/index.js';
import type { AttachedFrame, Bus, Delivery } from '../bus/index.js';
import { decideGroupChange, type GroupOperation } from './group-rules.js';
import { checkExtra, decideMessageChange, normalizeReaction, previewOf, type MessageRulesConfig } from './message-rules.js';
import type { ClientInfo, ConversationPageResult, Credentials, HistoryResult, LogicApi, MembersQuery, ReactionsPageQuery, Session } from './api.js';
import { MembershipCache } from './membership-cache.js';
import { GuestExpiry, type GuestExpiryConfig } from './guest-expiry.js';
import { MessageWriter, type PendingSend } from './message-writer.js';
import { ReadMarks } from './read-marks.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { RateLimiter, type RateRule } from '../limits/rate-limiter.js';
import { TokenService } from './tokens.js';
import { checkContent } from './content.js';
import { KdfGate, type KdfGateConfig } from './kdf-gate.js';
import { checkUsername, cutGuestName, normalizeUsername, usernameSkeleton } from './identifiers.js';
import { decodeConversationCursor, encodeConversationCursor, MAX_CURSOR_PAGE } from './conversation-cursor.js';

export interface LogicConfig {
  jwtSecret: string;
  tokenTtlSeconds: number;
  scryptCost: number;
  maxContentChars: number;
  worldRoom: boolean;
  maxGroupMembers: number;
  /** Commit pacing under a steady stream of sends (MessageWriter); 0 turns it off. */
  commitWindowMs: number;
  /** Typing indicators go to conversations of at most this many members (0: none). */
  typingMaxMembers: number;
  /** Recall and edit windows, reactions per message (logic/message-rules.ts). */
  messageActions: MessageRulesConfig;
  /** Inactive guests expire (absent: never). */
  guestExpiry?: GuestExpiryConfig;
  limits: {
    sendPerUser: RateRule;
    sendPerGuest: RateRule;
    sendBytesPerUser: RateRule;
    sendBytesPerGuest: RateRule;
    loginPerUsername: RateRule;
    loginPerIp: RateRule;
    registerPerIp: RateRule;
    guestPerIp: RateRule;
    groupsPerUser: RateRule;
    membersAddedPerUser: RateRule;
    lookupsPerUser: RateRule;
    lookupsPerGuest: RateRule;
  };
  /** Password hashes for registrations and for logins, each bounded on its own. */
  kdf: { register: KdfGateConfig; login: KdfGateConfig };
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
  private readonly readMarks: ReadMarks;
  private readonly sendsByUser: RateLimiter;
  private readonly sendsByGuest: RateLimiter;
  private readonly sendBytesByUser: RateLimiter;
  private readonly sendBytesByGuest: RateLimiter;
  private readonly loginByName: RateLimiter;
  private readonly loginByIp: RateLimiter;
  private readonly registerByIp: RateLimiter;
  private readonly guestByIp: RateLimiter;
  private readonly groupsByUser: RateLimiter;
  private readonly membersAddedByUser: RateLimiter;
  private readonly lookupsByUser: RateLimiter;
  private readonly lookupsByGuest: RateLimiter;
  private readonly registerKdf: KdfGate;
  private readonly loginKdf: KdfGate;
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
    this.writer = new MessageWriter(repo, (sends, results) => this.publishCommitted(sends, results), {
      commitWindowMs: config.commitWindowMs,
      revalidate: (sends) => this.revalidateSends(sends),
    });
    this.readMarks = new ReadMarks(repo);
    this.sendsByUser = new RateLimiter(config.limits.sendPerUser);
    this.sendsByGuest = new RateLimiter(config.limits.sendPerGuest);
    this.sendBytesByUser = new RateLimiter(config.limits.sendBytesPerUser);
    this.sendBytesByGuest = new RateLimiter(config.limits.sendBytesPerGuest);
    this.loginByName = new RateLimiter(config.limits.loginPerUsername);
    this.loginByIp = new RateLimiter(config.limits.loginPerIp);
    this.registerByIp = new RateLimiter(config.limits.registerPerIp);
    this.guestByIp = new RateLimiter(config.limits.guestPerIp);
    this.groupsByUser = new RateLimiter(config.limits.groupsPerUser);
    this.membersAddedByUser = new RateLimiter(config.limits.membersAddedPerUser);
    this.lookupsByUser = new RateLimiter(config.limits.lookupsPerUser);
    this.lookupsByGuest = new RateLimiter(config.limits.lookupsPerGuest);
    this.registerKdf = new KdfGate(config.kdf.register, 'registrations');
    this.loginKdf = new KdfGate(config.kdf.login, 'logins');
  }

  /** Fills the confusable skeleton of accounts made before skeletons existed (migration 4). */
  async start(): Promise<void> {
    try {
      await this.repo.backfillUsernameSkeletons(usernameSkeleton);
    } catch (err) {
      // A store that cannot serve (a damaged file) still starts, unready, so /readyz can say so.
      this.log.warn({ err }, 'username skeleton backfill failed; retried at the next start');
    }
  }

  // ---- auth ----

  async register(input: Credentials, client: ClientInfo): Promise<User> {
    this.registerByIp.hit(client.ip);
    const username = acceptableName(input.username, 'username');
    const passwordHash = await this.registerKdf.run(() => hashPassword(input.password, this.config.scryptCost));
    const user = await this.repo.createUser({ username, usernameSkeleton: usernameSkeleton(username), passwordHash, isGuest: false, accountKey: newAccountKey() });
    await this.joinWorld(user.userId);
    return user;
  }

  async login(input: Credentials, client: ClientInfo): Promise<AuthResult> {
    this.loginByIp.hit(client.ip);
    const username = normalizeUsername(input.username);
    // Per username *and* IP: guessing from one address is slowed, while an attacker elsewhere
    // cannot lock the account's owner out. The per-IP limit above bounds each address overall.
    const nameKey = `${username.toLowerCase()}\n${client.ip}`;
    this.loginByName.hit(nameKey);
    const record = await this.repo.findUserByUsername(username);
    // Unknown names and guests (who have no password) cost a hash too: the answer's timing must
    // not tell which names exist or belong to guests.
    const usable = record !== null && !record.isGuest;
    const valid = await this.loginKdf.run(async () =>
      usable
        ? verifyPassword(input.password, record.passwordHash)
        : verifyPassword(input.password, await this.getDummyHash()).then(() => false),
    );
    if (!usable || !valid) throw new AppError('INVALID_CREDENTIALS');
    this.loginByName.reset(nameKey);
    const { passwordHash: _hash, accountKey, ...user } = record;
    return { ...(await this.tokens.issue({ ...user, accountKey })), user };
  }

  async guest(input: { guestName?: string }, client: ClientInfo): Promise<AuthResult> {
    this.guestByIp.hit(client.ip);
    const base = input.guestName === undefined ? `guest_${randomInt(100_000, 1_000_000)}` : acceptableName(input.guestName, 'guestName');
    const accountKey = newAccountKey();
    const user = await this.createGuest(base, accountKey);
    this.guestExpiry.created(user.userId);
    await this.joinWorld(user.userId);
    return { ...(await this.tokens.issue({ ...user, accountKey })), user };
  }

  /** Guests get a real, unique username: the wished-for one, or it with a random suffix. */
  private async createGuest(base: string, accountKey: string): Promise<User> {
    // Unusable hash: a guest can never log in with a password.
    const passwordHash = 'guest';
    for (let attempt = 0; attempt < 8; attempt++) {
      const suffix = attempt === 0 ? '' : `-${randomInt(1000, 10_000_000)}`;
      // Cut by grapheme: never inside a surrogate pair or an emoji sequence.
      const username = cutGuestName(base, 32, suffix) + suffix;
      try {
        return await this.repo.createUser({ username, usernameSkeleton: usernameSkeleton(username), passwordHash, isGuest: true, accountKey });
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
    // The token must name an account that exists *and* is the one it was issued to: after a
    // restore or a new database the same id may belong to someone else, whose key differs.
    const account = await this.repo.getAccountAuth(claims.userId, claims.jti);
    if (!account) throw new AppError('UNAUTHORIZED', 'Token does not match an account');
    // A cleared key is an expired guest: every token of theirs is revoked (docs/protocol.md).
    if (account.accountKey === '' || account.revoked) throw new AppError('TOKEN_REVOKED');
    if (account.accountKey !== claims.accountKey) throw new AppError('UNAUTHORIZED', 'Token does not match an account');
    if (claims.isGuest) await this.guestExpiry.touch(claims.userId);
    const { userId, username, isGuest, jti, expiresAt } = claims;
    return { userId, username, isGuest, jti, expiresAt };
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

  async findUserByUsername(session: Session, username: string): Promise<User> {
    this.countLookup(session);
    const record = await this.repo.findUserByUsername(normalizeUsername(username));
    if (!record) throw new AppError('USER_NOT_FOUND', `No user named "${username}"`);
    const { passwordHash: _hash, accountKey: _key, ...user } = record;
    return user;
  }

  /**
   * Looking people up by id or name is bounded per user (tighter for guests): ids are sequential,
   * and a loop over them would list every username.
   */
  private countLookup(session: Session): void {
    (session.isGuest ? this.lookupsByGuest : this.lookupsByUser).hit(session.userId);
  }

  // ---- conversations ----

  listConversations(session: Session, options: { includeHidden?: boolean } = {}): Promise<Conversation[]> {
    return this.repo.listConversations(session.userId, options);
  }

  async updateSettings(session: Session, conversationId: string, patch: Partial<ConversationSettings>): Promise<Conversation> {
    if (patch.muted === undefined && patch.pinned === undefined && patch.hidden === undefined) {
      throw new AppError('VALIDATION_ERROR', 'at least one of muted, pinned, hidden', { field: 'muted' });
    }
    // A write and a publish each: counted like a send, so a loop of toggles is bounded too.
    (session.isGuest ? this.sendsByGuest : this.sendsByUser).hit(session.userId);
    // Checked in the store for every type (a removed member has no settings to change).
    const change = {
      ...(patch.muted !== undefined ? { muted: patch.muted } : {}),
      ...(patch.pinned !== undefined ? { pinnedAt: patch.pinned ? Date.now() : null } : {}),
      ...(patch.hidden !== undefined ? { hidden: patch.hidden } : {}),
    };
    if (!(await this.repo.updateSettings(conversationId, session.userId, change))) {
      if (!(await this.repo.getConversationInfo(conversationId))) throw new AppError('CONVERSATION_NOT_FOUND');
      throw new AppError('NOT_CONVERSATION_MEMBER');
    }
    const conversation = await this.getConversation(session, conversationId);
    // Settings are the user's own: only its devices hear of them.
    const frame = encodeServerFrame({ type: 'conversation-settings', data: { conversationId, settings: conversation.settings } });
    this.bus
      .publish({ kind: 'frames', recipients: [session.userId], frame })
      .catch((err: unknown) => this.log.error({ err, conversationId }, 'conversation-settings publish failed'));
    return conversation;
  }

  async listConversationsPage(session: Session, query: ConversationPageQuery): Promise<ConversationPageResult> {
    const { limit } = query;
    if (!Number.isInteger(limit) || limit < 1 || limit > LIMITS.pageSizeMax) {
      throw new AppError('VALIDATION_ERROR', `limit: must be an integer from 1 to ${LIMITS.pageSizeMax}`, { field: 'limit' });
    }
    const cursor = query.cursor === undefined ? null : decodeConversationCursor(query.cursor);
    const page = await this.repo.listConversationsPage(session.userId, { limit, after: cursor?.after ?? null });
    const number = cursor?.page ?? 1;
    const last = page.conversations.at(-1);
    const nextCursor =
      page.hasMore && last
        ? encodeConversationCursor({
            page: Math.min(number + 1, MAX_CURSOR_PAGE),
            // updatedAt is the row's millisecond instant in ISO form: Date.parse gives it back exactly.
            after: { pinned: last.settings.pinned, updatedAt: Date.parse(last.updatedAt), conversationId: last.conversationId },
          })
        : null;
    return {
      conversations: page.conversations,
      pagination: { page: number, size: limit, total: page.total, hasMore: page.hasMore, nextCursor },
    };
  }

  async openSingleConversation(session: Session, targetUserId: string): Promise<{ conversation: Conversation; created: boolean }> {
    if (targetUserId === session.userId) {
      throw new AppError('VALIDATION_ERROR', 'targetUserId: cannot start a conversation with yourself', { field: 'targetUserId' });
    }
    this.countLookup(session);
    const [target] = await this.repo.getUsers([targetUserId]);
    if (!target) throw new AppError('USER_NOT_FOUND', `User ${targetUserId} not found`, { userIds: [targetUserId] });
    const { conversationId, created } = await this.repo.getOrCreateSingleConversation(session.userId, target.userId);
    const conversation = await this.repo.getConversation(conversationId, session.userId);
    if (!conversation) throw new AppError('INTERNAL_ERROR');
    if (created) {
      // Both people's devices learn of it now, each with its own view (the peer is the other one).
      await this.announceConversation([session.userId], conversation);
      const theirs = await this.repo.getConversation(conversationId, target.userId);
      if (theirs) await this.announceConversation([target.userId], theirs);
    }
    return { conversation, created };
  }

  /** Throws CONVERSATION_NOT_FOUND or NOT_CONVERSATION_MEMBER unless `userId` may use the conversation. */
  private async requireMember(conversationId: string, userId: string) {
    let membership = await this.membership.forMember(conversationId, userId);
    if (!membership) throw new AppError('CONVERSATION_NOT_FOUND');
    if (!membership.isMember && membership.info.type === 'group' && (await this.repo.isMember(conversationId, userId))) {
      // Added through another logic process since this cache loaded the group: its sends would
      // never reach the commit's version check, so nothing else would correct the cache.
      this.membership.refresh(conversationId);
      membership = await this.membership.forMember(conversationId, userId);
      if (!membership) throw new AppError('CONVERSATION_NOT_FOUND');
    }
    if (!membership.isMember) throw new AppError('NOT_CONVERSATION_MEMBER');
    return membership;
  }

  async getConversation(session: Session, conversationId: string): Promise<Conversation> {
    // From the store, not the send path's cache: the answer is the member's row as it is now.
    const conversation = await this.repo.getConversation(conversationId, session.userId);
    if (conversation) return conversation;
    if (!(await this.repo.getConversationInfo(conversationId))) throw new AppError('CONVERSATION_NOT_FOUND');
    throw new AppError('NOT_CONVERSATION_MEMBER');
  }

  async listMembers(session: Session, conversationId: string, query: MembersQuery): Promise<{ members: GroupMember[]; pagination: Pagination }> {
    if (!Number.isInteger(query.page) || query.page < 1) throw new AppError('VALIDATION_ERROR', 'page: must be an integer from 1', { field: 'page' });
    if (!Number.isInteger(query.size) || query.size < 1 || query.size > LIMITS.pageSizeMax) {
      throw new AppError('VALIDATION_ERROR', `size: must be an integer from 1 to ${LIMITS.pageSizeMax}`, { field: 'size' });
    }
    const info = await this.repo.getConversationInfo(conversationId);
    if (!info) throw new AppError('CONVERSATION_NOT_FOUND');
    if (!(await this.repo.isMember(conversationId, session.userId))) throw new AppError('NOT_CONVERSATION_MEMBER');
    if (info.type !== 'group') throw new AppError('NOT_GROUP_CONVERSATION');
    const { members, total } = await this.repo.listMembersPage(conversationId, query);
    return { members, pagination: { page: query.page, size: query.size, total, hasMore: query.page * query.size < total } };
  }

  async listGroups(session: Session): Promise<MyGroup[]> {
    return this.repo.listGroups(session.userId);
  }

  /**
   * The send path's cache answers for 1:1s and the world; a group's member set changes, and another
   * logic instance may have changed it, so a read of a group asks the store (one key probe): a
   * removed member reads nothing new, whichever instance it asks.
   */
  private async requireReader(conversationId: string, userId: string) {
    const membership = await this.requireMember(conversationId, userId);
    if (membership.info.type === 'group' && !(await this.repo.isMember(conversationId, userId))) {
      this.membership.refresh(conversationId);
      throw new AppError('NOT_CONVERSATION_MEMBER');
    }
    return membership;
  }

  async getMessages(session: Session, conversationId: string, query: HistoryQuery): Promise<HistoryResult> {
    await this.requireReader(conversationId, session.userId);
    const page = await this.repo.getMessages(conversationId, query, session.userId);
    return { messages: page.messages, pagination: pagination(query, page) };
  }

  async markRead(session: Session, conversationId: string, seqId?: number): Promise<ReadResult> {
    if (seqId !== undefined && (!Number.isSafeInteger(seqId) || seqId < 0)) throw new AppError('VALIDATION_ERROR', 'seqId: must be an integer from 0', { field: 'seqId' });
    const membership = await this.requireReader(conversationId, session.userId);
    const { read, moved, member } = await this.readMarks.mark(conversationId, session.userId, seqId ?? null);
    // Removed between the check and the batch: nothing was written.
    if (!member) throw new AppError('NOT_CONVERSATION_MEMBER');
    if (moved) {
      // The user's own devices only: a read pointer is nobody else's business (receipts are another matter).
      this.bus
        .publish({ kind: 'frames', recipients: [session.userId], frame: encodeServerFrame({ type: 'conversation-read', data: read }) })
        .catch((err: unknown) => this.log.error({ err, conversationId }, 'conversation-read publish failed'));
      // A 1:1's read receipt: the peer sees how far this side has read (docs/protocol.md "Read state").
      const peers = membership.info.type === 'single' && membership.recipients !== 'all-connected' ? membership.recipients.filter((id) => id !== session.userId) : [];
      if (peers.length > 0) {
        const receipt = encodeServerFrame({ type: 'read-receipt', data: { conversationId, userId: session.userId, lastReadSeq: read.lastReadSeq } });
        this.bus
          .publish({ kind: 'frames', recipients: peers, frame: receipt })
          .catch((err: unknown) => this.log.error({ err, conversationId }, 'read-receipt publish failed'));
      }
    }
    return read;
  }

  // ---- groups ----

  async createGroup(session: Session, input: { groupName: string; members: string[] }) {
    if (session.isGuest) throw new AppError('FORBIDDEN', 'Guests cannot create groups');
    this.groupsByUser.hit(session.userId);
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
    // Every member's devices learn of it now: the owner's view, and the one all other members share.
    await this.announceConversation([session.userId], conversation);
    const [firstMember] = memberIds;
    const theirs = firstMember === undefined ? null : await this.repo.getConversation(conversationId, firstMember);
    if (theirs) await this.announceConversation(memberIds, theirs);
    return { group, conversation };
  }

  async getGroup(session: Session, groupId: string): Promise<{ group: Group; members: GroupMember[] }> {
    const group = await this.repo.getGroup(groupId);
    // A non-member is not told whether the group exists. Asked of the store: members change, and
    // another logic process may have changed them.
    if (!group || !(await this.repo.isMember(group.conversationId, session.userId))) {
      throw new AppError('GROUP_NOT_FOUND');
    }
    return { group, members: await this.repo.getGroupMembers(groupId) };
  }

  /** `conversation-added` to every open connection of `userIds` (a conversation created elsewhere). */
  private async announceConversation(userIds: readonly string[], conversation: Conversation): Promise<void> {
    const frame = encodeServerFrame({ type: 'conversation-added', data: conversation });
    await this.bus
      .publish({ kind: 'frames', recipients: userIds, frame })
      .catch((err: unknown) => this.log.error({ err, conversationId: conversation.conversationId }, 'conversation-added publish failed'));
  }

  // ---- group administration ----

  /**
   * The checks every group operation makes before it writes, with reads only (so a stranger's call
   * never takes the store's write lock): the conversation exists, the caller is a member, it is a
   * group. The write checks all of it again under the conversation's lock (`decideGroupChange`).
   */
  private async requireGroupMember(conversationId: string, userId: string): Promise<void> {
    const info = await this.repo.getConversationInfo(conversationId);
    if (!info) throw new AppError('CONVERSATION_NOT_FOUND');
    if (!(await this.repo.isMember(conversationId, userId))) throw new AppError('NOT_CONVERSATION_MEMBER');
    if (info.type !== 'group') throw new AppError('NOT_GROUP_CONVERSATION');
  }

  /**
   * One group change: decided and applied in one store transaction, run in this process's commit
   * order (the writer's queue), then published with the frames that ride on its system message.
   * Each change is a timeline message, so it counts against the caller's send allowance.
   */
  private async changeGroup(session: Session, conversationId: string, operation: GroupOperation): Promise<GroupChangeResult> {
    await this.requireGroupMember(conversationId, session.userId);
    (session.isGuest ? this.sendsByGuest : this.sendsByUser).hit(session.userId);
    return this.writer.submitChange(async () => {
      const result = await this.repo.changeGroup({
        conversationId,
        actorId: session.userId,
        actorName: session.username,
        maxMembers: this.config.maxGroupMembers,
        sendTime: Date.now(),
        decide: (group) => decideGroupChange(group, session.userId, operation),
      });
      // This process's sends see the new member set at once; other processes learn it at their next commit.
      if (result.message) this.membership.refresh(conversationId);
      await this.publishGroupChange(result);
      return result;
    });
  }

  /**
   * The system message to everyone before and after the change, with: `conversation-added` (before
   * it) to the added, `conversation-update` to all, `conversation-removed` (after it) to those who
   * lost the conversation. Handed to the bus before the caller is answered, like a message before its ack.
   */
  private async publishGroupChange(result: GroupChangeResult): Promise<void> {
    const { message } = result;
    if (!message) return;
    const attached: AttachedFrame[] = [];
    const [firstAdded] = result.added;
    if (firstAdded !== undefined) {
      // Every added member sees the same row (its role, its read pointer just before this message).
      // The change is committed: a failed read costs the added their conversation-added frame (the
      // list they fetch shows it), never the caller its answer.
      const view = await this.repo.getConversation(message.conversationId, firstAdded).catch((err: unknown) => {
        this.log.warn({ err, conversationId: message.conversationId }, 'conversation view for the added members failed');
        return null;
      });
      // Settings are each member's own: the shared view carries a new membership's (all off).
      if (view) {
        const shared = { ...view, settings: { muted: false, pinned: false, hidden: false } };
        attached.push({ frame: encodeServerFrame({ type: 'conversation-added', data: shared }), to: result.added, before: true });
      }
    }
    const [first] = result.items;
    const last = result.items.at(-1);
    if (first && last) {
      attached.push({
        frame: encodeServerFrame({
          type: 'conversation-update',
          data: { conversationId: message.conversationId, fromChangeSeq: first.changeSeq, changeSeq: last.changeSeq, items: result.items },
        }),
      });
    }
    if (result.removed.length > 0) {
      const reason = result.disbanded ? 'disbanded' : result.removed.length === 1 && result.removed[0] === message.senderId ? 'left' : 'removed';
      attached.push({
        frame: encodeServerFrame({ type: 'conversation-removed', data: { conversationId: message.conversationId, reason, seqId: message.seqId } }),
        to: result.removed,
      });
    }
    const delivery: Delivery = {
      kind: 'message',
      conversationId: message.conversationId,
      seqId: message.seqId,
      recipients: result.recipients,
      membersSeq: result.membersSeq,
      frame: encodeServerFrame({ type: 'new-message', data: message }),
      attached,
    };
    // Not awaited, like a batch's publishes: the bus takes it in call order, and the writer's queue
    // must not wait on the bus's network.
    this.bus.publish(delivery).catch((err: unknown) => this.log.error({ err, conversationId: message.conversationId }, 'delivery publish failed'));
  }

  async addMembers(session: Session, conversationId: string, userIds: readonly string[]): Promise<GroupMember[]> {
    const ids = [...new Set(userIds)];
    if (ids.length === 0 || ids.length > LIMITS.pageSizeMax) {
      throw new AppError('VALIDATION_ERROR', `members: from 1 to ${LIMITS.pageSizeMax} user ids`, { field: 'members' });
    }
    await this.requireGroupMember(conversationId, session.userId);
    // The role first (checked again under the lock): a plain member learns nothing of which ids exist.
    const me = await this.repo.getMember(conversationId, session.userId);
    if (me?.role === 'member') throw new AppError('FORBIDDEN', 'Only the owner or an admin may add members', { requiredRole: 'admin' });
    // Adding strangers is how spam enters, and the answer tells which ids exist: bounded per caller,
    // counted per user asked for, before any is looked up.
    this.membersAddedByUser.hit(session.userId, Date.now(), ids.length);
    const users = await this.repo.getUsers(ids);
    const found = new Set(users.map((u) => u.userId));
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length > 0) throw new AppError('USER_NOT_FOUND', `Unknown user ids: ${missing.join(', ')}`, { userIds: missing });
    const result = await this.changeGroup(session, conversationId, {
      kind: 'add-members',
      users: users.map((u) => ({ userId: u.userId, username: u.username, isGuest: u.isGuest })),
    });
    const added = new Set(result.added);
    return result.items.flatMap((item) => (item.kind === 'member' && item.member && added.has(item.userId) ? [item.member] : []));
  }

  async removeMember(session: Session, conversationId: string, userId: string): Promise<void> {
    await this.changeGroup(session, conversationId, { kind: 'remove-member', userId });
  }

  async setMemberRole(session: Session, conversationId: string, userId: string, role: GroupRole): Promise<GroupMember> {
    const result = await this.changeGroup(session, conversationId, { kind: 'set-role', userId, role });
    const item = result.items.find((i): i is Extract<ChangeItem, { kind: 'member' }> => i.kind === 'member' && i.userId === userId);
    const member = item?.member ?? (await this.repo.getMember(conversationId, userId));
    if (!member) throw new AppError('MEMBER_NOT_FOUND');
    return member;
  }

  async updateGroup(session: Session, conversationId: string, patch: GroupInfoPatch): Promise<Conversation> {
    // The HTTP schema checks these too; logic checks them for every caller (gRPC included).
    const clean: GroupInfoPatch = {};
    const invalid = (field: string, rule: string) => new AppError('VALIDATION_ERROR', `${field}: ${rule}`, { field });
    if (patch.name !== undefined) {
      const name = patch.name.trim();
      if (name.length === 0) throw invalid('name', 'must not be blank');
      if (patch.name.length > 64 || /\p{Cc}/u.test(patch.name)) throw invalid('name', 'at most 64 characters, no control characters');
      clean.name = name;
    }
    if (patch.avatar !== undefined) {
      if (patch.avatar.length > 1024 || !/^(https?:\/\/\S+)?$/.test(patch.avatar)) throw invalid('avatar', '"" or an http(s) URL of at most 1024 characters');
      clean.avatar = patch.avatar;
    }
    if (patch.description !== undefined) {
      // eslint-disable-next-line no-control-regex -- the controls are what is refused
      if (patch.description.length > 500 || /[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]/.test(patch.description)) throw invalid('description', 'at most 500 characters; newlines allowed, other control characters not');
      clean.description = patch.description;
    }
    if (Object.keys(clean).length === 0) throw new AppError('VALIDATION_ERROR', 'at least one of name, avatar, description', { field: 'name' });
    await this.changeGroup(session, conversationId, { kind: 'update-info', patch: clean });
    return this.getConversation(session, conversationId);
  }

  async disbandGroup(session: Session, conversationId: string): Promise<void> {
    await this.changeGroup(session, conversationId, { kind: 'disband' });
  }

  async getChanges(session: Session, conversationId: string, afterChange: number, size: number): Promise<{ items: ChangeItem[]; pagination: Pagination }> {
    if (!Number.isSafeInteger(afterChange) || afterChange < 0) throw new AppError('VALIDATION_ERROR', 'afterChange: must be an integer from 0', { field: 'afterChange' });
    if (!Number.isInteger(size) || size < 1 || size > LIMITS.pageSizeMax) {
      throw new AppError('VALIDATION_ERROR', `size: must be an integer from 1 to ${LIMITS.pageSizeMax}`, { field: 'size' });
    }
    const info = await this.repo.getConversationInfo(conversationId);
    if (!info) throw new AppError('CONVERSATION_NOT_FOUND');
    // In the store, not the cache: a removed member's device must not read what changed after.
    if (info.type === 'world' ? !(await this.membership.forMember(conversationId, session.userId))?.isMember : !(await this.repo.isMember(conversationId, session.userId))) {
      throw new AppError('NOT_CONVERSATION_MEMBER');
    }
    const { items, total } = await this.repo.getChanges(conversationId, afterChange, size, session.userId);
    return { items, pagination: { page: 1, size, total, hasMore: items.length < total } };
  }

  // ---- messages ----

  async sendMessage(session: Session, payload: SendMessagePayload, connId?: string): Promise<MessageAck> {
    const { message } = await this.storeSend(session, payload, connId);
    return {
      tempMessageId: payload.tempMessageId,
      messageId: message.messageId,
      conversationId: message.conversationId,
      seqId: message.seqId,
      sendTime: message.sendTime,
    };
  }

  async postMessage(session: Session, payload: SendMessagePayload): Promise<{ message: Message; created: boolean }> {
    // No sending connection: every socket of the sender gets the new-message frame.
    const { message, duplicate } = await this.storeSend(session, payload);
    return { message, created: !duplicate };
  }

  /** A send checked, counted and group-committed; resolves once it is durable (and published). */
  private async storeSend(session: Session, payload: SendMessagePayload, connId?: string): Promise<StoredAppend> {
    checkContent(payload.content, this.config.maxContentChars);
    const extra = payload.extra === undefined ? undefined : checkExtra(payload.extra);
    const membership = await this.requireMember(payload.conversationId, session.userId);
    const replyTo = payload.replyTo === undefined ? undefined : await this.resolveReply(session, payload);
    // A guest chatting on an open socket is active too (written at most once an hour).
    if (session.isGuest) await this.guestExpiry.touch(session.userId);
    // Messages and bytes both: a guest storing thousands of 4,000-character messages fills a disk.
    (session.isGuest ? this.sendsByGuest : this.sendsByUser).hit(session.userId);
    (session.isGuest ? this.sendBytesByGuest : this.sendBytesByUser).hit(session.userId, Date.now(), Buffer.byteLength(payload.content));
    const send: PendingSend = {
      message: {
        conversationId: membership.info.conversationId,
        senderId: session.userId,
        senderName: session.username,
        tempMessageId: payload.tempMessageId,
        content: payload.content,
        messageType: payload.messageType ?? 'text',
        sendTime: Date.now(),
        // The store refuses the send if the member set changed after this check (revalidateSends).
        membersSeq: membership.info.membersSeq,
      },
      recipients: membership.recipients,
    };
    if (replyTo !== undefined) send.message.replyTo = replyTo;
    if (extra !== undefined) send.message.extra = extra;
    if (connId !== undefined) send.connId = connId;
    return this.writer.submit(send);
  }

  /**
   * The snapshot a reply carries of its target. When the target cannot be answered (recalled since,
   * say) but this very send is already stored, the send goes on with the snapshot it had: the store
   * answers a resend with the original (after its usual membership check) and never stores this
   * one, so a resend never fails on its target's fate.
   */
  private async resolveReply(session: Session, payload: SendMessagePayload): Promise<ReplySnapshot> {
    const target = await this.repo.getMessage(payload.replyTo!);
    try {
      if (!target || target.conversationId !== payload.conversationId) {
        throw new AppError('MESSAGE_NOT_FOUND', 'replyTo: no such message in this conversation', { field: 'replyTo' });
      }
      if (target.recalledAt !== undefined) throw new AppError('MESSAGE_RECALLED', 'replyTo: the message was recalled', { field: 'replyTo' });
      if (target.messageType === 'system') throw new AppError('VALIDATION_ERROR', 'replyTo: a system message cannot be answered', { field: 'replyTo' });
    } catch (err) {
      const sent = await this.repo.findSentMessage(payload.conversationId, session.userId, payload.tempMessageId);
      // Never stored (the store finds the original first): any well-formed snapshot does.
      if (sent) return sent.replyTo ?? { messageId: payload.replyTo!, seqId: 0, senderId: '', senderName: '', messageType: 'text', preview: '' };
      throw err;
    }
    return {
      messageId: target.messageId,
      seqId: target.seqId,
      senderId: target.senderId,
      senderName: target.senderName,
      messageType: target.messageType,
      preview: previewOf(target.content),
    };
  }

  // ---- awareness ----

  async typing(session: Session, conversationId: string, typing: boolean): Promise<void> {
    const membership = await this.requireMember(conversationId, session.userId);
    // The cache's member list: a typing frame is worth less than a store read, and is gone in seconds.
    if (membership.recipients === 'all-connected' || membership.info.memberCount > this.config.typingMaxMembers) return;
    const others = membership.recipients.filter((id) => id !== session.userId);
    if (others.length === 0) return;
    const frame = encodeServerFrame({
      type: 'typing-indicator',
      data: { conversationId, userId: session.userId, username: session.username, typing, expiresInMs: typing ? TYPING_EXPIRES_MS : 0 },
    });
    this.bus.publish({ kind: 'frames', recipients: others, frame, droppable: true }).catch((err: unknown) => this.log.warn({ err, conversationId }, 'typing publish failed'));
  }

  // ---- message actions (docs/protocol.md "Message actions") ----

  async recallMessage(session: Session, messageId: string): Promise<Message> {
    return this.changeMessage(session, messageId, { kind: 'recall' });
  }

  async editMessage(session: Session, messageId: string, content: string): Promise<Message> {
    checkContent(content, this.config.maxContentChars);
    return this.changeMessage(session, messageId, { kind: 'edit', content });
  }

  async setReaction(session: Session, messageId: string, emoji: string, add: boolean): Promise<Message> {
    return this.changeMessage(session, messageId, { kind: 'react', emoji: normalizeReaction(emoji), add });
  }

  async listReactions(session: Session, messageId: string, query: ReactionsPageQuery): Promise<{ reactors: Reactor[]; pagination: Pagination }> {
    if (!Number.isInteger(query.page) || query.page < 1) throw new AppError('VALIDATION_ERROR', 'page: must be an integer from 1', { field: 'page' });
    if (!Number.isInteger(query.size) || query.size < 1 || query.size > LIMITS.pageSizeMax) {
      throw new AppError('VALIDATION_ERROR', `size: must be an integer from 1 to ${LIMITS.pageSizeMax}`, { field: 'size' });
    }
    const emoji = query.emoji === undefined ? undefined : normalizeReaction(query.emoji);
    const message = await this.readableMessage(session, messageId);
    const { reactors, total } = await this.repo.listReactions(message.conversationId, message.seqId, { page: query.page, size: query.size, ...(emoji !== undefined ? { emoji } : {}) });
    return { reactors, pagination: { page: query.page, size: query.size, total, hasMore: query.page * query.size < total } };
  }

  /** The message, if the caller may read its conversation; MESSAGE_NOT_FOUND otherwise (nothing is told of other conversations). */
  private async readableMessage(session: Session, messageId: string): Promise<Message> {
    const message = await this.repo.getMessage(messageId);
    if (!message) throw new AppError('MESSAGE_NOT_FOUND');
    try {
      await this.requireReader(message.conversationId, session.userId);
    } catch (err) {
      if (err instanceof AppError && (err.code === 'NOT_CONVERSATION_MEMBER' || err.code === 'CONVERSATION_NOT_FOUND')) throw new AppError('MESSAGE_NOT_FOUND');
      throw err;
    }
    return message;
  }

  /**
   * One change of a message: checked with reads first (a stranger never takes the write lock),
   * decided and applied in one store transaction under the conversation's lock, run in this
   * process's commit order, then pushed to every member's devices as a `conversation-update`
   * before the caller is answered. Counted against the caller's send allowance.
   */
  private async changeMessage(session: Session, messageId: string, edit: MessageEdit): Promise<Message> {
    const before = await this.readableMessage(session, messageId);
    (session.isGuest ? this.sendsByGuest : this.sendsByUser).hit(session.userId);
    return this.writer.submitChange(async () => {
      const result = await this.repo.changeMessage({
        messageId,
        actorId: session.userId,
        edit,
        // Read under the lock: of two racing edits, the later commit has the later editedAt.
        now: () => Date.now(),
        decide: (target, at) => decideMessageChange(target, session.userId, edit, at, this.config.messageActions),
      });
      // Committed: a failure to publish costs live devices the frame (the change feed has it), never the caller its answer.
      if (result.item) {
        await this.publishMessageChange(before.conversationId, result).catch((err: unknown) =>
          this.log.error({ err, conversationId: before.conversationId }, 'message change publish failed'),
        );
      }
      const answer: Message = { ...result.message };
      if (result.myReactions.length > 0) answer.myReactions = result.myReactions;
      return answer;
    });
  }

  /**
   * The change item to every member's connections: the world room's to every connection; a
   * group's to its members as the store has them now (the cached set when it is that version),
   * so nobody removed meanwhile reads what changed.
   */
  private async publishMessageChange(conversationId: string, result: MessageChangeResult): Promise<void> {
    const item = result.item!;
    const frame = encodeServerFrame({
      type: 'conversation-update',
      data: { conversationId, fromChangeSeq: item.changeSeq, changeSeq: item.changeSeq, items: [item] },
    });
    let recipients: readonly string[] | 'everyone' = 'everyone';
    if (result.conversationType !== 'world') {
      const cached = await this.membership.forMember(conversationId, result.message.senderId);
      // The cache's member set is exact when it is the version the change was committed at.
      if (cached && cached.recipients !== 'all-connected' && cached.info.membersSeq === result.membersSeq) recipients = cached.recipients;
      else recipients = (await this.repo.getMembersAt(conversationId))?.ids ?? [];
    }
    this.bus
      .publish({ kind: 'frames', recipients, frame })
      .catch((err: unknown) => this.log.error({ err, conversationId }, 'message change publish failed'));
  }

  /**
   * Sends the store found stale (their conversation's member set changed after they were checked,
   * possibly through another logic instance): checked again against the member set as stored now,
   * with its recipients. A sender no longer a member is refused.
   */
  private async revalidateSends(sends: readonly PendingSend[]): Promise<Array<PendingSend | Error>> {
    for (const conversationId of new Set(sends.map((s) => s.message.conversationId))) this.membership.refresh(conversationId);
    return Promise.all(
      sends.map(async (send): Promise<PendingSend | Error> => {
        const membership = await this.membership.forMember(send.message.conversationId, send.message.senderId);
        if (!membership) return new AppError('CONVERSATION_NOT_FOUND');
        if (!membership.isMember) return new AppError('NOT_CONVERSATION_MEMBER');
        return { ...send, message: { ...send.message, membersSeq: membership.info.membersSeq }, recipients: membership.recipients };
      }),
    );
  }

  /** Runs right after a batch commits, in seq order: each new message is serialized once and published. */
  private publishCommitted(sends: readonly PendingSend[], results: readonly StoredAppend[]): void {
    sends.forEach((send, i) => {
      const result = results[i];
      if (!result || result.duplicate) return; // a resend was delivered the first time
      const { message } = result;
      const common = {
        conversationId: message.conversationId,
        seqId: message.seqId,
        // Encoded once (reusing the text the store kept with the row); every recipient gets these bytes.
        frame: encodeServerFrame({ type: 'new-message', data: message }),
        ...(send.connId !== undefined ? { excludeConnId: send.connId } : {}),
      };
      // The world room: one broadcast to every connection, no member list.
      const delivery: Delivery =
        send.recipients === 'all-connected'
          ? { kind: 'broadcast', ...common }
          : { kind: 'message', recipients: send.recipients, membersSeq: send.message.membersSeq ?? 0, ...common };
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

  /** Stops the guest sweep, waiting for one in progress (a start that failed later, or the shutdown). */
  async stopGuestExpiry(): Promise<void> {
    await this.guestExpiry.stop();
  }

  /** Stops the guest sweep and commits everything accepted so far (graceful shutdown). */
  async drain(): Promise<void> {
    await this.guestExpiry.stop();
    await this.writer.drain();
    await this.readMarks.drain();
  }
}

const newAccountKey = (): string => randomBytes(16).toString('hex');

/** How long a client shows "typing…" without a renewal; clients renew at most every 2 s (the gateway's throttle). */
const TYPING_EXPIRES_MS = 6_000;

/** The normalized name, or VALIDATION_ERROR naming `field` (the identifier profile of identifiers.ts). */
function acceptableName(raw: string, field: string): string {
  const checked = checkUsername(raw);
  if (!checked.ok) throw new AppError('VALIDATION_ERROR', `${field}: ${checked.reason}`, { field });
  return checked.username;
}

/** The contract's pagination block for a history page. */
function pagination(query: HistoryQuery, page: { total: number; hasMore: boolean }): Pagination {
  return { page: query.kind === 'page' ? query.page : 1, size: query.size, total: page.total, hasMore: page.hasMore };
}
