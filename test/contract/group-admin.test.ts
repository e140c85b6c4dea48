/**
 * Group administration over HTTP (docs/protocol.md "Group administration"): every operation's
 * answer, who may do it, what it writes to the timeline and the change cursor, and the errors.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, fullHistory } from '../helpers/client.js';
import { parseSystemContent, type AuthResult, type ChangeItem, type Conversation, type Group, type GroupMember, type MyGroup } from '../../src/protocol/index.js';

let server: TestServer;
let api: Api;
/** The people of every test, registered once: each test makes its own group of them (logins are rate limited per address on a shared server). */
let people: Omit<Crew, 'conversationId' | 'groupId'>;

before(async () => {
  server = await startServer();
  api = new Api(server.baseUrl);
  const [owner, admin, member, outsider] = await Promise.all([api.user('own'), api.user('adm'), api.user('mem'), api.user('out')]);
  people = { owner, admin, member, outsider };
});
after(async () => server.stop());

interface Crew {
  owner: AuthResult;
  admin: AuthResult;
  member: AuthResult;
  outsider: AuthResult;
  conversationId: string;
  groupId: string;
}

/** A fresh group of an owner, an admin and a member, and a registered user outside it. */
async function crew(): Promise<Crew> {
  const { owner, admin, member, outsider } = people;
  const created = await api.post<{ group: Group; conversation: Conversation }>('/api/groups', { groupName: 'Crew', members: [admin.user.userId, member.user.userId] }, owner.token);
  assert.equal(created.status, 201);
  const { conversationId, groupId } = created.body.data.group;
  const promoted = await api.put(`/api/conversations/${conversationId}/members/${admin.user.userId}`, { role: 'admin' }, owner.token);
  assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
  return { owner, admin, member, outsider, conversationId, groupId };
}

const members = (c: string) => `/api/conversations/${c}/members`;
const member = (c: string, u: string) => `/api/conversations/${c}/members/${u}`;

async function conversationOf(conversationId: string, who: AuthResult): Promise<Conversation> {
  const res = await api.get<Conversation>(`/api/conversations/${conversationId}`, who.token);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data;
}

async function roles(conversationId: string, who: AuthResult): Promise<Record<string, string>> {
  const res = await api.get<GroupMember[]>(`${members(conversationId)}?size=100`, who.token);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return Object.fromEntries(res.body.data.map((m) => [m.userId, m.role]));
}

async function lastSystemEvent(conversationId: string, who: AuthResult) {
  const history = await fullHistory(api, conversationId, who.token);
  const last = history.at(-1)!;
  assert.equal(last.messageType, 'system');
  return { message: last, content: parseSystemContent(last.content) };
}

describe('POST /api/conversations/{id}/members', () => {
  it('adds users as members and answers those added', async () => {
    const g = await crew();
    const res = await api.post<GroupMember[]>(members(g.conversationId), { members: [g.outsider.user.userId] }, g.admin.token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(
      res.body.data.map((m) => [m.userId, m.username, m.role]),
      [[g.outsider.user.userId, g.outsider.user.username, 'member']],
    );
    assert.equal((await conversationOf(g.conversationId, g.outsider)).memberCount, 4);
    const list = await api.get<Conversation[]>('/api/conversations', g.outsider.token);
    assert.ok(list.body.data.some((c) => c.conversationId === g.conversationId));
  });

  it('appends a members-added system message from the actor, naming the users', async () => {
    const g = await crew();
    await api.post(members(g.conversationId), { members: [g.outsider.user.userId] }, g.owner.token);
    const { message, content } = await lastSystemEvent(g.conversationId, g.member);
    assert.equal(message.senderId, g.owner.user.userId);
    assert.deepEqual(content, { event: 'members-added', users: [{ userId: g.outsider.user.userId, username: g.outsider.user.username }] });
  });

  it('ignores users already in the group; nobody new writes nothing', async () => {
    const g = await crew();
    const before = await conversationOf(g.conversationId, g.owner);
    const res = await api.post<GroupMember[]>(members(g.conversationId), { members: [g.member.user.userId, g.admin.user.userId] }, g.owner.token);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.data, []);
    const after = await conversationOf(g.conversationId, g.owner);
    assert.deepEqual([after.lastMessage?.seqId, after.changeSeq, after.memberCount], [before.lastMessage?.seqId, before.changeSeq, before.memberCount]);
  });

  it('refuses a plain member with 403 FORBIDDEN naming the role required', async () => {
    const g = await crew();
    const res = await api.post(members(g.conversationId), { members: [g.outsider.user.userId] }, g.member.token);
    assert.equal(res.status, 403);
    assert.equal(res.body.code, 'FORBIDDEN');
    assert.equal((await conversationOf(g.conversationId, g.owner)).memberCount, 3);
  });

  it('refuses unknown user ids with 404 USER_NOT_FOUND and adds nobody', async () => {
    const g = await crew();
    const res = await api.post(members(g.conversationId), { members: [g.outsider.user.userId, '99999999'] }, g.owner.token);
    assert.equal(res.status, 404);
    assert.equal(res.body.code, 'USER_NOT_FOUND');
    assert.match(res.body.message, /99999999/);
    assert.equal((await conversationOf(g.conversationId, g.owner)).memberCount, 3);
  });

  it('refuses an empty list and more than 100 ids with 400 VALIDATION_ERROR', async () => {
    const g = await crew();
    for (const ids of [[], Array.from({ length: 101 }, (_, i) => String(i + 1))]) {
      const res = await api.post(members(g.conversationId), { members: ids }, g.owner.token);
      assert.equal(res.status, 400);
      assert.equal(res.body.code, 'VALIDATION_ERROR');
    }
  });
});

