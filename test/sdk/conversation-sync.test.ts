/**
 * The SDK's kept conversations against a scripted source: what live frames said while the list was
 * being read is not undone by that older list, and a group lost meanwhile is forgotten, not a failure.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConversationSync, type ConversationSyncSource } from '../../sdk/lib/conversation-sync.js';
import type { ChangeItem, Conversation, GroupMember, Pagination } from '../../src/protocol/index.js';
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

const sync = (src: ConversationSyncSource, keepMembers = false) => new ConversationSync({ source: src, members: keepMembers, me: () => 'me', report: (err) => assert.fail(String(err)) });

describe('ConversationSync', () => {
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

    it('forgets a group lost between the list and its member read, instead of failing the refresh', async () => {
    const now = new Map([['1', row('1')]]);
    const kept = sync(source(now, { '1': [member('me')] }), true);
    await kept.refresh([row('1'), row('9')]);
    assert.deepEqual(kept.conversations().map((c) => c.conversationId), ['1']);
    assert.deepEqual(kept.members('1')?.map((m) => m.userId), ['me']);
  });
});
