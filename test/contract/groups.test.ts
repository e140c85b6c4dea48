import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api } from '../helpers/client.js';
import type { AuthResult, Conversation, Group, GroupMember } from '../../src/protocol/index.js';

let server: TestServer;
let api: Api;

before(async () => {
  server = await startServer();
  api = new Api(server.baseUrl);
});
after(async () => server.stop());

type Created = { group: Group; conversation: Conversation };

describe('POST /api/groups', () => {
  it('creates the group and its conversation; the creator is owner and member', async () => {
    const owner = await api.user('owner');
    const bob = await api.user('bob');
    const carol = await api.user('carol');
    const res = await api.post<Created>('/api/groups', { groupName: 'Book club', members: [bob.user.userId, carol.user.userId] }, owner.token);
    assert.equal(res.status, 201);
    const { group, conversation } = res.body.data;
    assert.equal(group.name, 'Book club');
    assert.equal(group.ownerId, owner.user.userId);
    assert.equal(group.memberCount, 3);
    assert.equal(group.conversationId, conversation.conversationId);
    assert.equal(conversation.type, 'group');
    assert.equal(conversation.groupId, group.groupId);
    assert.equal(conversation.name, 'Book club');
    assert.equal(conversation.memberCount, 3);
    assert.equal(conversation.lastMessage, null);
  });

  it('ignores duplicate member ids and the creator in members', async () => {
    const owner = await api.user('dedupe');
    const bob = await api.user('bob');
    const res = await api.post<Created>(
      '/api/groups',
      { groupName: 'Pairs', members: [bob.user.userId, bob.user.userId, owner.user.userId] },
      owner.token,
    );
    assert.equal(res.status, 201);
    assert.equal(res.body.data.group.memberCount, 2);
  });

  it('refuses unknown member ids with 404 USER_NOT_FOUND naming them', async () => {
    const owner = await api.user('unknown');
    const bob = await api.user('bob');
    const res = await api.post('/api/groups', { groupName: 'Ghosts', members: [bob.user.userId, '88888888', 'nope'] }, owner.token);
    assert.equal(res.status, 404);
    assert.equal(res.body.code, 'USER_NOT_FOUND');
    assert.match(res.body.message, /88888888/);
    assert.match(res.body.message, /nope/);
  });

  it('forbids guests with 403 FORBIDDEN', async () => {
    const guest = (await api.post<AuthResult>('/api/auth/guest')).body.data;
    const bob = await api.user('bob');
    const res = await api.post('/api/groups', { groupName: 'Guests', members: [bob.user.userId] }, guest.token);
    assert.equal(res.status, 403);
    assert.equal(res.body.code, 'FORBIDDEN');
  });

  for (const [label, body] of [
    ['a missing groupName', { members: [] }],
    ['an empty groupName', { groupName: '', members: [] }],
    ['a blank groupName', { groupName: '   ', members: [] }],
    ['members that is not an array', { groupName: 'x', members: 'all' }],
    ['member ids that are numbers', { groupName: 'x', members: [1, 2] }],
  ] as const) {
    it(`refuses ${label} with 400 VALIDATION_ERROR`, async () => {
      const owner = await api.user('invalid');
      const res = await api.post('/api/groups', body, owner.token);
      assert.equal(res.status, 400);
      assert.equal(res.body.code, 'VALIDATION_ERROR');
    });
  }
});

describe('GET /api/groups/{groupId}', () => {
  it('returns the group and its members with roles', async () => {
    const owner = await api.user('info');
    const bob = await api.user('bob');
    const { group } = (await api.post<Created>('/api/groups', { groupName: 'Info', members: [bob.user.userId] }, owner.token)).body.data;
    const res = await api.get<{ group: Group; members: GroupMember[] }>(`/api/groups/${group.groupId}`, bob.token);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.data.group, group);
    const roles = Object.fromEntries(res.body.data.members.map((m) => [m.userId, m.role]));
    assert.deepEqual(roles, { [owner.user.userId]: 'owner', [bob.user.userId]: 'member' });
    const member = res.body.data.members.find((m) => m.userId === bob.user.userId)!;
    assert.equal(member.username, bob.user.username);
    assert.equal(member.avatar, '');
    assert.match(member.joinedAt, /Z$/);
  });

  it('answers a non-member with 404 GROUP_NOT_FOUND, as if the group did not exist', async () => {
    const owner = await api.user('private');
    const mallory = await api.user('mallory');
    const { group } = (await api.post<Created>('/api/groups', { groupName: 'Private', members: [] }, owner.token)).body.data;
    const res = await api.get(`/api/groups/${group.groupId}`, mallory.token);
    assert.equal(res.status, 404);
    assert.equal(res.body.code, 'GROUP_NOT_FOUND');
    const missing = await api.get('/api/groups/999999999', mallory.token);
    assert.deepEqual([missing.status, missing.body.code, missing.body.message], [res.status, res.body.code, res.body.message]);
  });

  it('answers an unknown group with 404 GROUP_NOT_FOUND', async () => {
    const owner = await api.user('missing');
    for (const id of ['77777777', 'x', encodeURIComponent('../1')]) {
      const res = await api.get(`/api/groups/${id}`, owner.token);
      assert.equal(res.status, 404, id);
      assert.equal(res.body.code, 'GROUP_NOT_FOUND');
    }
  });
});