describe('DELETE /api/conversations/{id}/members/{userId}', () => {
  it('lets an admin remove a member, who then reads nothing of the group', async () => {
    const g = await crew();
    const res = await api.del(member(g.conversationId, g.member.user.userId), g.admin.token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.data, null);
    for (const path of [`/api/conversations/${g.conversationId}`, `/api/conversations/${g.conversationId}/messages`, members(g.conversationId), `/api/conversations/${g.conversationId}/changes?afterChange=0`]) {
      const read = await api.get(path, g.member.token);
      assert.equal(read.status, 403, path);
      assert.equal(read.body.code, 'NOT_CONVERSATION_MEMBER', path);
    }
    const list = await api.get<Conversation[]>('/api/conversations', g.member.token);
    assert.ok(!list.body.data.some((c) => c.conversationId === g.conversationId));
    const groups = await api.get<MyGroup[]>('/api/groups', g.member.token);
    assert.ok(!groups.body.data.some((x) => x.conversationId === g.conversationId));
    const { content } = await lastSystemEvent(g.conversationId, g.owner);
    assert.deepEqual(content, { event: 'member-removed', user: { userId: g.member.user.userId, username: g.member.user.username } });
    assert.equal((await conversationOf(g.conversationId, g.owner)).memberCount, 2);
  });

  it('refuses a member removing another with 403 FORBIDDEN', async () => {
    const g = await crew();
    const res = await api.del(member(g.conversationId, g.admin.user.userId), g.member.token);
    assert.equal(res.status, 403);
    assert.equal(res.body.code, 'FORBIDDEN');
  });

  it('refuses an admin removing an admin or the owner with 403 FORBIDDEN', async () => {
    const g = await crew();
    await api.post(members(g.conversationId), { members: [g.outsider.user.userId] }, g.owner.token);
    await api.put(member(g.conversationId, g.outsider.user.userId), { role: 'admin' }, g.owner.token);
    for (const target of [g.outsider, g.owner]) {
      const res = await api.del(member(g.conversationId, target.user.userId), g.admin.token);
      assert.equal(res.status, 403);
      assert.equal(res.body.code, 'FORBIDDEN');
    }
    assert.equal((await conversationOf(g.conversationId, g.owner)).memberCount, 4);
  });

  it('answers 404 MEMBER_NOT_FOUND for someone not in the group', async () => {
    const g = await crew();
    const res = await api.del(member(g.conversationId, g.outsider.user.userId), g.owner.token);
    assert.equal(res.status, 404);
    assert.equal(res.body.code, 'MEMBER_NOT_FOUND');
  });

  it('lets anyone but the owner leave with their own id (member-left)', async () => {
    const g = await crew();
    const res = await api.del(member(g.conversationId, g.member.user.userId), g.member.token);
    assert.equal(res.status, 200);
    const { message, content } = await lastSystemEvent(g.conversationId, g.owner);
    assert.equal(message.senderId, g.member.user.userId);
    assert.deepEqual(content, { event: 'member-left' });
  });

  it('refuses the owner leaving others behind with 409 OWNER_MUST_TRANSFER', async () => {
    const g = await crew();
    const res = await api.del(member(g.conversationId, g.owner.user.userId), g.owner.token);
    assert.equal(res.status, 409);
    assert.equal(res.body.code, 'OWNER_MUST_TRANSFER');
    assert.equal((await roles(g.conversationId, g.owner))[g.owner.user.userId], 'owner');
  });

  it('disbands the group when its last member, the owner, leaves', async () => {
    const g = await crew();
    await api.del(member(g.conversationId, g.member.user.userId), g.owner.token);
    await api.del(member(g.conversationId, g.admin.user.userId), g.owner.token);
    const res = await api.del(member(g.conversationId, g.owner.user.userId), g.owner.token);
    assert.equal(res.status, 200);
    const group = await api.get(`/api/groups/${g.groupId}`, g.owner.token);
    assert.equal(group.status, 404);
    assert.equal(group.body.code, 'GROUP_NOT_FOUND');
  });
});

