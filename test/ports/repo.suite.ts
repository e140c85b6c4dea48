/**
 * The storage interface suite: one set of behaviours every Repo implementation must pass
 * (SQLite and PostgreSQL alike). `open` returns a fresh, empty store; `openAgain` a second
 * handle on the same store, as another process would hold it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AppError, encodeMessage, type Conversation, type HistoryQuery } from '../../src/protocol/index.js';
import type { ConversationKey, GroupChange, MessageChange, MessageEdit, NewMessage, Repo } from '../../src/repo/index.js';
import { appendStored } from '../helpers/append.js';
import { decideGroupChange, type GroupOperation } from '../../src/logic/group-rules.js';

export interface RepoFixture {
  /** A fresh, empty store. */
  open(): Promise<Repo>;
  /** Another handle on the store last opened (another process, for concurrency). */
  openAgain(): Promise<Repo>;
  /** Drops whatever `open` created. */
  cleanup(): Promise<void>;
}

export function repoSuite(name: string, makeFixture: () => Promise<RepoFixture | string>): void {
  describe(`Repo: ${name}`, () => {
    let fixture: RepoFixture | null = null;
    let skip: string | false = false;
    let repo: Repo;
    const opened: Repo[] = [];
    let names = 0;
    const uniq = (prefix: string) => `${prefix}${++names}x${Math.random().toString(36).slice(2, 6)}`;

    before(async () => {
      const made = await makeFixture();
      if (typeof made === 'string') {
        skip = made;
        return;
      }
      fixture = made;
      repo = await fixture.open();
      opened.push(repo);
    });

    after(async () => {
      for (const r of opened) await r.close();
      await fixture?.cleanup();
    });

    const test = (title: string, body: () => Promise<void>) =>
      it(title, async (t) => {
        if (skip) return t.skip(skip);
        await body();
      });

    const user = (prefix = 'u') => repo.createUser({ username: uniq(prefix), passwordHash: 'hash', isGuest: false });

    const message = (conversationId: string, senderId: string, tempMessageId: string, content = 'hi'): NewMessage => ({
      conversationId,
      senderId,
      senderName: 'sender',
      tempMessageId,
      content,
      messageType: 'text',
      sendTime: Date.now(),
    });

    test('createUser returns the user with a string id and never the hash', async () => {
      const created = await user('alice');
      assert.match(created.userId, /^[1-9][0-9]*$/);
      assert.equal(created.isGuest, false);
      assert.equal(created.avatar, '');
      assert.ok(!('passwordHash' in created));
      assert.ok(!Number.isNaN(Date.parse(created.createdAt)));
    });

    test('usernames are unique case-insensitively', async () => {
      const username = uniq('Bob');
      await repo.createUser({ username, passwordHash: 'h', isGuest: false });
      await assert.rejects(
        repo.createUser({ username: username.toUpperCase(), passwordHash: 'h', isGuest: false }),
        (err: unknown) => err instanceof AppError && err.code === 'USERNAME_TAKEN',
      );
      const found = await repo.findUserByUsername(username.toLowerCase());
      assert.equal(found?.username, username);
      assert.equal(found?.passwordHash, 'h');
    });

    test('getUsers returns the existing ones and ignores malformed ids', async () => {
      const a = await user();
      const b = await user();
      const found = await repo.getUsers([a.userId, b.userId, 'abc', '-1', '0', '99999999999', "1' OR 1=1"]);
      assert.deepEqual(found.map((u) => u.userId).sort(), [a.userId, b.userId].sort());
    });

    test('a revoked token stays revoked', async () => {
      assert.equal(await repo.isTokenRevoked('jti-1'), false);
      await repo.revokeToken('jti-1', Date.now() + 60_000);
      await repo.revokeToken('jti-1', Date.now() + 60_000);
      assert.equal(await repo.isTokenRevoked('jti-1'), true);
    });

    test('a pair has one single conversation, whoever asks first', async () => {
      const a = await user();
      const b = await user();
      const first = await repo.getOrCreateSingleConversation(a.userId, b.userId);
      const again = await repo.getOrCreateSingleConversation(b.userId, a.userId);
      assert.equal(first.created, true);
      assert.deepEqual(again, { conversationId: first.conversationId, created: false });
      const seen = await repo.getConversation(first.conversationId, a.userId);
      assert.equal(seen?.type, 'single');
      assert.equal(seen?.peer?.userId, b.userId);
      assert.equal(seen?.memberCount, 2);
      assert.equal(seen?.lastMessage, null);
    });

    test('concurrent creators of one pair end up with the same conversation', async () => {
      const a = await user();
      const b = await user();
      const other = await fixture!.openAgain();
      opened.push(other);
      const results = await Promise.all([
        repo.getOrCreateSingleConversation(a.userId, b.userId),
        other.getOrCreateSingleConversation(b.userId, a.userId),
        repo.getOrCreateSingleConversation(a.userId, b.userId),
      ]);
      assert.equal(new Set(results.map((r) => r.conversationId)).size, 1);
      assert.equal(results.filter((r) => r.created).length, 1);
    });

    test('joining the world twice counts the member once', async () => {
      const a = await user();
      const worldId = await repo.joinWorld(a.userId);
      const before = await repo.getConversationInfo(worldId);
      assert.equal(await repo.joinWorld(a.userId), worldId);
      const after = await repo.getConversationInfo(worldId);
      assert.equal(after?.type, 'world');
      assert.equal(after?.memberCount, before?.memberCount);
      assert.equal(await repo.isMember(worldId, a.userId), true);
    });

    const guest = (prefix = 'g') => repo.createUser({ username: uniq(prefix), passwordHash: 'guest', isGuest: true });

    test('touchGuest records a live guest\'s activity and answers false for anyone else', async () => {
      const g = await guest();
      const registered = await user();
      // Active far ahead, so the sweeps of the tests below leave this guest alone.
      assert.equal(await repo.touchGuest(g.userId, Date.now() + 86_400_000), true);
      assert.equal(await repo.touchGuest(registered.userId, Date.now()), false);
      assert.equal(await repo.touchGuest('999999999', Date.now()), false);
      assert.equal(await repo.touchGuest('not-an-id', Date.now()), false);
    });

    test('expireGuests takes inactive guests out of the world and ends their account, once; the rest stays', async () => {
      const now = Date.now();
      const idle = await guest('idle');
      const active = await guest('active');
      const registered = await user();
      let worldId = '';
      for (const u of [idle, active, registered]) worldId = await repo.joinWorld(u.userId);
      const [said] = await appendStored(repo, [{ ...message(worldId, idle.userId, 'before-expiry'), senderName: idle.username }]);
      await repo.touchGuest(active.userId, now + 60_000);
      const before = (await repo.getConversationInfo(worldId))!.memberCount;

      assert.deepEqual(await repo.expireGuests(now + 30_000, 100), [idle.userId]);

      assert.equal(await repo.isMember(worldId, idle.userId), false);
      assert.equal(await repo.isMember(worldId, active.userId), true);
      assert.equal(await repo.isMember(worldId, registered.userId), true);
      assert.equal((await repo.getConversationInfo(worldId))!.memberCount, before - 1);
      assert.equal(await repo.touchGuest(idle.userId, now + 40_000), false, 'an expired guest stays expired');
      assert.deepEqual(await repo.expireGuests(now + 30_000, 100), [], 'expired once');
      // The row stays: its messages keep their sender, and its username is not handed to someone else.
      const history = await repo.getMessages(worldId, { kind: 'after', afterSeq: said!.message.seqId - 1, size: 1 });
      assert.equal(history.messages.values[0]?.senderName, idle.username);
      assert.equal((await repo.findUserByUsername(idle.username))?.userId, idle.userId);
      await assert.rejects(
        repo.createUser({ username: idle.username, passwordHash: 'hash', isGuest: false }),
        (err: unknown) => err instanceof AppError && err.code === 'USERNAME_TAKEN',
      );
    });

    test('expireGuests takes at most `limit`, least recently active first', async () => {
      const now = Date.now();
      const [first, second, third] = [await guest(), await guest(), await guest()];
      await repo.touchGuest(second.userId, now + 2_000);
      await repo.touchGuest(first.userId, now + 1_000);
      await repo.touchGuest(third.userId, now + 3_000);
      assert.deepEqual(await repo.expireGuests(now + 10_000, 2), [first.userId, second.userId]);
      assert.deepEqual(await repo.expireGuests(now + 10_000, 2), [third.userId]);
    });

    test('concurrent sweeps through separate handles expire each guest exactly once', async () => {
      const now = Date.now();
      const guests = await Promise.all(Array.from({ length: 20 }, () => guest('swept')));
      let worldId = '';
      for (const g of guests) worldId = await repo.joinWorld(g.userId);
      const before = (await repo.getConversationInfo(worldId))!.memberCount;
      const other = await fixture!.openAgain();
      opened.push(other);
      const sweeps = await Promise.all([repo, other, repo, other].map((r) => r.expireGuests(now + 30_000, 7)));
      const expired = sweeps.flat();
      assert.equal(new Set(expired).size, expired.length, 'no guest expired twice');
      assert.deepEqual([...expired].sort(), guests.map((g) => g.userId).sort());
      assert.equal((await repo.getConversationInfo(worldId))!.memberCount, before - guests.length);
    });

    test('a group has its owner and members, and a conversation pointing back at it', async () => {
      const owner = await user('owner');
      const m1 = await user();
      const m2 = await user();
      const { groupId, conversationId } = await repo.createGroup({ ownerId: owner.userId, name: 'Team', memberIds: [m1.userId, m2.userId] });
      const group = await repo.getGroup(groupId);
      assert.deepEqual({ ...group, createdAt: 'x' }, { groupId, conversationId, name: 'Team', ownerId: owner.userId, memberCount: 3, createdAt: 'x', avatar: '', description: '' });
      const members = await repo.getGroupMembers(groupId);
      assert.deepEqual(members.map((m) => m.role).sort(), ['member', 'member', 'owner']);
      assert.deepEqual((await repo.getMemberIds(conversationId)).sort(), [owner.userId, m1.userId, m2.userId].sort());
      const conversation = await repo.getConversation(conversationId, m1.userId);
      assert.equal(conversation?.groupId, groupId);
      assert.equal(conversation?.name, 'Team');
    });

    test('unknown and malformed ids find nothing', async () => {
      assert.equal(await repo.getGroup('999999999'), null);
      assert.equal(await repo.getGroup('x'), null);
      assert.deepEqual(await repo.getGroupMembers('x'), []);
      assert.equal(await repo.getConversationInfo('999999999'), null);
      assert.equal(await repo.getConversationInfo('1;DROP TABLE users'), null);
      assert.equal(await repo.isMember('x', 'y'), false);
      assert.equal(await repo.getConversation('x', '1'), null);
      assert.deepEqual(await repo.listConversations('x'), []);
    });

    test('appendMessages numbers a conversation 1, 2, 3 and moves the sender read pointer', async () => {
      const a = await user();
      const b = await user();
      const { conversationId } = await repo.getOrCreateSingleConversation(a.userId, b.userId);
      const results = await appendStored(repo, [
        message(conversationId, a.userId, 't1', 'one'),
        message(conversationId, b.userId, 't2', 'two'),
        message(conversationId, a.userId, 't3', 'three'),
      ]);
      assert.deepEqual(results.map((r) => [r.message.seqId, r.duplicate, r.message.content]), [
        [1, false, 'one'],
        [2, false, 'two'],
        [3, false, 'three'],
      ]);
      const forB = await repo.getConversation(conversationId, b.userId);
      assert.equal(forB?.lastReadSeq, 2);
      assert.equal(forB?.unreadCount, 1);
      assert.equal(forB?.lastMessage?.content, 'three');
      assert.equal(forB?.lastMessage?.seqId, 3);
    });

    test('a tempMessageId is stored once per sender and conversation, also within one batch', async () => {
      const a = await user();
      const b = await user();
      const { conversationId } = await repo.getOrCreateSingleConversation(a.userId, b.userId);
      const [first, dupInBatch, otherSender] = await appendStored(repo, [
        message(conversationId, a.userId, 'same'),
        message(conversationId, a.userId, 'same', 'changed'),
        message(conversationId, b.userId, 'same'),
      ]);
      assert.equal(first!.duplicate, false);
      assert.equal(dupInBatch!.duplicate, true);
      assert.equal(dupInBatch!.message.messageId, first!.message.messageId);
      assert.equal(dupInBatch!.message.content, 'hi');
      assert.equal(otherSender!.duplicate, false);
      const [resend] = await appendStored(repo, [message(conversationId, a.userId, 'same')]);
      assert.deepEqual([resend!.duplicate, resend!.message], [true, first!.message]);
      assert.equal(encodeMessage(resend!.message), encodeMessage(first!.message));
      assert.equal((await repo.getConversationInfo(conversationId))?.lastSeq, 2);
    });

    test('a send checked at another member-set version is not stored: it comes back stale with the version now', async () => {
      const a = await user();
      const b = await user();
      const { conversationId } = await repo.getOrCreateSingleConversation(a.userId, b.userId);
      assert.equal((await repo.getConversationInfo(conversationId))?.membersSeq, 0);
      const results = await repo.appendMessages([
        message(conversationId, a.userId, 'v1', 'checked now'),
        { ...message(conversationId, a.userId, 'v2', 'checked at a version that is gone'), membersSeq: 5 },
        message(conversationId, b.userId, 'v3', 'checked now too'),
      ]);
      assert.deepEqual(
        results.map((r) => (r.stale ? `stale at ${r.membersSeq}` : r.message.seqId)),
        [1, 'stale at 0', 2],
      );
      const [alone] = await repo.appendMessages([{ ...message(conversationId, a.userId, 'v4'), membersSeq: 9 }]);
      assert.deepEqual(alone, { stale: true, membersSeq: 0 });
      const history = await repo.getMessages(conversationId, { kind: 'after', afterSeq: 0, size: 10 });
      assert.deepEqual(history.messages.values.map((m) => m.content), ['checked now', 'checked now too']);
      assert.equal((await repo.getConversationInfo(conversationId))?.lastSeq, 2);
      // A stale send takes no key: checked again and sent, it is stored as new.
      const [again] = await appendStored(repo, [message(conversationId, a.userId, 'v2', 'checked again')]);
      assert.deepEqual([again!.duplicate, again!.message.seqId], [false, 3]);
    });

    test('a batch mixing resends of stored messages with new ones numbers only the new ones, with no gap', async () => {
      const a = await user();
      const b = await user();
      const c = await user();
      const ab = (await repo.getOrCreateSingleConversation(a.userId, b.userId)).conversationId;
      const ac = (await repo.getOrCreateSingleConversation(a.userId, c.userId)).conversationId;
      const [stored] = await appendStored(repo, [message(ab, a.userId, 'r1', 'first')]);
      const results = await appendStored(repo, [
        message(ab, a.userId, 'n1', 'new one'),
        message(ab, a.userId, 'r1', 'resent, changed'),
        message(ac, a.userId, 'n2', 'elsewhere'),
        message(ab, a.userId, 'r1', 'resent again'),
        message(ab, b.userId, 'n3', 'new two'),
      ]);
      assert.deepEqual(
        results.map((r) => [r.message.conversationId, r.message.seqId, r.duplicate, r.message.content]),
        [
          [ab, 2, false, 'new one'],
          [ab, 1, true, 'first'],
          [ac, 1, false, 'elsewhere'],
          [ab, 1, true, 'first'],
          [ab, 3, false, 'new two'],
        ],
      );
      assert.equal(results[1]!.message.messageId, stored!.message.messageId);
      const history = await repo.getMessages(ab, { kind: 'after', afterSeq: 0, size: 10 });
      assert.deepEqual(history.messages.values.map((m) => [m.seqId, m.content]), [[1, 'first'], [2, 'new one'], [3, 'new two']]);
      assert.equal((await repo.getConversation(ab, a.userId))?.lastReadSeq, 2);
      assert.equal((await repo.getConversation(ab, b.userId))?.lastReadSeq, 3);
      assert.equal((await repo.getConversationInfo(ac))?.lastSeq, 1);
    });

    test('appending to a missing conversation fails and stores nothing', async () => {
      const a = await user();
      await assert.rejects(appendStored(repo, [message('999999999', a.userId, 't')]), (err: unknown) => err instanceof AppError && err.code === 'CONVERSATION_NOT_FOUND');
    });

    // ---- group administration (changeGroup): the rules are logic's, passed in as `decide` ----

    const isCode = (code: string) => (err: unknown) => err instanceof AppError && err.code === code;
    const groupWith = async (ownerId: string, memberIds: string[]) => (await repo.createGroup({ ownerId, name: 'Club', memberIds })).conversationId;
    const change = (conversationId: string, actorId: string, operation: GroupOperation, maxMembers = 100): GroupChange => ({
      conversationId,
      actorId,
      actorName: 'actor',
      maxMembers,
      sendTime: Date.now(),
      decide: (group) => decideGroupChange(group, actorId, operation),
    });

    test('a group change appends its system message, versions the member set and records each item once', async () => {
      const owner = await user('own');
      const ben = await user('ben');
      const cat = await user('cat');
      const conversationId = await groupWith(owner.userId, [ben.userId]);
      await appendStored(repo, [message(conversationId, ben.userId, 'before-add', 'hello')]);
      const added = await repo.changeGroup(change(conversationId, owner.userId, { kind: 'add-members', users: [{ userId: cat.userId, username: cat.username, isGuest: false }] }));
      assert.equal(added.message?.seqId, 2);
      assert.equal(added.message?.messageType, 'system');
      assert.deepEqual(JSON.parse(added.message!.content), { event: 'members-added', users: [{ userId: cat.userId, username: cat.username }] });
      assert.deepEqual([added.membersSeq, added.added, added.recipients.sort()], [2, [cat.userId], [owner.userId, ben.userId, cat.userId].sort()]);
      assert.deepEqual(added.items.map((i) => [i.changeSeq, i.kind]), [[1, 'member'], [2, 'group']]);
      const info = await repo.getConversationInfo(conversationId);
      assert.deepEqual([info?.lastSeq, info?.membersSeq, info?.memberCount], [2, 2, 3]);
      // The added member has only its own system message unread; the actor none.
      assert.deepEqual([(await repo.getConversation(conversationId, cat.userId))?.unreadCount, (await repo.getConversation(conversationId, owner.userId))?.unreadCount], [1, 0]);
      // A send checked at the old version is stale; at the new one it is stored after the system message.
      const [stale] = await repo.appendMessages([message(conversationId, ben.userId, 'old-view')]);
      assert.deepEqual(stale, { stale: true, membersSeq: 2 });
      const [fresh] = await appendStored(repo, [{ ...message(conversationId, ben.userId, 'new-view'), membersSeq: 2 }]);
      assert.equal(fresh!.message.seqId, 3);
      // Renamed twice: one group item, at its latest value; the change feed is compacted.
      await repo.changeGroup(change(conversationId, owner.userId, { kind: 'update-info', patch: { name: 'Club II' } }));
      const renamed = await repo.changeGroup(change(conversationId, owner.userId, { kind: 'update-info', patch: { name: 'Club III' } }));
      assert.equal(renamed.membersSeq, 2, 'a rename does not change the member set');
      const { items: feed } = await repo.getChanges(conversationId, 0, 10);
      assert.deepEqual(feed.map((i) => [i.changeSeq, i.kind]), [[1, 'member'], [4, 'group']]);
      assert.equal(feed[1]!.kind === 'group' && feed[1]!.group?.name, 'Club III');
      assert.deepEqual(await repo.getChanges(conversationId, 1, 10), { items: [feed[1]], total: 1 });
      assert.equal((await repo.getConversation(conversationId, ben.userId))?.name, 'Club III');
    });

    test('racing administrators through separate handles end in one of the two orders, never without an owner', async () => {
      const other = await fixture!.openAgain();
      opened.push(other);
      const codeOf = (outcome: PromiseSettledResult<unknown>) => (outcome.status === 'fulfilled' ? 'ok' : outcome.reason instanceof AppError ? outcome.reason.code : String(outcome.reason));
      const seen = new Set<string>();
      for (let round = 0; round < 10; round++) {
        const owner = await user('own');
        const admin = await user('adm');
        const target = await user('tgt');
        const conversationId = await groupWith(owner.userId, [admin.userId, target.userId]);
        await repo.changeGroup(change(conversationId, owner.userId, { kind: 'set-role', userId: admin.userId, role: 'admin' }));
        // The owner hands over while leaving: transfer first, then the leave succeeds; leave first is refused.
        const [transfer, leave] = await Promise.allSettled([
          repo.changeGroup(change(conversationId, owner.userId, { kind: 'set-role', userId: target.userId, role: 'owner' })),
          other.changeGroup(change(conversationId, owner.userId, { kind: 'remove-member', userId: owner.userId })),
        ]);
        const pair = `${codeOf(transfer)}/${codeOf(leave)}`;
        assert.ok(['ok/ok', 'ok/OWNER_MUST_TRANSFER'].includes(pair), pair);
        seen.add(pair);
        const members = await repo.listMembersPage(conversationId, { page: 1, size: 10 });
        assert.deepEqual(members.members.filter((m) => m.role === 'owner').map((m) => m.userId), [target.userId]);
        assert.equal((await repo.getGroup((await repo.getConversation(conversationId, target.userId))!.groupId!))?.ownerId, target.userId);
        // An admin removes the new owner's admin while the owner demotes it: one wins, the other is told why.
        const [remove, demote] = await Promise.allSettled([
          other.changeGroup(change(conversationId, admin.userId, { kind: 'remove-member', userId: admin.userId })),
          repo.changeGroup(change(conversationId, target.userId, { kind: 'set-role', userId: admin.userId, role: 'member' })),
        ]);
        const second = `${codeOf(remove)}/${codeOf(demote)}`;
        assert.ok(['ok/MEMBER_NOT_FOUND', 'ok/ok'].includes(second), second);
        const info = await repo.getConversationInfo(conversationId);
        const count = (await repo.listMembersPage(conversationId, { page: 1, size: 10 })).total;
        assert.equal(info?.memberCount, count, 'member count matches the rows');
      }
      assert.ok(seen.size >= 1);
    });

    test('getMembersAt reads a member set with its version; systemMessagesBetween names the changes after a message', async () => {
      const owner = await user('own');
      const ben = await user('ben');
      const cat = await user('cat');
      const conversationId = await groupWith(owner.userId, [ben.userId]);
      const at0 = (await repo.getMembersAt(conversationId))!;
      assert.deepEqual([at0.membersSeq, at0.ids.sort()], [0, [owner.userId, ben.userId].sort()]);
      const [hello] = await appendStored(repo, [message(conversationId, ben.userId, 'hello')]);
      await repo.changeGroup(change(conversationId, owner.userId, { kind: 'add-members', users: [{ userId: cat.userId, username: cat.username, isGuest: false }] }));
      await appendStored(repo, [{ ...message(conversationId, cat.userId, 'hi'), membersSeq: 2 }]);
      await repo.changeGroup(change(conversationId, owner.userId, { kind: 'remove-member', userId: ben.userId }));
      const at4 = (await repo.getMembersAt(conversationId))!;
      assert.deepEqual([at4.membersSeq, at4.ids.sort()], [4, [owner.userId, cat.userId].sort()]);
      const between = await repo.systemMessagesBetween(conversationId, hello!.message.seqId, at4.membersSeq, 10);
      assert.deepEqual(
        between.map((m) => [m.seqId, m.senderId, JSON.parse(m.content).event]),
        [
          [2, owner.userId, 'members-added'],
          [4, owner.userId, 'member-removed'],
        ],
      );
      assert.deepEqual(await repo.systemMessagesBetween(conversationId, 4, 4, 10), []);
      assert.equal(await repo.getMembersAt('999999999'), null);
    });

    test('a change the rules refuse changes nothing, and a change that changes nothing writes nothing', async () => {
      const owner = await user('own');
      const ben = await user('ben');
      const conversationId = await groupWith(owner.userId, [ben.userId]);
      await assert.rejects(repo.changeGroup(change(conversationId, ben.userId, { kind: 'remove-member', userId: owner.userId })), isCode('FORBIDDEN'));
      await assert.rejects(repo.changeGroup(change(conversationId, owner.userId, { kind: 'remove-member', userId: owner.userId })), isCode('OWNER_MUST_TRANSFER'));
      const none = await repo.changeGroup(change(conversationId, owner.userId, { kind: 'set-role', userId: ben.userId, role: 'member' }));
      assert.deepEqual([none.message, none.items], [null, []]);
      assert.deepEqual([(await repo.getConversationInfo(conversationId))?.lastSeq, (await repo.getChanges(conversationId, 0, 10)).items.length], [0, 0]);
      const single = (await repo.getOrCreateSingleConversation(owner.userId, ben.userId)).conversationId;
      await assert.rejects(repo.changeGroup(change(single, owner.userId, { kind: 'update-info', patch: { name: 'x' } })), isCode('NOT_GROUP_CONVERSATION'));
      await assert.rejects(repo.changeGroup(change('999999999', owner.userId, { kind: 'disband' })), isCode('CONVERSATION_NOT_FOUND'));
    });

    test('leaving, removal, a transfer and disbanding leave the group with one owner, then with nobody', async () => {
      const owner = await user('own');
      const ben = await user('ben');
      const cat = await user('cat');
      const conversationId = await groupWith(owner.userId, [ben.userId, cat.userId]);
      const removed = await repo.changeGroup(change(conversationId, owner.userId, { kind: 'remove-member', userId: cat.userId }));
      assert.deepEqual([removed.removed, removed.items.find((i) => i.kind === 'member')], [[cat.userId], { changeSeq: 1, kind: 'member', userId: cat.userId, member: null }]);
      assert.equal(await repo.getConversation(conversationId, cat.userId), null, 'a removed member no longer has the conversation');
      await repo.changeGroup(change(conversationId, owner.userId, { kind: 'set-role', userId: ben.userId, role: 'owner' }));
      const roles = Object.fromEntries((await repo.listMembersPage(conversationId, { page: 1, size: 10 })).members.map((m) => [m.userId, m.role]));
      assert.deepEqual(roles, { [owner.userId]: 'admin', [ben.userId]: 'owner' });
      await repo.changeGroup(change(conversationId, owner.userId, { kind: 'remove-member', userId: owner.userId }));
      const disbanded = await repo.changeGroup(change(conversationId, ben.userId, { kind: 'remove-member', userId: ben.userId }));
      assert.deepEqual([disbanded.disbanded, disbanded.message && JSON.parse(disbanded.message.content)], [true, { event: 'group-disbanded' }]);
      assert.deepEqual([(await repo.listMembersPage(conversationId, { page: 1, size: 10 })).total, await repo.listGroups(ben.userId)], [0, []]);
      assert.equal((await repo.getConversationInfo(conversationId))?.lastSeq, 4, 'every change is in the timeline, gap-free');
    });

    test('two changes racing through separate handles end in one consistent group: one owner, one loser', async () => {
      const owner = await user('own');
      const ben = await user('ben');
      const conversationId = await groupWith(owner.userId, [ben.userId]);
      const other = await fixture!.openAgain();
      opened.push(other);
      const [transfer, leave] = await Promise.allSettled([
        repo.changeGroup(change(conversationId, owner.userId, { kind: 'set-role', userId: ben.userId, role: 'owner' })),
        other.changeGroup(change(conversationId, owner.userId, { kind: 'remove-member', userId: owner.userId })),
      ]);
      assert.equal(transfer.status, 'fulfilled');
      const members = (await repo.listMembersPage(conversationId, { page: 1, size: 10 })).members;
      assert.deepEqual(members.filter((m) => m.role === 'owner').map((m) => m.userId), [ben.userId]);
      if (leave.status === 'rejected') assert.equal((leave.reason as AppError).code, 'OWNER_MUST_TRANSFER');
      else assert.deepEqual(members.map((m) => m.userId), [ben.userId], 'the transfer came first, then the former owner left');
      const info = await repo.getConversationInfo(conversationId);
      assert.equal(info?.lastSeq, leave.status === 'fulfilled' ? 2 : 1);
    });

    test('concurrent writers through separate handles get gap-free, unique seqIds', async () => {
      const a = await user();
      const b = await user();
      const { conversationId } = await repo.getOrCreateSingleConversation(a.userId, b.userId);
      const other = await fixture!.openAgain();
      opened.push(other);
      const writers = [repo, other];
      const batches = Array.from({ length: 20 }, (_, i) =>
        appendStored(
          writers[i % 2]!,
          Array.from({ length: 5 }, (_, j) => message(conversationId, i % 3 === 0 ? a.userId : b.userId, `w${i}-${j}`)),
        ),
      );
      // The same tempMessageId racing through both handles is still stored once.
      const race = [repo, other].map((w) => appendStored(w, [message(conversationId, a.userId, 'race')]));
      const results = (await Promise.all(batches)).flat();
      const [r1, r2] = (await Promise.all(race)).flat();
      assert.equal(r1!.message.messageId, r2!.message.messageId);
      assert.equal([r1, r2].filter((r) => r!.duplicate).length, 1);
      const fresh = [...results, r1!, r2!].filter((r) => !r.duplicate).map((r) => r.message.seqId).sort((x, y) => x - y);
      assert.deepEqual(fresh, Array.from({ length: 101 }, (_, i) => i + 1));
      const history = await repo.getMessages(conversationId, { kind: 'after', afterSeq: 0, size: 100 });
      assert.equal(history.total, 101);
      assert.deepEqual(history.messages.values.map((m) => m.seqId), Array.from({ length: 100 }, (_, i) => i + 1));
    });

    test('history pages are exact seq ranges: newest page first, after and before cursors', async () => {
      const a = await user();
      const b = await user();
      const { conversationId } = await repo.getOrCreateSingleConversation(a.userId, b.userId);
      await appendStored(repo, Array.from({ length: 7 }, (_, i) => message(conversationId, a.userId, `h${i}`, `m${i + 1}`)));
      const seqs = async (query: Parameters<Repo['getMessages']>[1]) => {
        const page = await repo.getMessages(conversationId, query);
        return { seqs: page.messages.values.map((m) => m.seqId), total: page.total, hasMore: page.hasMore };
      };
      assert.deepEqual(await seqs({ kind: 'page', page: 1, size: 3 }), { seqs: [5, 6, 7], total: 7, hasMore: true });
      assert.deepEqual(await seqs({ kind: 'page', page: 3, size: 3 }), { seqs: [1], total: 7, hasMore: false });
      assert.deepEqual(await seqs({ kind: 'page', page: 4, size: 3 }), { seqs: [], total: 7, hasMore: false });
      assert.deepEqual(await seqs({ kind: 'after', afterSeq: 5, size: 10 }), { seqs: [6, 7], total: 7, hasMore: false });
      assert.deepEqual(await seqs({ kind: 'after', afterSeq: 1, size: 2 }), { seqs: [2, 3], total: 7, hasMore: true });
      assert.deepEqual(await seqs({ kind: 'before', beforeSeq: 3, size: 10 }), { seqs: [1, 2], total: 7, hasMore: false });
      const [first] = (await repo.getMessages(conversationId, { kind: 'after', afterSeq: 0, size: 1 })).messages.values;
      assert.equal(first?.content, 'm1');
      assert.equal(first?.senderId, a.userId);
      assert.equal(first?.conversationId, conversationId);
    });

    test('a history page encodes exactly the messages the appends returned, whatever the content', async () => {
      const a = await user();
      const b = await user();
      const { conversationId } = await repo.getOrCreateSingleConversation(a.userId, b.userId);
      const tricky = ['plain', 'quote " and \\ backslash', '</script><img onerror=x>', 'emoji 😀 and 中文', 'tab\tand\nnewline', 'u2028 \u2028 end'];
      const results = await appendStored(repo, tricky.map((content, i) => message(conversationId, i % 2 ? b.userId : a.userId, `json-${i}`, content)));
      // The live frame's payload is the stored message, in the schema's shape.
      for (const r of results) assert.deepEqual(JSON.parse(encodeMessage(r.message)), r.message);
      const appended = results.map((r) => r.message);
      const queries: HistoryQuery[] = [
        { kind: 'page', page: 1, size: 4 },
        { kind: 'page', page: 2, size: 4 },
        { kind: 'page', page: 9, size: 4 },
        { kind: 'after', afterSeq: 1, size: 3 },
        { kind: 'before', beforeSeq: 6, size: 50 },
      ];
      for (const query of queries) {
        const page = await repo.getMessages(conversationId, query);
        const seqs = page.messages.values.map((m) => m.seqId);
        assert.deepEqual(JSON.parse(page.messages.encode()), appended.filter((m) => seqs.includes(m.seqId)), JSON.stringify(query));
        assert.equal(page.messages.length, seqs.length);
      }
      const all = await repo.getMessages(conversationId, { kind: 'page', page: 1, size: 50 });
      assert.deepEqual(JSON.parse(all.messages.encode()), appended);
      assert.deepEqual(all.messages.values.map((m) => m.content), tricky);
      const none = await repo.getMessages('x', { kind: 'page', page: 1, size: 50 });
      assert.deepEqual([none.messages.encode(), none.total, none.hasMore], ['[]', 0, false]);
    });

    test('markReadMany without a seqId moves the pointer to the newest message', async () => {
      const a = await user();
      const b = await user();
      const { conversationId } = await repo.getOrCreateSingleConversation(a.userId, b.userId);
      await appendStored(repo, [message(conversationId, a.userId, 'r1'), message(conversationId, a.userId, 'r2')]);
      assert.equal((await repo.getConversation(conversationId, b.userId))?.unreadCount, 2);
      const [marked] = await repo.markReadMany([{ conversationId, userId: b.userId, seqId: null }]);
      assert.deepEqual(marked, { read: { conversationId, lastReadSeq: 2, unreadCount: 0 }, moved: true, member: true });
      assert.equal((await repo.getConversation(conversationId, b.userId))?.unreadCount, 0);
    });

    test('listConversations puts the newest activity first', async () => {
      const a = await user();
      const b = await user();
      const c = await user();
      const ab = await repo.getOrCreateSingleConversation(a.userId, b.userId);
      const ac = await repo.getOrCreateSingleConversation(a.userId, c.userId);
      await appendStored(repo, [{ ...message(ab.conversationId, b.userId, 'l1'), sendTime: Date.now() + 60_000 }]);
      const list = await repo.listConversations(a.userId);
      assert.deepEqual(list.map((x) => x.conversationId), [ab.conversationId, ac.conversationId]);
      assert.equal(list[0]?.unreadCount, 1);
      assert.equal(list[1]?.peer?.userId, c.userId);
    });

    /** The position a page ends at, as logic builds its cursor from the last conversation. */
    const keyOf = (c: Conversation): ConversationKey => ({ pinned: c.settings.pinned, updatedAt: Date.parse(c.updatedAt), conversationId: c.conversationId });

    /** Every page of `userId`'s list with `limit`, in order. */
    async function walk(userId: string, limit: number) {
      const pages = [];
      let after: ConversationKey | null = null;
      for (;;) {
        const page = await repo.listConversationsPage(userId, { limit, after });
        pages.push(page);
        const last = page.conversations.at(-1);
        if (!page.hasMore || !last) return pages;
        after = keyOf(last);
      }
    }

    /** A user in `count` conversations (1:1 and groups), several of them last active in the same millisecond. */
    test('settings: pinned list first, hidden left out until a later message, only for the member', async () => {
      const { a, ids } = await busyUser(4);
      const stranger = await user('str');
      assert.equal(await repo.updateSettings(ids[0]!, stranger.userId, { muted: true }), false);
      assert.equal(await repo.updateSettings(ids[2]!, a.userId, { pinnedAt: 1, muted: true }), true);
      assert.equal(await repo.updateSettings(ids[1]!, a.userId, { hidden: true }), true);
      const listed = await repo.listConversations(a.userId);
      assert.equal(listed[0]?.conversationId, ids[2]);
      assert.deepEqual(listed[0]?.settings, { muted: true, pinned: true, hidden: false });
      assert.ok(!listed.some((c) => c.conversationId === ids[1]));
      assert.equal((await repo.listConversations(a.userId, { includeHidden: true })).find((c) => c.conversationId === ids[1])?.settings.hidden, true);
      const page = await repo.listConversationsPage(a.userId, { limit: 10, after: null });
      assert.deepEqual([page.conversations.map((c) => c.conversationId), page.total], [listed.map((c) => c.conversationId), listed.length]);
      await appendStored(repo, [message(ids[1]!, a.userId, 'wake', 'wake')]);
      assert.ok((await repo.listConversations(a.userId)).some((c) => c.conversationId === ids[1] && !c.settings.hidden));
      assert.equal(await repo.updateSettings(ids[2]!, a.userId, { pinnedAt: null }), true);
      assert.equal((await repo.getConversation(ids[2]!, a.userId))?.settings.pinned, false);
    });

    async function busyUser(count: number) {
      const a = await user('busy');
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        if (i % 2 === 0) ids.push((await repo.getOrCreateSingleConversation(a.userId, (await user('peer')).userId)).conversationId);
        else ids.push((await repo.createGroup({ ownerId: a.userId, name: `g${i}`, memberIds: [] })).conversationId);
      }
      // Activity at a few shared instants: ties on updated_at are ordered by id, and a page may end inside a tie.
      const base = Date.now() + 3_600_000;
      await appendStored(repo, ids.map((id, i) => ({ ...message(id, a.userId, `busy-${i}`, `m${i}`), sendTime: base + (i % 3) * 1000 })));
      return { a, ids };
    }

    test('listConversationsPage walks the whole list in pages: each conversation once, in listConversations order', async () => {
      const { a } = await busyUser(8);
      const whole = await repo.listConversations(a.userId);
      const pages = await walk(a.userId, 3);
      assert.deepEqual(pages.map((p) => p.conversations.length), [3, 3, 2]);
      assert.deepEqual(pages.map((p) => p.hasMore), [true, true, false]);
      assert.deepEqual(pages.map((p) => p.total), [8, 8, 8]);
      // Deep-equal: lastMessage, unreadCount, peer and groupId are those of the unpaged list.
      assert.deepEqual(pages.flatMap((p) => p.conversations), whole);
    });

    test('listConversationsPage: a conversation that moves to the top during a walk shifts no other one', async () => {
      const { a } = await busyUser(7);
      const before = await repo.listConversations(a.userId);
      const first = await repo.listConversationsPage(a.userId, { limit: 3, after: null });
      // A conversation not yet reached gets a message: it moves above the cursor.
      const moved = before[5]!;
      await appendStored(repo, [{ ...message(moved.conversationId, a.userId, 'mover'), sendTime: Date.now() + 7_200_000 }]);
      let after = keyOf(first.conversations.at(-1)!);
      const rest: Conversation[] = [];
      for (;;) {
        const page = await repo.listConversationsPage(a.userId, { limit: 3, after });
        rest.push(...page.conversations);
        if (!page.hasMore) break;
        after = keyOf(page.conversations.at(-1)!);
      }
      const unchanged = before.slice(3).filter((c) => c.conversationId !== moved.conversationId);
      assert.deepEqual(rest.map((c) => c.conversationId), unchanged.map((c) => c.conversationId));
      const top = await repo.listConversationsPage(a.userId, { limit: 1, after: null });
      assert.equal(top.conversations[0]?.conversationId, moved.conversationId);
    });

    test('listConversationsPage counts only the caller\'s conversations, and an unknown user has none', async () => {
      const { a, ids } = await busyUser(3);
      const other = await user();
      await repo.getOrCreateSingleConversation(other.userId, (await user()).userId);
      const page = await repo.listConversationsPage(other.userId, { limit: 100, after: null });
      assert.equal(page.total, 1);
      assert.ok(page.conversations.every((c) => !ids.includes(c.conversationId)));
      assert.equal((await repo.listConversationsPage(a.userId, { limit: 100, after: null })).total, 3);
      assert.deepEqual(await repo.listConversationsPage('x', { limit: 10, after: null }), { conversations: [], total: 0, hasMore: false });
    });

    test('listConversationsPage past the last conversation is empty', async () => {
      const { a } = await busyUser(2);
      const page = await repo.listConversationsPage(a.userId, { limit: 10, after: { pinned: false, updatedAt: 0, conversationId: '1' } });
      assert.deepEqual(page, { conversations: [], total: 2, hasMore: false });
    });

    // ---- message changes (recall, edit, reactions) ----

    const pairWithMessages = async (...contents: string[]) => {
      const [a, b] = [await user(), await user()];
      const { conversationId } = await repo.getOrCreateSingleConversation(a.userId, b.userId);
      const stored = await appendStored(repo, contents.map((content, i) => message(conversationId, a.userId, uniq(`m${i}-`), content)));
      return { a, b, conversationId, messages: stored.map((s) => s.message) };
    };
    const messageChange = (messageId: string, actorId: string, edit: MessageEdit, decide: MessageChange['decide'] = () => true): MessageChange => ({
      messageId,
      actorId,
      edit,
      now: () => Date.now(),
      decide,
    });
    const historyOf = async (conversationId: string, viewerId?: string) =>
      (await repo.getMessages(conversationId, { kind: 'page', page: 1, size: 100 }, viewerId)).messages.values;

    test('changeMessage: an edit is served everywhere with editedAt, and bumps changeSeq once', async () => {
      const { a, conversationId, messages } = await pairWithMessages('draft');
      const result = await repo.changeMessage(messageChange(messages[0]!.messageId, a.userId, { kind: 'edit', content: 'final' }));
      assert.equal(result.message.content, 'final');
      assert.ok(result.message.editedAt);
      assert.equal(result.item?.changeSeq, 1);
      const [stored] = await historyOf(conversationId);
      assert.deepEqual(stored, result.message);
      assert.equal(encodeMessage(stored!), JSON.stringify(result.message), 'stored text and columns agree');
      assert.deepEqual((await repo.getConversation(conversationId, a.userId))?.lastMessage, result.message);
      const { items } = await repo.getChanges(conversationId, 0, 10);
      assert.deepEqual(items, [{ changeSeq: 1, kind: 'message', seqId: 1, message: result.message }]);
    });

    test('changeMessage: decide sees the message as stored and the actor\'s role; false changes nothing', async () => {
      const { a, b, conversationId, messages } = await pairWithMessages('keep');
      let seen: Parameters<MessageChange['decide']>[0] | undefined;
      const result = await repo.changeMessage(messageChange(messages[0]!.messageId, b.userId, { kind: 'recall' }, (target) => ((seen = target), false)));
      assert.deepEqual([seen?.message.content, seen?.conversationType, seen?.actorRole, seen?.myReactions], ['keep', 'single', 'member', []]);
      assert.equal(result.item, null);
      assert.equal((await repo.getConversation(conversationId, a.userId))?.changeSeq, 0);
      const stranger = await user();
      await repo.changeMessage(messageChange(messages[0]!.messageId, stranger.userId, { kind: 'recall' }, (target) => ((seen = target), false)));
      assert.equal(seen?.actorRole, null);
    });

    test('changeMessage: an error from decide rolls back, an unknown message is MESSAGE_NOT_FOUND', async () => {
      const { a, messages } = await pairWithMessages('x');
      await assert.rejects(
        repo.changeMessage(messageChange(messages[0]!.messageId, a.userId, { kind: 'edit', content: 'y' }, () => {
          throw new AppError('FORBIDDEN');
        })),
        (err: unknown) => err instanceof AppError && err.code === 'FORBIDDEN',
      );
      for (const id of ['999999999', 'abc']) {
        await assert.rejects(repo.changeMessage(messageChange(id, a.userId, { kind: 'recall' })), (err: unknown) => err instanceof AppError && err.code === 'MESSAGE_NOT_FOUND');
      }
      assert.equal(await repo.getMessage('abc'), null);
    });

    test('reactions: counted once per user and emoji, each reader sees its own, who is listed', async () => {
      const { a, b, conversationId, messages } = await pairWithMessages('vote');
      const id = messages[0]!.messageId;
      await repo.changeMessage(messageChange(id, a.userId, { kind: 'react', emoji: '👍', add: true }));
      const repeat = await repo.changeMessage(messageChange(id, a.userId, { kind: 'react', emoji: '👍', add: true }));
      assert.equal(repeat.item, null, 'a repeated reaction changes nothing');
      await repo.changeMessage(messageChange(id, b.userId, { kind: 'react', emoji: '👍', add: true }));
      const last = await repo.changeMessage(messageChange(id, b.userId, { kind: 'react', emoji: '🎉', add: true }));
      assert.deepEqual(last.message.reactions, [{ emoji: '👍', count: 2 }, { emoji: '🎉', count: 1 }]);
      assert.deepEqual(last.myReactions, ['👍', '🎉']);
      assert.deepEqual(last.item?.reaction, { userId: b.userId, emoji: '🎉', added: true });
      assert.deepEqual((await historyOf(conversationId, a.userId))[0]?.myReactions, ['👍']);
      // A set: its order carries no meaning.
      assert.deepEqual((await historyOf(conversationId, b.userId))[0]?.myReactions?.sort(), ['👍', '🎉'].sort());
      assert.equal((await historyOf(conversationId))[0]?.myReactions, undefined);
      const feed = await repo.getChanges(conversationId, 0, 10, a.userId);
      assert.deepEqual(feed.items.map((i) => i.kind === 'message' && i.message.myReactions), [['👍']], 'compacted to one item, with the reader\'s own');
      const who = await repo.listReactions(conversationId, 1, { page: 1, size: 10 });
      // Oldest first; reactions of the same millisecond in any order.
      const pairs = (list: typeof who.reactors) => list.map((r) => `${r.userId} ${r.emoji}`).sort();
      assert.equal(who.total, 3);
      assert.deepEqual(pairs(who.reactors), [`${a.userId} 👍`, `${b.userId} 👍`, `${b.userId} 🎉`].sort());
      assert.equal((await repo.listReactions(conversationId, 1, { page: 1, size: 10, emoji: '🎉' })).total, 1);
      const undone = await repo.changeMessage(messageChange(id, a.userId, { kind: 'react', emoji: '👍', add: false }));
      assert.deepEqual([undone.message.reactions, undone.myReactions], [[{ emoji: '👍', count: 1 }, { emoji: '🎉', count: 1 }], []]);
    });

    test('recall: the content, extra, reactions and every quote of it are gone from storage', async () => {
      const { a, b, conversationId, messages } = await pairWithMessages('the secret');
      const original = messages[0]!;
      const [reply] = await appendStored(repo, [{
        ...message(conversationId, b.userId, uniq('reply'), 'answer'),
        replyTo: { messageId: original.messageId, seqId: 1, senderId: a.userId, senderName: 'sender', messageType: 'text', preview: 'the secret' },
        extra: { note: 'the secret' },
      }]);
      await repo.changeMessage(messageChange(reply!.message.messageId, a.userId, { kind: 'react', emoji: '👀', add: true }));
      await repo.changeMessage(messageChange(original.messageId, b.userId, { kind: 'react', emoji: '👍', add: true }));
      const recalled = await repo.changeMessage(messageChange(original.messageId, a.userId, { kind: 'recall' }));
      assert.deepEqual([recalled.message.content, recalled.message.reactions, recalled.message.recalledBy, recalled.myReactions], ['', undefined, a.userId, []]);
      const history = await historyOf(conversationId, b.userId);
      assert.deepEqual(history[0], recalled.message);
      assert.deepEqual(history[1]?.replyTo, { messageId: original.messageId, seqId: 1, senderId: a.userId, senderName: 'sender', messageType: 'text', preview: '', recalled: true });
      const feed = await repo.getChanges(conversationId, 0, 10);
      assert.ok(!JSON.stringify(feed).includes('the secret'.slice(0, 10)) || JSON.stringify(feed).includes('"note":"the secret"'), 'only the reply\'s own extra may say it');
      assert.ok(!JSON.stringify([history[0], feed.items.find((i) => i.kind === 'message' && i.seqId === 1)]).includes('the secret'));
      const replyItem = feed.items.find((i) => i.kind === 'message' && i.seqId === 2);
      assert.ok(replyItem?.kind === 'message' && replyItem.message.replyTo?.recalled === true, 'the reply\'s compacted item is emptied in place');
      assert.equal((await repo.listReactions(conversationId, 1, { page: 1, size: 10 })).total, 0);
      assert.deepEqual((await repo.getConversation(conversationId, a.userId))?.lastMessage?.replyTo?.preview, '');
    });

    test('a reply whose target was recalled after its snapshot was taken is stored quoting it as recalled', async () => {
      const { a, b, conversationId, messages } = await pairWithMessages('said in haste');
      const target = messages[0]!;
      // The snapshot logic took before the recall committed.
      const snapshot = { messageId: target.messageId, seqId: target.seqId, senderId: a.userId, senderName: 'sender', messageType: 'text' as const, preview: 'said in haste' };
      await repo.changeMessage(messageChange(target.messageId, a.userId, { kind: 'recall' }));
      const [reply] = await appendStored(repo, [{ ...message(conversationId, b.userId, uniq('late-reply'), 'late'), replyTo: snapshot }]);
      assert.deepEqual(reply!.message.replyTo, { ...snapshot, preview: '', recalled: true });
      assert.deepEqual((await historyOf(conversationId))[1]?.replyTo, { ...snapshot, preview: '', recalled: true });
    });

    test('changeMessage: racing edits through two handles serialize: the later commit wins everywhere', async () => {
      const { a, conversationId, messages } = await pairWithMessages('v0');
      const other = await fixture!.openAgain();
      opened.push(other);
      const id = messages[0]!.messageId;
      const results = await Promise.all(['v1', 'v2', 'v3', 'v4'].map((content, i) => (i % 2 ? other : repo).changeMessage(messageChange(id, a.userId, { kind: 'edit', content }))));
      const last = results.reduce((x, y) => (x.item!.changeSeq > y.item!.changeSeq ? x : y));
      assert.deepEqual(results.map((r) => r.item!.changeSeq).sort(), [1, 2, 3, 4]);
      assert.equal((await historyOf(conversationId))[0]?.content, last.message.content);
      assert.equal((await repo.getConversation(conversationId, a.userId))?.changeSeq, 4);
    });

    test('markReadMany: to a seqId, never back, never past the newest, in one transaction', async () => {
      const { a, b, conversationId } = await pairWithMessages('1', '2', '3', '4');
      const stranger = await user();
      const results = await repo.markReadMany([
        { conversationId, userId: b.userId, seqId: 2 },
        { conversationId, userId: a.userId, seqId: 1 },
        { conversationId, userId: stranger.userId, seqId: 3 },
        { conversationId: 'x', userId: b.userId, seqId: 3 },
      ]);
      assert.deepEqual(results.map((r) => [r.read.lastReadSeq, r.read.unreadCount, r.moved, r.member]), [
        [2, 2, true, true],
        [4, 0, false, true], // the sender has read its own messages: 1 is behind its pointer
        [0, 0, false, false],
        [0, 0, false, false],
      ]);
      const [back, beyond, all] = await repo.markReadMany([{ conversationId, userId: b.userId, seqId: 1 }, { conversationId, userId: b.userId, seqId: 3 }, { conversationId, userId: b.userId, seqId: null }]);
      assert.deepEqual([back!.read.lastReadSeq, back!.moved, beyond!.read.lastReadSeq, all!.read.lastReadSeq], [2, false, 3, 4]);
      assert.equal((await repo.markReadMany([{ conversationId, userId: b.userId, seqId: 99 }]))[0]!.read.lastReadSeq, 4);
    });

    test('ping answers', async () => {
      await repo.ping();
    });
  });
}
