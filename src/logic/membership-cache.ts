/**
 * Conversation members, cached for the send path.
 *
 * - `single` and `group` conversations: the member list is loaded once, with the member set's
 *   version (`membersSeq`), and cached until evicted or refreshed; it is also the recipient list of
 *   every message. Each send carries the version, and the store refuses a send whose member set
 *   changed since (through any process): logic then `refresh`es the entry and checks it again.
 *   Reads other than sends must ask the store once member sets change (group administration,
 *   issue 13: its endpoints refresh the entry on the process that made the change; other
 *   processes learn at their next send, or need an invalidation over the bus for their reads).
 * - the `world` room: everyone is a member, so its members are never loaded as a list (that was a
 *   full reload of every member id after each join). Its messages are broadcast to every connection
 *   (`recipients: 'all-connected'`), and membership is answered per user: a user seen as a member is
 *   remembered, a join here adds that one id, and a user not (yet) known is checked with one
 *   `repo.isMember` query. A join on another logic process therefore sends at once (the check
 *   finds it), and a member removed by another process (an expired guest) is believed at most
 *   `memberRecheckMs` longer here: a remembered member is checked again after that long.
 *   Memory is bounded: at most `maxWorldMembers` remembered members and as many non-members.
 */
import type { ConversationInfo, Repo } from '../repo/index.js';

/** Who receives a conversation's messages: these users, or every open connection (the world room). */
export type Recipients = readonly string[] | 'all-connected';

export interface MemberCheck {
  info: ConversationInfo;
  isMember: boolean;
  /** Members as an array (shared, not copied per message), or 'all-connected' for the world. */
  recipients: Recipients;
}

export interface MembershipCacheOptions {
  /** Conversations cached at most; the oldest loaded is evicted first. */
  maxEntries: number;
  /** World members (and, separately, world non-members) remembered at most. */
  maxWorldMembers: number;
  /** A remembered world member is checked against the store again after this long. */
  memberRecheckMs: number;
  /** A world non-member is answered from memory this long before the store is asked again. */
  nonMemberTtlMs: number;
}

export const DEFAULT_MEMBERSHIP_CACHE: MembershipCacheOptions = {
  maxEntries: 50_000,
  maxWorldMembers: 200_000,
  memberRecheckMs: 60_000,
  nonMemberTtlMs: 2_000,
};

/** Per-user membership of the world room: user id -> when the store last said so. */
class WorldMembers {
  readonly members = new Map<string, number>();
  readonly nonMembers = new Map<string, number>();

  constructor(private readonly max: number) {}

  remember(map: Map<string, number>, userId: string, at: number): void {
    map.delete(userId); // re-insert: Map order is then oldest-checked first, for eviction
    if (map.size >= this.max) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
    map.set(userId, at);
  }

  joined(userId: string, at: number): void {
    this.nonMembers.delete(userId);
    this.remember(this.members, userId, at);
  }

  left(userId: string, at: number): void {
    this.members.delete(userId);
    this.remember(this.nonMembers, userId, at);
  }
}

/** A load of one conversation in flight; `refresh` marks it outdated so its answer is not kept. */
interface Load {
  outdated: boolean;
  entry: Promise<Entry | null>;
}

type Entry =
  | { info: ConversationInfo; members: ReadonlySet<string>; memberList: readonly string[] }
  | { info: ConversationInfo; world: WorldMembers };

export class MembershipCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Load>();
  /** World membership checks in flight, by `conversationId\nuserId`, so a burst asks once. */
  private readonly checking = new Map<string, Promise<boolean>>();
  private readonly options: MembershipCacheOptions;

  constructor(
    private readonly repo: Repo,
    options: Partial<MembershipCacheOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.options = { ...DEFAULT_MEMBERSHIP_CACHE, ...options };
  }

  /** The conversation and whether `userId` is a member, or null when it does not exist. */
  async forMember(conversationId: string, userId: string): Promise<MemberCheck | null> {
    const entry = this.entries.get(conversationId) ?? (await this.load(conversationId));
    if (!entry) return null;
    if ('members' in entry) return { info: entry.info, isMember: entry.members.has(userId), recipients: entry.memberList };
    return { info: entry.info, isMember: await this.isWorldMember(conversationId, entry.world, userId), recipients: 'all-connected' };
  }

  /**
   * The store said this conversation's member set changed (a send found stale): forget the entry,
   * and any load in flight, so the next check reads the member set as stored now. A load that
   * started before this call does not put its answer back.
   */
  refresh(conversationId: string): void {
    this.entries.delete(conversationId);
    const load = this.loading.get(conversationId);
    if (load) load.outdated = true;
    this.loading.delete(conversationId);
  }

  /** `userId` joined the world room `conversationId` (through this process): remember that one id. */
  memberJoined(conversationId: string, userId: string): void {
    const entry = this.entries.get(conversationId);
    if (!entry) return; // not cached: the first check asks the store
    if ('world' in entry) entry.world.joined(userId, this.now());
    else this.entries.delete(conversationId);
  }

  /** These users left the world room (expired guests): they are non-members here at once. */
  worldMembersLeft(userIds: readonly string[]): void {
    const now = this.now();
    for (const entry of this.entries.values()) {
      if ('world' in entry) for (const userId of userIds) entry.world.left(userId, now);
    }
  }

  private async isWorldMember(conversationId: string, world: WorldMembers, userId: string): Promise<boolean> {
    const now = this.now();
    const seen = world.members.get(userId);
    if (seen !== undefined && now - seen < this.options.memberRecheckMs) return true;
    const refused = world.nonMembers.get(userId);
    if (refused !== undefined && now - refused < this.options.nonMemberTtlMs) return false;
    const key = `${conversationId}\n${userId}`;
    let pending = this.checking.get(key);
    if (!pending) {
      pending = this.repo.isMember(conversationId, userId).finally(() => this.checking.delete(key));
      this.checking.set(key, pending);
    }
    const isMember = await pending;
    if (isMember) world.joined(userId, this.now());
    else world.left(userId, this.now());
    return isMember;
  }

  private load(conversationId: string): Promise<Entry | null> {
    let load = this.loading.get(conversationId);
    if (!load) {
      const started: Load = { outdated: false, entry: Promise.resolve(null) };
      started.entry = this.fetch(conversationId, started).finally(() => {
        if (this.loading.get(conversationId) === started) this.loading.delete(conversationId);
      });
      this.loading.set(conversationId, started);
      load = started;
    }
    return load.entry;
  }

  private async fetch(conversationId: string, load: Load): Promise<Entry | null> {
    const info = await this.repo.getConversationInfo(conversationId);
    if (!info) return null;
    let entry: Entry;
    if (info.type === 'world') {
      entry = { info, world: new WorldMembers(this.options.maxWorldMembers) };
    } else {
      // Two reads, which may straddle a change on PostgreSQL: harmless while nothing changes a
      // member set. Group administration (issue 13) bumps membersSeq, and must then load the ids
      // and the version in one statement, or the commit check could approve an older list.
      const memberList = await this.repo.getMemberIds(conversationId);
      entry = { info, members: new Set(memberList), memberList };
    }
    // Refreshed while loading: answer this caller, but keep nothing that may predate the change.
    if (load.outdated) return entry;
    if (this.entries.size >= this.options.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(conversationId, entry);
    return entry;
  }
}