describe('PUT /api/conversations/{id}/members/{userId}', () => {
  it('lets the owner make a member an admin and back (role-changed)', async () => {
    const g = await crew();
    const res = await api.put<GroupMember>(member(g.conversationId, g.member.user.userId), { role: 'admin' }, g.owner.token);
    assert.equal(res.status, 200);
    assert.deepEqual([res.body.data.userId, res.body.data.role], [g.member.user.userId, 'admin']);
    const { content } = await lastSystemEvent(g.conversationId, g.member);
    assert.deepEqual(content, { event: 'role-changed', user: { userId: g.member.user.userId, username: g.member.user.username }, role: 'admin' });
    const back = await api.put<GroupMember>(member(g.conversationId, g.member.user.userId), { role: 'member' }, g.owner.token);
    assert.equal(back.body.data.role, 'member');
  });

  it('transfers ownership with role owner: the old owner becomes an admin', async () => {
    const g = await crew();
    const res = await api.put<GroupMember>(member(g.conversationId, g.member.user.userId), { role: 'owner' }, g.owner.token);
    assert.equal(res.status, 200);
    assert.equal(res.body.data.role, 'owner');
    const now = await roles(g.conversationId, g.member);
    assert.deepEqual([now[g.member.user.userId], now[g.owner.user.userId]], ['owner', 'admin']);
    const group = await api.get<{ group: Group }>(`/api/groups/${g.groupId}`, g.member.token);
    assert.equal(group.body.data.group.ownerId, g.member.user.userId);
    assert.equal((await conversationOf(g.conversationId, g.owner)).myRole, 'admin');
    const { content } = await lastSystemEvent(g.conversationId, g.member);
    assert.deepEqual(content, { event: 'owner-transferred', user: { userId: g.member.user.userId, username: g.member.user.username } });
    // The old owner may leave now.
    assert.equal((await api.del(member(g.conversationId, g.owner.user.userId), g.owner.token)).status, 200);
  });

  it('refuses anyone but the owner with 403 FORBIDDEN', async () => {
    const g = await crew();
    const res = await api.put(member(g.conversationId, g.member.user.userId), { role: 'admin' }, g.admin.token);
    assert.equal(res.status, 403);
    assert.equal(res.body.code, 'FORBIDDEN');
  });

  it('refuses the owner demoting itself with 409 OWNER_MUST_TRANSFER', async () => {
    const g = await crew();
    const res = await api.put(member(g.conversationId, g.owner.user.userId), { role: 'member' }, g.owner.token);
    assert.equal(res.status, 409);
    assert.equal(res.body.code, 'OWNER_MUST_TRANSFER');
  });

  it('refuses making a guest an admin or the owner with 403 FORBIDDEN', async () => {
    const g = await crew();
    const guest = (await api.post<AuthResult>('/api/auth/guest')).body.data;
    await api.post(members(g.conversationId), { members: [guest.user.userId] }, g.owner.token);
    for (const role of ['admin', 'owner']) {
      const res = await api.put(member(g.conversationId, guest.user.userId), { role }, g.owner.token);
      assert.equal(res.status, 403, role);
      assert.equal(res.body.code, 'FORBIDDEN');
    }
  });

  it('answers the same role again with the member and writes nothing', async () => {
    const g = await crew();
    const before = await conversationOf(g.conversationId, g.owner);
    const res = await api.put<GroupMember>(member(g.conversationId, g.admin.user.userId), { role: 'admin' }, g.owner.token);
    assert.equal(res.status, 200);
    assert.equal(res.body.data.role, 'admin');
    assert.equal((await conversationOf(g.conversationId, g.owner)).changeSeq, before.changeSeq);
  });

  it('refuses an unknown role with 400 VALIDATION_ERROR', async () => {
    const g = await crew();
    const res = await api.put(member(g.conversationId, g.member.user.userId), { role: 'king' }, g.owner.token);
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'VALIDATION_ERROR');
  });
});

