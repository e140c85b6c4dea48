/**
 * The conversations a client knows, kept equal to the server's (docs/protocol.md "The change
 * cursor", client algorithm): the list as the server last answered it, corrected live by
 * `conversation-added`, `conversation-update`, `conversation-removed` and `conversation-settings`,
 * and, with `members`, each group's member list.
 *
 * On every (re)connect the list is read again (hidden ones included): an unknown conversation is
 * added (its members paged, then the changes since the changeSeq the page was read at applied over
 * them); one gone from the list is dropped; a known conversation of any type whose changeSeq moved
 * on gets the changed items after its local changeSeq (message actions move 1:1s and the world room
 * too). Live, an update that starts right after the local changeSeq is applied, an older one
 * ignored, and one after a gap fetches what was missed. The `message` items of every change-feed
 * read are handed on (`changedMessages`): they are how the app learns of recalls, edits and
 * reactions it missed. Nothing is capped by time: the server's change feed is compacted and has no end.
 */
import type { ChangeItem, Conversation, ConversationSettingsChanged, ConversationUpdate, GroupMember, Message, MessageChangeItem, Pagination, ReadReceipt, ReadResult } from '../../src/protocol/index.js';
import { applyMessageChange, withRecalledQuote, type MessageChanged } from './message-changes.js';

export interface ConversationSyncSource {
  conversations(): Promise<Conversation[]>;
  conversation(conversationId: string): Promise<Conversation>;
  members(conversationId: string, query: { page: number; size: number }): Promise<{ members: GroupMember[]; pagination: Pagination }>;
  changes(conversationId: string, afterChange: number, size: number): Promise<{ items: ChangeItem[]; pagination: Pagination }>;
}

export interface ConversationSyncOptions {
  source: ConversationSyncSource;
  /** Keep each group's member list too. */
  members: boolean;
  /** The logged-in user's id (its own member item carries its role). */
  me: () => string | null;
  /** A fetch failed; the next reconnect's refresh repairs it. */
  report: (err: unknown) => void;
  /** The `message` items of a change-feed page, as read for this user (with its `myReactions`). */
  changedMessages?: (conversationId: string, items: MessageChangeItem[]) => void;
  /** A refresh found a kept conversation gone (its `conversation-removed` came while away). */
  lost?: (conversationId: string) => void;
}

const PAGE = 100;
/** Member and change reads a refresh runs at once. */
const REFRESH_CONCURRENCY = 4;

export class ConversationSync {
  private readonly known = new Map<string, Conversation>();
  private readonly memberLists = new Map<string, Map<string, GroupMember>>();
  /** One catch-up of changes at a time per conversation. */
  private readonly fetching = new Map<string, Promise<void>>();
  /**
   * Conversations a live frame touched since the list being refreshed from was requested: that list
   * is older than what the frame said, so for them it is read again instead of believed.
   */
  private touched: Set<string> | null = null;

  constructor(private readonly options: ConversationSyncOptions) {}

  /**
   * The conversations as last known, pinned first, then newest activity first (the server's order).
   * Copies: the kept ones change as frames arrive, and an app's copy must not change under it.
   */
  conversations(): Conversation[] {
    return [...this.known.values()].map(copyOf).sort(
      (a, b) => Number(b.settings.pinned) - Number(a.settings.pinned) || (a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : 0) || (Number(b.conversationId) - Number(a.conversationId)),
    );
  }

  conversation(conversationId: string): Conversation | undefined {
    const known = this.known.get(conversationId);
    return known && copyOf(known);
  }

  /** A group's members as last known, in the order they joined; undefined when not kept. */
  members(conversationId: string): GroupMember[] | undefined {
    const list = this.memberLists.get(conversationId);
    return list ? [...list.values()] : undefined;
  }

  clear(): void {
    this.known.clear();
    this.memberLists.clear();
  }

  /** The list a refresh will start from is being requested now: frames from here on are newer than it. */
  beginRefresh(): void {
    this.touched = new Set();
  }

