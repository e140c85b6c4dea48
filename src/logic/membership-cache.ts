/**
 * Conversation members, cached for the send path. Members of `single` and `group`
 * conversations never change after creation, so they are cached until evicted; the world
 * room grows with every new user, so its entry expires quickly and a miss is re-checked.
 */
import type { ConversationInfo, Repo } from '../repo/index.js';

export interface Membership {
  info: ConversationInfo;
  members: ReadonlySet<string>;
  /** Members as an array, for fan-out without re-allocating per message. */
  memberList: readonly string[];
}

interface Entry {
  membership: Membership;
  loadedAt: number;
}

export class MembershipCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Membership | null>>();

  constructor(
    private readonly repo: Repo,
    private readonly maxEntries = 50_000,
    private readonly mutableTtlMs = 2_000,
  ) {}

  /** The conversation and its members, or null when it does not exist. */
  async get(conversationId: string, now = Date.now()): Promise<Membership | null> {
    const entry = this.entries.get(conversationId);
    if (entry && (entry.membership.info.type !== 'world' || now - entry.loadedAt < this.mutableTtlMs)) {
      return entry.membership;
    }
    return this.load(conversationId);
  }

  /** Membership that is sure to include `userId` if the store says so (re-reads a stale world entry). */
  async forMember(conversationId: string, userId: string): Promise<Membership | null> {
    const membership = await this.get(conversationId);
    if (membership && !membership.members.has(userId) && membership.info.type === 'world') return this.load(conversationId);
    return membership;
  }

  invalidate(conversationId: string): void {
    this.entries.delete(conversationId);
  }

  private load(conversationId: string): Promise<Membership | null> {
    let pending = this.loading.get(conversationId);
    if (!pending) {
      pending = this.fetch(conversationId).finally(() => this.loading.delete(conversationId));
      this.loading.set(conversationId, pending);
    }
    return pending;
  }

  private async fetch(conversationId: string): Promise<Membership | null> {
    const info = await this.repo.getConversationInfo(conversationId);
    if (!info) return null;
    const memberList = await this.repo.getMemberIds(conversationId);
    const membership: Membership = { info, members: new Set(memberList), memberList };
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(conversationId, { membership, loadedAt: Date.now() });
    return membership;
  }
}