describe('GET /api/groups', () => {
  it('lists the groups I am a member of with my role in each, newest activity first', async () => {
    const owner = await api.user('mine_owner');
    const bob = await api.user('mine_bob');
    const first = (await api.post<Created>('/api/groups', { groupName: 'First', members: [bob.user.userId] }, owner.token)).body.data;
    const second = (await api.post<Created>('/api/groups', { groupName: 'Second', members: [owner.user.userId] }, bob.token)).body.data;
    await api.post<Created>('/api/groups', { groupName: 'Without bob', members: [] }, owner.token);
    const res = await api.get<Array<Group & { myRole: string }>>('/api/groups', bob.token);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.data, [
      { ...second.group, myRole: 'owner' },
      { ...first.group, myRole: 'member' },
    ]);
    const mine = (await api.get<Array<Group & { myRole: string }>>('/api/groups', owner.token)).body.data;
    assert.deepEqual(mine.map((g) => [g.name, g.myRole]), [['Without bob', 'owner'], ['Second', 'member'], ['First', 'owner']]);
  });

  it('is empty for a user in no group, and requires authentication', async () => {
    const loner = await api.user('mine_loner');
    const res = await api.get<Group[]>('/api/groups', loner.token);
    assert.deepEqual([res.status, res.body.data], [200, []]);
    const anonymous = await api.get('/api/groups');
    assert.deepEqual([anonymous.status, anonymous.body.code], [401, 'UNAUTHORIZED']);
  });
});

describe('GET /api/conversations/{id}/members', () => {
  async function groupOf(size: number) {
    const owner = await api.user('roster_owner');
    const others = [];
    for (let i = 1; i < size; i++) others.push(await api.user(`roster_m${i}`));
    const created = (await api.post<Created>('/api/groups', { groupName: 'Roster', members: others.map((o) => o.user.userId) }, owner.token)).body.data;
    return { owner, others, conversationId: created.conversation.conversationId };
  }

  it('pages the members in the order they joined, with roles and the total', async () => {
    const { owner, others, conversationId } = await groupOf(5);
    const first = await api.get<GroupMember[]>(`/api/conversations/${conversationId}/members?size=2`, others[0]!.token);
    assert.equal(first.status, 200);
    assert.deepEqual(first.body.pagination, { page: 1, size: 2, total: 5, hasMore: true });
    const all: GroupMember[] = [];
    for (let page = 1; page <= 3; page++) {
      const res = await api.get<GroupMember[]>(`/api/conversations/${conversationId}/members?size=2&page=${page}`, owner.token);
      all.push(...res.body.data);
      assert.equal(res.body.pagination?.hasMore, page < 3);
    }
    assert.deepEqual(all.map((m) => m.userId).sort(), [owner.user.userId, ...others.map((o) => o.user.userId)].sort());
    assert.equal(all.find((m) => m.userId === owner.user.userId)?.role, 'owner');
    const whole = await api.get<GroupMember[]>(`/api/conversations/${conversationId}/members`, owner.token);
    assert.deepEqual([whole.body.data.length, whole.body.pagination?.size], [5, 50]);
    const owners = await api.get<GroupMember[]>(`/api/conversations/${conversationId}/members?role=owner`, owner.token);
    assert.deepEqual([owners.body.data.map((m) => m.userId), owners.body.pagination?.total], [[owner.user.userId], 1]);
  });

  it('refuses a 1:1 and the world room with 400 NOT_GROUP_CONVERSATION, and outsiders and unknown ids as any read', async () => {
    const { owner, conversationId } = await groupOf(2);
    const peer = await api.user('roster_peer');
    const single = (await api.post<Conversation>('/api/conversations', { targetUserId: peer.user.userId }, owner.token)).body.data;
    const world = (await api.get<Conversation[]>('/api/conversations', owner.token)).body.data.find((c) => c.type === 'world')!;
    for (const id of [single.conversationId, world.conversationId]) {
      const res = await api.get(`/api/conversations/${id}/members`, owner.token);
      assert.deepEqual([res.status, res.body.code], [400, 'NOT_GROUP_CONVERSATION'], id);
    }
    const outsider = await api.get(`/api/conversations/${conversationId}/members`, peer.token);
    assert.deepEqual([outsider.status, outsider.body.code], [403, 'NOT_CONVERSATION_MEMBER']);
    const missing = await api.get('/api/conversations/999999999/members', peer.token);
    assert.deepEqual([missing.status, missing.body.code], [404, 'CONVERSATION_NOT_FOUND']);
  });

  for (const query of ['page=0', 'size=0', 'size=101', 'role=king', 'page=x', 'extra=1']) {
    it(`refuses ${query} with 400 VALIDATION_ERROR`, async () => {
      const { owner, conversationId } = await groupOf(2);
      const res = await api.get(`/api/conversations/${conversationId}/members?${query}`, owner.token);
      assert.deepEqual([res.status, res.body.code], [400, 'VALIDATION_ERROR']);
    });
  }
});