describe('PUT /api/conversations/{id}', () => {
  it('renames the group and sets its avatar and description (group-updated)', async () => {
    const g = await crew();
    const patch = { name: 'Crew II', avatar: 'https://example.com/a.png', description: 'Line one\nline two' };
    const res = await api.put<Conversation>(`/api/conversations/${g.conversationId}`, patch, g.admin.token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual([res.body.data.name, res.body.data.avatar], [patch.name, patch.avatar]);
    const group = await api.get<{ group: Group }>(`/api/groups/${g.groupId}`, g.member.token);
    assert.deepEqual([group.body.data.group.name, group.body.data.group.avatar, group.body.data.group.description], [patch.name, patch.avatar, patch.description]);
    const { content } = await lastSystemEvent(g.conversationId, g.member);
    assert.deepEqual(content, { event: 'group-updated', ...patch });
  });

  it('names in group-updated only the fields that changed', async () => {
    const g = await crew();
    await api.put(`/api/conversations/${g.conversationId}`, { name: 'Crew', description: 'new' }, g.owner.token);
    const { content } = await lastSystemEvent(g.conversationId, g.owner);
    assert.deepEqual(content, { event: 'group-updated', description: 'new' });
  });

  it('refuses a plain member with 403 FORBIDDEN', async () => {
    const g = await crew();
    const res = await api.put(`/api/conversations/${g.conversationId}`, { name: 'Mine' }, g.member.token);
    assert.equal(res.status, 403);
    assert.equal(res.body.code, 'FORBIDDEN');
  });

  it('refuses an empty body, a blank name, a javascript: avatar and control characters with 400', async () => {
    const g = await crew();
    for (const body of [{}, { name: '   ' }, { avatar: 'javascript:alert(1)' }, { name: 'a\nb' }, { description: 'bell\u0007' }, { name: 'x', extra: 1 }]) {
      const res = await api.put(`/api/conversations/${g.conversationId}`, body, g.owner.token);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.code, 'VALIDATION_ERROR');
    }
    assert.equal((await conversationOf(g.conversationId, g.owner)).name, 'Crew');
  });
});

