/**
 * The SDK's kept conversations against a scripted source: what live frames said while the list was
 * being read is not undone by that older list, a group lost meanwhile is forgotten, not a failure,
 * and the change feed of every conversation type is read, its message items handed on.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConversationSync, type ConversationSyncSource } from '../../sdk/lib/conversation-sync.js';
import type { ChangeItem, Conversation, GroupMember, Message, Pagination } from '../../src/protocol/index.js';
import { GoChatError } from '../../sdk/index.js';

const row = (id: string, over: Partial<Conversation> = {}): Conversation => ({
  conversationId: id,
  type: 'group',
  name: `g${id}`,
  avatar: '',
  memberCount: 1,
  lastMessage: null,
  unreadCount: 0,
  lastReadSeq: 0,
  updatedAt: '2026-12-03T10:00:00.000Z',
  changeSeq: 0,
  settings: { muted: false, pinned: false, hidden: false },
  groupId: id,
  myRole: 'member',
  ...over,
});
const member = (userId: string): GroupMember => ({ userId, username: userId, avatar: '', role: 'member', joinedAt: '2026-12-03T10:00:00.000Z' });
const page = (n: number): Pagination => ({ page: 1, size: 100, total: n, hasMore: false });

/** The server as it is now: `rows` by id; anything else is not the caller's. */
function source(rows: Map<string, Conversation>, members: Record<string, GroupMember[]> = {}): ConversationSyncSource {
  const gone = () => new GoChatError('NOT_CONVERSATION_MEMBER', 'not a member');
  return {
    conversations: async () => [...rows.values()],
    conversation: async (id) => {
      const found = rows.get(id);
      if (!found) throw gone();
      return found;
    },
    members: async (id) => {
      if (!rows.has(id)) throw gone();
      return { members: members[id] ?? [], pagination: page((members[id] ?? []).length) };
    },
    changes: async (): Promise<{ items: ChangeItem[]; pagination: Pagination }> => ({ items: [], pagination: page(0) }),
  };
}

const message = (seqId: number, over: Partial<Message> = {}): Message => ({ messageId: `m${seqId}`, conversationId: '1', senderId: 'x', senderName: 'x', content: 'hi', messageType: 'text', seqId, sendTime: '2026-12-03T10:00:00.000Z', ...over });
/** Resolves once `check()` holds, polling: the sync's reads run on their own. */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(check(), 'timed out');
}

const sync = (src: ConversationSyncSource, keepMembers = false) => new ConversationSync({ source: src, members: keepMembers, me: () => 'me', report: (err) => assert.fail(String(err)) });