  /**
   * After a (re)connect: the server's list, requested after the socket opened (`beginRefresh`), is the
   * truth for what it shows, except for conversations live frames touched since it was requested.
   */
  async refresh(list?: Conversation[]): Promise<void> {
    if (!list) this.beginRefresh();
    const fresh = list ?? (await this.options.source.conversations());
    const touched = this.touched ?? new Set<string>();
    this.touched = null;
    const listed = new Set(fresh.map((c) => c.conversationId));
    for (const id of [...this.known.keys()]) if (!listed.has(id) && !touched.has(id)) this.lose(id);
    const tasks: Array<{ id: string; run: () => Promise<void> }> = [];
    for (const row of fresh) {
      const id = row.conversationId;
      if (touched.has(id)) {
        // Newer news came live: ask for the conversation as it is now.
        tasks.push({ id, run: async () => this.adopt(await this.options.source.conversation(id)) });
        continue;
      }
      const local = this.known.get(id);
      const run = this.take(withNewestMessage(row, local), local);
      if (run) tasks.push({ id, run });
    }
    // Touched live but not in the list (added after it was read): read it too.
    for (const id of touched) if (!listed.has(id) && this.known.has(id)) tasks.push({ id, run: async () => this.adopt(await this.options.source.conversation(id)) });
    // A few at a time: a user in many groups does not send every member request at once.
    for (let i = 0; i < tasks.length; i += REFRESH_CONCURRENCY) await Promise.all(tasks.slice(i, i + REFRESH_CONCURRENCY).map((task) => this.forgetIfGone(task)));
  }