describe('DELETE /api/conversations/{id}', () => {
  it('lets the owner disband: every member loses the group', async () => {
    const g = await crew();
    const res = await api.del(`/api/conversations/${g.conversationId}`, g.owner.token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    for (const who of [g.owner, g.admin, g.member]) {
      const read = await api.get(`/api/conversations/${g.conversationId}`, who.token);
      assert.equal(read.body.code, 'NOT_CONVERSATION_MEMBER');
      const list = await api.get<Conversation[]>('/api/conversations', who.token);
      assert.ok(!list.body.data.some((c) => c.conversationId === g.conversationId));
    }
    assert.equal((await api.get(`/api/groups/${g.groupId}`, g.owner.token)).body.code, 'GROUP_NOT_FOUND');
  });

  it('refuses an admin with 403 FORBIDDEN', async () => {
    const g = await crew();
    const res = await api.del(`/api/conversations/${g.conversationId}`, g.admin.token);
    assert.equal(res.status, 403);
    assert.equal(res.body.code, 'FORBIDDEN');
  });
});

describe('who may ask at all', () => {
  it('answers 403 NOT_CONVERSATION_MEMBER to a non-member and 404 CONVERSATION_NOT_FOUND for no conversation', async () => {
    const g = await crew();
    const calls = (c: string): Array<[string, string, unknown]> => [
      ['POST', members(c), { members: [g.outsider.user.userId] }],
      ['DELETE', member(c, g.member.user.userId), undefined],
      ['PUT', member(c, g.member.user.userId), { role: 'admin' }],
      ['PUT', `/api/conversations/${c}`, { name: 'x' }],
      ['DELETE', `/api/conversations/${c}`, undefined],
      ['GET', `/api/conversations/${c}/changes?afterChange=0`, undefined],
    ];
    for (const [method, path, body] of calls(g.conversationId)) {
      const res = await api.request(method, path, { token: g.outsider.token, ...(body !== undefined ? { body } : {}) });
      assert.equal(res.body.code, 'NOT_CONVERSATION_MEMBER', `${method} ${path}`);
    }
    for (const [method, path, body] of calls('987654321')) {
      const res = await api.request(method, path, { token: g.owner.token, ...(body !== undefined ? { body } : {}) });
      assert.equal(res.body.code, 'CONVERSATION_NOT_FOUND', `${method} ${path}`);
    }
  });

  it('refuses every membership operation on a 1:1 and the world room with 400 NOT_GROUP_CONVERSATION', async () => {
    const { owner: ann, member: ben, outsider: cal } = people;
    const single = (await api.post<Conversation>('/api/conversations', { targetUserId: ben.user.userId }, ann.token)).body.data.conversationId;
    const world = (await api.get<Conversation[]>('/api/conversations', ann.token)).body.data.find((c) => c.type === 'world')?.conversationId;
    for (const c of [single, world].filter((x): x is string => x !== undefined)) {
      for (const [method, path, body] of [
        ['POST', members(c), { members: [cal.user.userId] }],
        ['DELETE', member(c, ben.user.userId), undefined],
        ['DELETE', member(c, ann.user.userId), undefined],
        ['PUT', member(c, ben.user.userId), { role: 'admin' }],
        ['PUT', `/api/conversations/${c}`, { name: 'x' }],
        ['DELETE', `/api/conversations/${c}`, undefined],
      ] as Array<[string, string, unknown]>) {
        const res = await api.request(method, path, { token: ann.token, ...(body !== undefined ? { body } : {}) });
        assert.equal(res.status, 400, `${method} ${path}`);
        assert.equal(res.body.code, 'NOT_GROUP_CONVERSATION', `${method} ${path}`);
      }
    }
  });
});

describe('the timeline and the change cursor', () => {
  it('gives system messages the next seqIds, gap-free among user messages, and makes them lastMessage', async () => {
    const g = await crew();
    await api.put(`/api/conversations/${g.conversationId}`, { name: 'One' }, g.owner.token);
    await api.put(`/api/conversations/${g.conversationId}`, { name: 'Two' }, g.owner.token);
    const history = await fullHistory(api, g.conversationId, g.member.token);
    assert.deepEqual(history.map((m) => m.seqId), history.map((_, i) => i + 1));
    const conversation = await conversationOf(g.conversationId, g.member);
    assert.equal(conversation.lastMessage?.messageId, history.at(-1)!.messageId);
    assert.equal(conversation.lastMessage?.messageType, 'system');
  });

  it('counts a system message unread for the others, not for the actor; an added member has one unread', async () => {
    const g = await crew();
    await Promise.all([g.owner, g.admin, g.member].map((who) => api.put(`/api/conversations/${g.conversationId}/read`, undefined, who.token)));
    await api.post(members(g.conversationId), { members: [g.outsider.user.userId] }, g.admin.token);
    const unread = await Promise.all([g.admin, g.owner, g.member, g.outsider].map(async (who) => (await conversationOf(g.conversationId, who)).unreadCount));
    assert.deepEqual(unread, [0, 1, 1, 1]);
  });

  it('counts changeSeq up by one per changed item and serves the items after a cursor, each once at its latest value', async () => {
    const g = await crew();
    const start = (await conversationOf(g.conversationId, g.owner)).changeSeq;
    await api.put(`/api/conversations/${g.conversationId}`, { name: 'First' }, g.owner.token);
    await api.post(members(g.conversationId), { members: [g.outsider.user.userId] }, g.owner.token);
    await api.put(`/api/conversations/${g.conversationId}`, { name: 'Second' }, g.owner.token);
    const conversation = await conversationOf(g.conversationId, g.owner);
    // rename: the group item; add: the member and the group; rename: the group.
    assert.equal(conversation.changeSeq, start + 4);
    const res = await api.get<ChangeItem[]>(`/api/conversations/${g.conversationId}/changes?afterChange=${start}`, g.member.token);
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.data.map((i) => [i.changeSeq, i.kind]),
      [
        [start + 2, 'member'],
        [start + 4, 'group'],
      ],
    );
    const groupItem = res.body.data[1] as Extract<ChangeItem, { kind: 'group' }>;
    assert.deepEqual(groupItem.group, { name: 'Second', avatar: '', description: '', ownerId: g.owner.user.userId, memberCount: 4 });
    assert.deepEqual(res.body.pagination, { page: 1, size: 50, total: 2, hasMore: false });
  });

  it('keeps a removed member as a tombstone (member null)', async () => {
    const g = await crew();
    const start = (await conversationOf(g.conversationId, g.owner)).changeSeq;
    await api.del(member(g.conversationId, g.member.user.userId), g.owner.token);
    const res = await api.get<ChangeItem[]>(`/api/conversations/${g.conversationId}/changes?afterChange=${start}`, g.owner.token);
    assert.deepEqual(res.body.data[0], { changeSeq: start + 1, kind: 'member', userId: g.member.user.userId, member: null });
  });

  it('pages the feed with size and answers nothing after the latest changeSeq', async () => {
    const g = await crew();
    for (const name of ['a', 'b']) await api.put(`/api/conversations/${g.conversationId}`, { name }, g.owner.token);
    await api.post(members(g.conversationId), { members: [g.outsider.user.userId] }, g.owner.token);
    const first = await api.get<ChangeItem[]>(`/api/conversations/${g.conversationId}/changes?afterChange=0&size=1`, g.owner.token);
    assert.equal(first.body.data.length, 1);
    assert.equal(first.body.pagination?.hasMore, true);
    const walked: ChangeItem[] = [];
    for (let cursor = 0; ; ) {
      const page = await api.get<ChangeItem[]>(`/api/conversations/${g.conversationId}/changes?afterChange=${cursor}&size=1`, g.owner.token);
      walked.push(...page.body.data);
      if (!page.body.pagination?.hasMore) break;
      cursor = page.body.data.at(-1)!.changeSeq;
    }
    const all = await api.get<ChangeItem[]>(`/api/conversations/${g.conversationId}/changes?afterChange=0&size=100`, g.owner.token);
    assert.deepEqual(walked, all.body.data);
    const latest = (await conversationOf(g.conversationId, g.owner)).changeSeq;
    assert.equal(walked.at(-1)!.changeSeq, latest);
    const after = await api.get<ChangeItem[]>(`/api/conversations/${g.conversationId}/changes?afterChange=${latest}`, g.owner.token);
    assert.deepEqual([after.body.data, after.body.pagination?.total], [[], 0]);
  });

  it('refuses a missing or negative afterChange with 400 VALIDATION_ERROR', async () => {
    const g = await crew();
    for (const q of ['', '?afterChange=-1', '?afterChange=x', '?afterChange=0&size=101']) {
      const res = await api.get(`/api/conversations/${g.conversationId}/changes${q}`, g.owner.token);
      assert.equal(res.status, 400, q);
      assert.equal(res.body.code, 'VALIDATION_ERROR');
    }
  });

  it("answers GET /api/groups with each group's myRole", async () => {
    const g = await crew();
    for (const [who, role] of [
      [g.owner, 'owner'],
      [g.admin, 'admin'],
      [g.member, 'member'],
    ] as const) {
      const groups = await api.get<MyGroup[]>('/api/groups', who.token);
      assert.equal(groups.body.data.find((x) => x.conversationId === g.conversationId)?.myRole, role);
      assert.equal((await conversationOf(g.conversationId, who)).myRole, role);
    }
  });
});