describe('ConversationSync', () => {
  it("a last message that quotes a message just recalled shows the quote recalled", () => {
    const kept = sync(source(new Map()));
    const quote = { messageId: 'm1', seqId: 1, senderId: 'x', senderName: 'x', messageType: 'text' as const, preview: 'the secret' };
    kept.added(row('1', { lastMessage: message(2, { replyTo: quote }) }));
    kept.messageChanged({ conversationId: '1', changeSeq: 1, message: message(1, { content: '', recalledAt: '2026-12-04T00:00:00.000Z' }), source: 'live' });
    assert.deepEqual(kept.conversation('1')?.lastMessage?.replyTo, { ...quote, preview: '', recalled: true });
  });

  it("never changes an object it handed out: neither the added frame's nor a listed copy", () => {
    const kept = sync(source(new Map()));
    const added = row('7');
    kept.added(added);
    const listed = kept.conversations()[0]!;
    kept.settings({ conversationId: '7', settings: { muted: true, pinned: false, hidden: false } });
    kept.message(message(1, { conversationId: '7' }));
    assert.deepEqual([added.settings.muted, added.lastMessage], [false, null], "the frame's object is the app's");
    assert.deepEqual([listed.settings.muted, listed.lastMessage], [false, null], 'a listed copy stays as it was');
    assert.deepEqual([kept.conversation('7')?.settings.muted, kept.conversation('7')?.lastMessage?.seqId], [true, 1]);
  });

  it('keeps what frames said while the list was being read: added, removed, settings', async () => {
    const now = new Map([
      ['1', row('1')],
      ['3', row('3', { settings: { muted: false, pinned: true, hidden: false } })],
      ['4', row('4')],
    ]);
    const kept = sync(source(now));
    kept.beginRefresh();
    // The list as read before the frames below: 1, 2 and 3 unpinned; not 4.
    const older = [row('1'), row('2'), row('3')];
    kept.added(now.get('4')!);
    kept.removed('2');
    kept.settings({ conversationId: '3', settings: { muted: false, pinned: true, hidden: false } });
    await kept.refresh(older);
    assert.deepEqual(kept.conversations().map((c) => c.conversationId).sort(), ['1', '3', '4']);
    assert.equal(kept.conversation('3')?.settings.pinned, true);
  });

  it('keeps a message newer than the list without reading the conversation again', async () => {
    const src = source(new Map([['1', row('1')]]));
    src.conversation = async () => assert.fail('a message alone needs no re-read');
    const kept = sync(src);
    const message = (seqId: number) => ({ messageId: `m${seqId}`, conversationId: '1', senderId: 'x', senderName: 'x', content: 'hi', messageType: 'text' as const, seqId, sendTime: `2026-12-03T10:00:0${seqId}.000Z` });
    await kept.refresh([row('1', { lastMessage: message(3) })]);
    kept.beginRefresh();
    kept.message(message(5));
    await kept.refresh([row('1', { lastMessage: message(4), settings: { muted: true, pinned: false, hidden: true } })]);
    const now = kept.conversation('1')!;
    assert.deepEqual([now.lastMessage?.seqId, now.settings], [5, { muted: true, pinned: false, hidden: false }]);
  });

  it('reads the changes of a 1:1 whose changeSeq moved on and hands on its message items; a failed read is read again', async () => {
    const chat = (over: Partial<Conversation> = {}) => row('1', { type: 'single', ...over });
    const feed: ChangeItem[] = [1, 2, 3].map((n) => ({ changeSeq: n, kind: 'message', seqId: n, message: message(n) }));
    const asked: number[] = [];
    let down = true;
    const src = source(new Map([['1', chat()]]));
    src.changes = async (_id, after) => {
      asked.push(after);
      if (down) throw new GoChatError('SERVICE_UNAVAILABLE', 'down');
      const items = feed.filter((i) => i.changeSeq > after);
      return { items, pagination: page(items.length) };
    };
    const handed: number[] = [];
    const kept = new ConversationSync({ source: src, members: false, me: () => 'me', report: (err) => assert.fail(String(err)), changedMessages: (_id, items) => handed.push(...items.map((i) => i.changeSeq)) });
    await kept.refresh([chat({ changeSeq: 1 })]);
    assert.deepEqual(asked, [], 'new here: its row is current');
    await assert.rejects(kept.refresh([chat({ changeSeq: 3 })]));
    down = false;
    await kept.refresh([chat({ changeSeq: 3 })]);
    assert.deepEqual(asked, [1, 1], 'read again from where it was');
    assert.deepEqual(handed, [2, 3]);
    assert.equal(kept.conversation('1')?.changeSeq, 3);
    // Live, after a gap: what was missed is read, from any conversation type.
    feed.push({ changeSeq: 4, kind: 'message', seqId: 1, message: message(1) }, { changeSeq: 5, kind: 'message', seqId: 2, message: message(2) });
    kept.update({ conversationId: '1', fromChangeSeq: 5, changeSeq: 5, items: [feed[4]!] });
    await until(() => handed.length === 4);
    assert.deepEqual([asked.at(-1), handed], [3, [2, 3, 4, 5]]);
  });

  it("shows a change of the conversation's last message in the kept list", async () => {
    const kept = sync(source(new Map()));
    await kept.refresh([row('1', { lastMessage: message(2, { reactions: [{ emoji: '👍', count: 1 }], myReactions: ['👍'] }) })]);
    kept.messageChanged({ conversationId: '1', changeSeq: 1, message: message(1, { content: '' }), source: 'live' });
    assert.equal(kept.conversation('1')?.lastMessage?.content, 'hi', 'not the last message');
    kept.messageChanged({ conversationId: '1', changeSeq: 2, message: message(2, { content: 'edited', reactions: [{ emoji: '👍', count: 2 }] }), source: 'live' });
    const last = kept.conversation('1')?.lastMessage;
    assert.deepEqual([last?.content, last?.myReactions], ['edited', ['👍']]);
  });

  it('forgets a group lost between the list and its member read, instead of failing the refresh', async () => {
    const now = new Map([['1', row('1')]]);
    const kept = sync(source(now, { '1': [member('me')] }), true);
    await kept.refresh([row('1'), row('9')]);
    assert.deepEqual(kept.conversations().map((c) => c.conversationId), ['1']);
    assert.deepEqual(kept.members('1')?.map((m) => m.userId), ['me']);
  });
});