  /** Runs a task of one conversation; one the caller lost meanwhile is forgotten, not a failed refresh. */
  private async forgetIfGone(task: { id: string; run: () => Promise<void> }): Promise<void> {
    try {
      await task.run();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'NOT_CONVERSATION_MEMBER' && code !== 'CONVERSATION_NOT_FOUND') throw err;
      if (this.known.has(task.id)) this.lose(task.id);
    }
  }

  /** A conversation read now replaces what is known of it; its changes catch up from what was known. */
  private async adopt(now: Conversation): Promise<void> {
    await this.take(now, this.known.get(now.conversationId))?.();
  }

  /**
   * Keeps `now` (the server's row) in place of `local`, and answers the reads that bring the rest up
   * to date, if any: a member list not kept yet, the changes since `local`'s changeSeq. The row
   * keeps `local`'s changeSeq until those changes are applied, so a read that fails is tried again
   * from the same place by the next refresh instead of skipped.
   */
  private take(now: Conversation, local: Conversation | undefined): (() => Promise<void>) | null {
    const id = now.conversationId;
    // Known before: what changed since is caught up. New here: its row (and its history) is current.
    const from = local && now.changeSeq > local.changeSeq ? local.changeSeq : null;
    this.known.set(id, from === null ? now : { ...now, changeSeq: from });
    if (this.keepsMembers(now) && !(local && this.memberLists.has(id))) return () => this.loadMembers(now, from ?? now.changeSeq);
    if (from !== null) return () => this.catchUpChanges(id, from);
    return null;
  }

  added(conversation: Conversation): void {
    this.touched?.add(conversation.conversationId);
    const local = this.known.get(conversation.conversationId);
    if (local && local.changeSeq > conversation.changeSeq) return;
    // A copy: the frame's object is also the app's (the `conversation-added` event), and this one changes.
    this.known.set(conversation.conversationId, copyOf(conversation));
    if (this.keepsMembers(conversation)) void this.loadMembers(conversation).catch(this.options.report);
  }

  removed(conversationId: string): void {
    this.touched?.add(conversationId);
    this.forget(conversationId);
  }

  settings(change: ConversationSettingsChanged): void {
    this.touched?.add(change.conversationId);
    const local = this.known.get(change.conversationId);
    if (local) local.settings = change.settings;
  }

  /**
   * The read pointer moved (a `conversation-read` frame, or a `markRead` answer): the kept
   * conversation takes it, unless it already knows a further one (frames and answers may cross).
   */
  read(read: ReadResult): void {
    this.touched?.add(read.conversationId);
    const local = this.known.get(read.conversationId);
    if (!local || read.lastReadSeq < local.lastReadSeq) return;
    local.lastReadSeq = read.lastReadSeq;
    local.unreadCount = read.unreadCount;
  }

  /** The peer of a 1:1 read further (a `read-receipt` frame): receipts only move forward. */
  receipt(receipt: ReadReceipt): void {
    this.touched?.add(receipt.conversationId);
    const local = this.known.get(receipt.conversationId);
    if (!local || local.type !== 'single' || receipt.lastReadSeq <= (local.peerLastReadSeq ?? 0)) return;
    local.peerLastReadSeq = receipt.lastReadSeq;
  }

  /** A message (live, or fetched by the catch-up): the newest one is kept whatever list comes later. */
  message(message: Message): void {
    const local = this.known.get(message.conversationId);
    if (!local || (local.lastMessage?.seqId ?? 0) >= message.seqId) return;
    local.lastMessage = message;
    local.updatedAt = message.sendTime;
    // A message brings a hidden conversation back into the list.
    if (local.settings.hidden) local.settings = { ...local.settings, hidden: false };
  }

  /** A message change the app was told of: the conversation's last message shows it too. */
  messageChanged(change: MessageChanged): void {
    const local = this.known.get(change.conversationId);
    const last = local?.lastMessage;
    if (!local || !last) return;
    // The last message itself, or a reply quoting the message recalled.
    local.lastMessage = last.messageId === change.message.messageId ? applyMessageChange(last, change, this.options.me()) : withRecalledQuote(last, change);
  }

  update(update: ConversationUpdate): void {
    this.touched?.add(update.conversationId);
    const local = this.known.get(update.conversationId);
    if (!local || update.changeSeq <= local.changeSeq) return;
    if (update.fromChangeSeq > local.changeSeq + 1) {
      void this.catchUpChanges(update.conversationId, local.changeSeq).catch(this.options.report);
      return;
    }
    this.apply(local, update.items);
  }

  private keepsMembers(c: Conversation): boolean {
    return this.options.members && c.type === 'group';
  }

  /** Gone without its frame (lost while away, or between the list and a read): forgotten, and said. */
  private lose(conversationId: string): void {
    this.forget(conversationId);
    this.options.lost?.(conversationId);
  }

  private forget(conversationId: string): void {
    this.known.delete(conversationId);
    this.memberLists.delete(conversationId);
  }

  /** Every member page, then the changes made since `after` (at most the changeSeq the first page was read at). */
  private async loadMembers(conversation: Conversation, after = conversation.changeSeq): Promise<void> {
    const id = conversation.conversationId;
    const at = Math.min(after, conversation.changeSeq);
    const list = new Map<string, GroupMember>();
    for (let page = 1; ; page++) {
      const { members, pagination } = await this.options.source.members(id, { page, size: PAGE });
      for (const m of members) list.set(m.userId, m);
      if (!pagination.hasMore || members.length === 0) break;
    }
    if (!this.known.has(id)) return; // removed meanwhile
    this.memberLists.set(id, list);
    // The pages are at least as new as `at`; the feed after it holds current values, so applied
    // over them (again, for what a page already showed) it leaves them current.
    await this.catchUpChanges(id, at);
  }

  /** Pages the change feed after `after` and applies it; concurrent callers share one walk. */
  private catchUpChanges(conversationId: string, after: number): Promise<void> {
    const running = this.fetching.get(conversationId);
    // After the walk in progress, from where this caller asked (that walk may have applied items
    // before a member list existed to take them).
    if (running) return running.then(() => this.catchUpFrom(conversationId, after));
    const walk = (async () => {
      for (let cursor = after; ; ) {
        const { items, pagination } = await this.options.source.changes(conversationId, cursor, PAGE);
        const local = this.known.get(conversationId);
        if (!local) return;
        this.apply(local, items);
        const messages = items.filter((item): item is MessageChangeItem => item.kind === 'message');
        if (messages.length > 0) this.options.changedMessages?.(conversationId, messages);
        const last = items.at(-1);
        if (!pagination.hasMore || !last) return;
        cursor = last.changeSeq;
      }
    })().finally(() => this.fetching.delete(conversationId));
    this.fetching.set(conversationId, walk);
    return walk;
  }

  private async catchUpFrom(conversationId: string, after: number): Promise<void> {
    const local = this.known.get(conversationId);
    if (local) await this.catchUpChanges(conversationId, Math.min(after, local.changeSeq));
  }

  /**
   * Items are current values: applying them over what is known is safe in any number. `message`
   * items only move the changeSeq here: the app hears of them through `changedMessages`.
   */
  private apply(local: Conversation, items: readonly ChangeItem[]): void {
    const members = this.memberLists.get(local.conversationId);
    const me = this.options.me();
    for (const item of items) {
      if (item.kind === 'group') {
        if (item.group === null) continue; // disbanded: its conversation-removed says so
        local.name = item.group.name;
        local.avatar = item.group.avatar;
        local.memberCount = item.group.memberCount;
      } else if (item.kind === 'member') {
        if (item.member) members?.set(item.userId, item.member);
        else members?.delete(item.userId);
        if (item.userId === me && item.member) local.myRole = item.member.role;
      }
      local.changeSeq = Math.max(local.changeSeq, item.changeSeq);
    }
  }
}

/**
 * The list's row, with the newest message known here when it is newer than the row's (the catch-up
 * fetched it after the list was read): messages only move forward, so no re-read is needed for them.
 */
function withNewestMessage(row: Conversation, local: Conversation | undefined): Conversation {
  const mine = local?.lastMessage;
  if (!mine || mine.seqId <= (row.lastMessage?.seqId ?? 0)) return row;
  return { ...row, lastMessage: mine, updatedAt: local.updatedAt, settings: { ...row.settings, hidden: false } };
}

/** A conversation the app may keep: the kept one's fields that change in place are copied. */
function copyOf(conversation: Conversation): Conversation {
  return { ...conversation, settings: { ...conversation.settings } };
}
