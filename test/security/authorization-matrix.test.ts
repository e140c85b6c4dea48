/**
 * Authorization on every access: each endpoint and WebSocket action is tried by every kind of
 * caller, and each cell must give exactly the outcome in the table. Denied cells change nothing.
 *
 * Group administration cells that change a group (rename, disband, add, remove, leave, roles) each
 * get a group of their own, made just before the row: an allowed cell cannot spoil the next one, and
 * each denied cell's group is compared afterwards with what it was (roles, member count, change
 * cursor, last message).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import type { AuthResult, ChangeItem, Conversation, ErrorCode, Group, GroupMember, Message, MessageAck } from '../../src/protocol/index.js';
import { ERROR_CODES } from '../../src/protocol/index.js';
import { Api, WsClient } from '../helpers/client.js';
import { startTarget, type Target } from './target.js';
import { expiredToken, signToken, OTHER_SECRET, TEST_JWT_SECRET } from './forge.js';
import { tryUpgrade } from './wire.js';

const PRINCIPALS = ['none', 'badSignature', 'expired', 'revoked', 'otherUser', 'guest', 'member', 'admin', 'nonMember', 'owner'] as const;
type Principal = (typeof PRINCIPALS)[number];
type Authenticated = Exclude<Principal, 'none' | 'badSignature' | 'expired' | 'revoked'>;
const AUTHENTICATED = PRINCIPALS.filter((p): p is Authenticated => !['none', 'badSignature', 'expired', 'revoked'].includes(p));

interface Outcome {
  status: number;
  code?: ErrorCode;
}

const ok = (status = 200): Outcome => ({ status });
const denied = (code: ErrorCode): Outcome => ({ status: ERROR_CODES[code].http, code });
const NOT_MEMBER = denied('NOT_CONVERSATION_MEMBER');
const FORBIDDEN = denied('FORBIDDEN');
const NOT_GROUP = denied('NOT_GROUP_CONVERSATION');
const MUST_TRANSFER = denied('OWNER_MUST_TRANSFER');

/** Invalid tokens fail the same way everywhere; only the authenticated columns differ per row. */
function expect(cells: Record<Authenticated, Outcome>): Record<Principal, Outcome> {
  return {
    none: denied('UNAUTHORIZED'),
    badSignature: denied('UNAUTHORIZED'),
    expired: denied('TOKEN_EXPIRED'),
    revoked: denied('TOKEN_REVOKED'),
    ...cells,
  };
}
/** Registered users and a guest outside the conversation. */
const outsiders = { nonMember: NOT_MEMBER, otherUser: NOT_MEMBER, guest: NOT_MEMBER };
// The 1:1 is between owner and member; the group holds owner, admin and member.
const singleMembersOnly = expect({ owner: ok(), member: ok(), admin: NOT_MEMBER, ...outsiders });
const groupMembersOnly = expect({ owner: ok(), admin: ok(), member: ok(), ...outsiders });
// A group's info does not tell a non-member that the group exists.
const hiddenFromNonMembers = expect({
  owner: ok(),
  admin: ok(),
  member: ok(),
  nonMember: denied('GROUP_NOT_FOUND'),
  otherUser: denied('GROUP_NOT_FOUND'),
  guest: denied('GROUP_NOT_FOUND'),
});
const anyUser = expect({ owner: ok(), admin: ok(), member: ok(), nonMember: ok(), otherUser: ok(), guest: ok() });
/** A group operation, by the role the caller has in the group; outsiders are not told more. */
const byRole = (owner: Outcome, admin: Outcome, member: Outcome) => expect({ owner, admin, member, ...outsiders });
/** A group operation on a 1:1: not a group to its members, not theirs to anyone else. */
const notGroupOfSingle = expect({ owner: NOT_GROUP, member: NOT_GROUP, admin: NOT_MEMBER, ...outsiders });
/** A group operation on the world room: every user is a member of it, and it is not a group. */
const notGroupOfWorld = expect({ owner: NOT_GROUP, admin: NOT_GROUP, member: NOT_GROUP, nonMember: NOT_GROUP, otherUser: NOT_GROUP, guest: NOT_GROUP });

const conversationPath = (c: string) => `/api/conversations/${c}`;
const membersPath = (c: string) => `/api/conversations/${c}/members`;
const memberPath = (c: string, u: string) => `/api/conversations/${c}/members/${u}`;
const changesPath = (c: string) => `/api/conversations/${c}/changes?afterChange=0&size=100`;

/** What a denied call must leave as it was; `roles` (by who holds them) for groups only. */
interface Summary {
  name: string;
  avatar: string;
  memberCount: number;
  changeSeq: number;
  lastMessage: Message | null;
  roles?: Record<string, string>;
}

/** A group made for one cell: owner, admin, admin2, member, member2 (the roles as named). */
interface Fresh {
  conversationId: string;
  groupId: string;
  before: Summary;
}

type Answer = { status: number; body: { success: boolean; code?: string; data?: unknown } };

describe('authorization matrix: every endpoint and WebSocket action × every kind of caller', () => {
  let target: Target;
  let api: Api;
  const users = {} as Record<Authenticated, AuthResult>;
  /** Users that are not callers: a second admin and member of each fresh group, and one to add. */
  const extras = {} as Record<'admin2' | 'member2' | 'newcomer', AuthResult>;
  const labels = new Map<string, string>();
  const tokens = {} as Record<Principal, string | null>;
  let singleId: string;
  let groupId: string;
  let groupConversationId: string;
  let worldId: string | undefined;
  /** The subject conversations as set up, and the messages the setup wrote (the admin's promotion). */
  const setUp = new Map<string, { summary: Summary; messageIds: string[] }>();
  const acked: MessageAck[] = [];
  let tempCounter = 0;

  const id = (who: Authenticated | keyof typeof extras) => (who in users ? users[who as Authenticated] : extras[who as keyof typeof extras]).user.userId;
  /** The user id a principal's token names (the invalid tokens are the owner's). */
  const selfId = (p: Principal) => (AUTHENTICATED.includes(p as Authenticated) ? users[p as Authenticated].user.userId : users.owner.user.userId);

  /** The conversation as its owner sees it, with every member's role when it is a group. */
  async function summary(conversationId: string): Promise<Summary> {
    const res = await api.get<Conversation>(conversationPath(conversationId), users.owner.token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { name, avatar, memberCount, changeSeq, lastMessage, type } = res.body.data;
    const out: Summary = { name, avatar, memberCount, changeSeq, lastMessage };
    if (type === 'group') {
      const members = await api.get<GroupMember[]>(`${membersPath(conversationId)}?size=100`, users.owner.token);
      assert.equal(members.status, 200, JSON.stringify(members.body));
      out.roles = Object.fromEntries(members.body.data.map((m) => [labels.get(m.userId) ?? m.userId, m.role]).sort(([a], [b]) => a!.localeCompare(b!)));
    }
    return out;
  }

  async function promote(conversationId: string, userId: string): Promise<void> {
    const res = await api.put(memberPath(conversationId, userId), { role: 'admin' }, users.owner.token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }

  before(async () => {
    target = await startTarget({ env: { GOCHAT_JWT_SECRET: TEST_JWT_SECRET } });
    api = new Api(target.baseUrl);
    users.owner = await api.user('owner');
    users.admin = await api.user('admin');
    users.member = await api.user('member');
    users.nonMember = await api.user('nonmember');
    users.otherUser = await api.user('other');
    const guest = await api.post<AuthResult>('/api/auth/guest', {});
    assert.equal(guest.status, 200);
    users.guest = guest.body.data;
    extras.admin2 = await api.user('admin2');
    extras.member2 = await api.user('member2');
    extras.newcomer = await api.user('newcomer');
    for (const [label, auth] of [...Object.entries(users), ...Object.entries(extras)]) labels.set(auth.user.userId, label);

    // The subject resources: a 1:1 between owner and member, and a group of owner, admin and member.
    const single = await api.post<Conversation>('/api/conversations', { targetUserId: users.member.user.userId }, users.owner.token);
    assert.equal(single.status, 201);
    singleId = single.body.data.conversationId;
    const group = await api.post<{ group: { groupId: string; conversationId: string } }>(
      '/api/groups',
      { groupName: 'owners group', members: [users.member.user.userId, users.admin.user.userId] },
      users.owner.token,
    );
    assert.equal(group.status, 201);
    groupId = group.body.data.group.groupId;
    groupConversationId = group.body.data.group.conversationId;
    await promote(groupConversationId, users.admin.user.userId);
    // "other user" has resources of their own, so a wrong id is not just an empty account.
    const otherGroup = await api.post('/api/groups', { groupName: 'elsewhere', members: [users.nonMember.user.userId] }, users.otherUser.token);
    assert.equal(otherGroup.status, 201);
    const list = await api.get<Conversation[]>('/api/conversations', users.owner.token);
    worldId = list.body.data.find((c) => c.type === 'world')?.conversationId;
    for (const conversationId of [singleId, groupConversationId, ...(worldId ? [worldId] : [])]) {
      const history = await api.get<Message[]>(`/api/conversations/${conversationId}/messages?size=100`, users.owner.token);
      setUp.set(conversationId, { summary: await summary(conversationId), messageIds: history.body.data.map((m) => m.messageId) });
    }

    for (const p of AUTHENTICATED) tokens[p] = users[p].token;
    tokens.none = null;
    tokens.badSignature = await signToken(users.owner.user, { secret: OTHER_SECRET });
    tokens.expired = await expiredToken(users.owner.user);
    const revoked = await api.post<AuthResult>('/api/auth/login', { username: users.owner.user.username, password: 'correct horse' });
    tokens.revoked = revoked.body.data.token;
    assert.equal((await api.post('/api/auth/logout', undefined, tokens.revoked)).status, 200);
  });

  after(async () => {
    await target?.stop();
  });

  const http = async (p: Principal, method: string, path: string, body?: unknown) => {
    const token = tokens[p];
    const res = await api.request(method, path, { ...(token ? { token } : {}), ...(body !== undefined ? { body } : {}) });
    return res;
  };

  /** Runs one row over all principals and answers the cells that differ; `check` inspects each 2xx answer. */
  async function cells(
    expected: Record<Principal, Outcome>,
    call: (p: Principal) => Promise<Answer>,
    check?: (p: Principal, data: unknown) => void | Promise<void>,
  ): Promise<string[]> {
    const wrong: string[] = [];
    for (const p of PRINCIPALS) {
      const res = await call(p);
      const want = expected[p];
      const got: Outcome = res.body.success ? { status: res.status } : { status: res.status, code: res.body.code as ErrorCode };
      if (got.status !== want.status || got.code !== want.code) {
        wrong.push(`${p}: expected ${want.status} ${want.code ?? ''}, got ${got.status} ${got.code ?? ''}`);
      } else if (res.body.success && check) {
        try {
          await check(p, res.body.data);
        } catch (err) {
          wrong.push(`${p}: ${(err as Error).message}`);
        }
      }
    }
    return wrong;
  }

  function assertCells(wrong: string[]): void {
    assert.deepEqual(wrong, [], `cells that differ from the matrix:\n${wrong.join('\n')}`);
  }

  /** One row over all principals; `check` inspects each 2xx answer for leaks. */
  async function row(
    expected: Record<Principal, Outcome>,
    call: (p: Principal) => Promise<Answer>,
    check?: (p: Principal, data: unknown) => void | Promise<void>,
  ): Promise<void> {
    assertCells(await cells(expected, call, check));
  }

  /** A group of owner, admin, admin2, member and member2, as it is once set up. */
  async function freshGroup(label: string): Promise<Fresh> {
    const members = [id('admin'), id('admin2'), id('member'), id('member2')];
    const created = await api.post<{ group: Group }>('/api/groups', { groupName: `cell ${label}`, members }, users.owner.token);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { conversationId, groupId: freshId } = created.body.data.group;
    await promote(conversationId, id('admin'));
    await promote(conversationId, id('admin2'));
    return { conversationId, groupId: freshId, before: await summary(conversationId) };
  }

  /**
   * A row of cells that change a group: each principal's call gets a group of its own. `effect`
   * checks what an allowed call did; every denied cell's group must be exactly as it was set up.
   */
  async function freshRow(
    expected: Record<Principal, Outcome>,
    call: (p: Principal, g: Fresh) => Promise<Answer>,
    effect?: (p: Authenticated, g: Fresh, data: unknown) => void | Promise<void>,
  ): Promise<void> {
    const groups = Object.fromEntries(await Promise.all(PRINCIPALS.map(async (p) => [p, await freshGroup(p)] as const))) as Record<Principal, Fresh>;
    const wrong = await cells(expected, (p) => call(p, groups[p]), effect && ((p, data) => effect(p as Authenticated, groups[p], data)));
    const deniedCells = PRINCIPALS.filter((p) => expected[p].status >= 300);
    const now = await Promise.all(deniedCells.map((p) => summary(groups[p].conversationId)));
    deniedCells.forEach((p, i) => {
      const { before: was } = groups[p];
      if (!isDeepStrictEqual(now[i], was)) wrong.push(`${p}: a denied call changed the group from ${JSON.stringify(was)} to ${JSON.stringify(now[i])}`);
    });
    assertCells(wrong);
  }

  /** The fresh group after an allowed change by `p`: these roles, one system message from `p`, a later change cursor. */
  async function changedTo(p: Authenticated, g: Fresh, roles: Record<string, string>, also: Partial<Summary> = {}): Promise<void> {
    const now = await summary(g.conversationId);
    assert.deepEqual(now.roles, Object.fromEntries(Object.entries(roles).sort(([a], [b]) => a.localeCompare(b))), 'roles');
    assert.equal(now.memberCount, Object.keys(roles).length, 'memberCount');
    assert.equal(now.lastMessage?.messageType, 'system', 'lastMessage is the system message');
    assert.equal(now.lastMessage?.senderId, users[p].user.userId, 'from the caller');
    assert.equal(now.lastMessage?.seqId, (g.before.lastMessage?.seqId ?? 0) + 1, 'the next seqId');
    assert.ok(now.changeSeq > g.before.changeSeq, 'changeSeq moved on');
    for (const [key, value] of Object.entries(also)) assert.deepEqual(now[key as keyof Summary], value, key);
  }
  const without = (roles: Record<string, string> | undefined, who: string) => Object.fromEntries(Object.entries(roles ?? {}).filter(([k]) => k !== who));
  const withRoles = (roles: Record<string, string> | undefined, changes: Record<string, string>) => ({ ...roles, ...changes });
  async function cannotRead(p: Authenticated, conversationId: string): Promise<void> {
    const res = await api.get(conversationPath(conversationId), users[p].token);
    assert.equal(res.body.code, 'NOT_CONVERSATION_MEMBER', `${p} still reads the conversation`);
  }

  /** A WebSocket send by `p`, as an HTTP-like outcome: ack = 200, error frame = its code's status, refused upgrade = its status. */
  async function wsSend(p: Principal, conversationId: string) {
    const token = tokens[p];
    const upgrade = await tryUpgrade(target.wsUrl, token);
    if (upgrade.status !== 101) return { status: upgrade.status, body: { success: false, ...(upgrade.body?.code ? { code: upgrade.body.code } : {}) } };
    const ws = await WsClient.connect(target.wsUrl, token!);
    try {
      const tempMessageId = `matrix-${++tempCounter}`;
      ws.sendMessage(conversationId, `hello from ${p}`, tempMessageId);
      const frame = await ws.next<{ type: string; data: unknown }>(
        (f) => (f.type === 'message-ack' || f.type === 'error') && (f as { data?: { tempMessageId?: string } }).data?.tempMessageId === tempMessageId,
      );
      if (frame.type === 'message-ack') {
        acked.push(frame.data as MessageAck);
        return { status: 200, body: { success: true, data: frame.data } };
      }
      const code = (frame.data as { code: ErrorCode }).code;
      return { status: ERROR_CODES[code].http, body: { success: false, code } };
    } finally {
      ws.close();
    }
  }

  const inSingle = (p: Principal) => p === 'owner' || p === 'member';
  const inGroup = (p: Principal) => p === 'owner' || p === 'admin' || p === 'member';

  it('GET /api/users/info answers only with the caller', () =>
    row(anyUser, (p) => http(p, 'GET', '/api/users/info'), (p, data) => {
      assert.equal((data as { userId: string }).userId, users[p as Authenticated].user.userId);
    }));

  it('GET /api/users/by-username/{username}: any user, and only public profile fields', () =>
    row(anyUser, (p) => http(p, 'GET', `/api/users/by-username/${encodeURIComponent(users.member.user.username)}`), (_p, data) => {
      assert.deepEqual(Object.keys(data as object).sort(), ['avatar', 'createdAt', 'isGuest', 'userId', 'username']);
    }));

  it('GET /api/conversations lists only the caller\'s conversations', () =>
    row(anyUser, (p) => http(p, 'GET', '/api/conversations'), (p, data) => {
      const ids = (data as Conversation[]).map((c) => c.conversationId);
      assert.equal(ids.includes(singleId), inSingle(p), `${p} sees the 1:1`);
      assert.equal(ids.includes(groupConversationId), inGroup(p), `${p} sees the group`);
    }));

  it('POST /api/conversations opens a 1:1 for any user, never with oneself', () =>
    row(
      expect({ owner: ok(200), admin: ok(201), member: denied('VALIDATION_ERROR'), nonMember: ok(201), otherUser: ok(201), guest: ok(201) }),
      (p) => http(p, 'POST', '/api/conversations', { targetUserId: users.member.user.userId }),
      (p, data) => {
        if (p === 'owner') assert.equal((data as Conversation).conversationId, singleId);
        else assert.notEqual((data as Conversation).conversationId, singleId);
      },
    ));

  it('GET /api/conversations/{id} of a 1:1: only its two members', () => row(singleMembersOnly, (p) => http(p, 'GET', conversationPath(singleId))));

  it('GET /api/conversations/{id} of a group: only members, each told its own role', () =>
    row(groupMembersOnly, (p) => http(p, 'GET', conversationPath(groupConversationId)), (p, data) => {
      assert.equal((data as Conversation).myRole, p);
    }));

  it('GET /api/conversations/{id}/members of a group: only members', () =>
    row(groupMembersOnly, (p) => http(p, 'GET', membersPath(groupConversationId)), (_p, data) => {
      assert.deepEqual((data as Array<{ userId: string }>).map((m) => m.userId).sort(), [id('owner'), id('admin'), id('member')].sort());
    }));

  it('GET /api/conversations/{id}/members of a 1:1: refused to its members as not a group, to others as not theirs', () =>
    row(notGroupOfSingle, (p) => http(p, 'GET', membersPath(singleId))));

  it('GET /api/groups lists only the caller\'s groups, with its own role', () =>
    row(anyUser, (p) => http(p, 'GET', '/api/groups'), (p, data) => {
      const mine = (data as Array<{ conversationId: string; myRole: string }>).find((g) => g.conversationId === groupConversationId);
      assert.equal(mine?.myRole, inGroup(p) ? p : undefined, p);
    }));

  it('GET /api/conversations/{id}/messages of a 1:1: only its two members', () =>
    row(singleMembersOnly, (p) => http(p, 'GET', `/api/conversations/${singleId}/messages`)));

  it('PUT /api/conversations/{id}/read of a 1:1: only its two members', () =>
    row(singleMembersOnly, (p) => http(p, 'PUT', `/api/conversations/${singleId}/read`)));

  it('GET /api/conversations/{id}/messages of a group: only members', () =>
    row(groupMembersOnly, (p) => http(p, 'GET', `/api/conversations/${groupConversationId}/messages`)));

  it('PUT /api/conversations/{id}/read of a group: only members', () =>
    row(groupMembersOnly, (p) => http(p, 'PUT', `/api/conversations/${groupConversationId}/read`)));

  it('PUT /api/conversations/{id}/read {seqId}: only members, of the 1:1 and of the group', async () => {
    await row(singleMembersOnly, (p) => http(p, 'PUT', `/api/conversations/${singleId}/read`, { seqId: 1 }));
    await row(groupMembersOnly, (p) => http(p, 'PUT', `/api/conversations/${groupConversationId}/read`, { seqId: 1 }));
  });


  it('POST /api/groups: any registered user, never a guest', () =>
    row(
      expect({ owner: ok(201), admin: ok(201), member: ok(201), nonMember: ok(201), otherUser: ok(201), guest: denied('FORBIDDEN') }),
      (p) => http(p, 'POST', '/api/groups', { groupName: `by ${p}`, members: [users.member.user.userId] }),
      (p, data) => assert.equal((data as { group: { ownerId: string } }).group.ownerId, users[p as Authenticated].user.userId),
    ));

  it('GET /api/groups/{id}: only members; others cannot tell it exists', () => row(hiddenFromNonMembers, (p) => http(p, 'GET', `/api/groups/${groupId}`)));

  // ---- group administration ----

  it('PUT /api/conversations/{id}: the owner and admins change the group, members may not', () =>
    freshRow(
      byRole(ok(), ok(), FORBIDDEN),
      (p, g) => http(p, 'PUT', conversationPath(g.conversationId), { name: `renamed by ${p}` }),
      async (p, g, data) => {
        assert.deepEqual([(data as Conversation).name, (data as Conversation).myRole], [`renamed by ${p}`, p]);
        await changedTo(p, g, g.before.roles!, { name: `renamed by ${p}` });
      },
    ));

  it('DELETE /api/conversations/{id}: only the owner disbands', () =>
    freshRow(
      byRole(ok(), FORBIDDEN, FORBIDDEN),
      (p, g) => http(p, 'DELETE', conversationPath(g.conversationId)),
      async (_p, g) => {
        for (const who of ['owner', 'admin', 'member'] as const) await cannotRead(who, g.conversationId);
        assert.equal((await api.get(`/api/groups/${g.groupId}`, users.owner.token)).body.code, 'GROUP_NOT_FOUND');
      },
    ));

  it('POST /api/conversations/{id}/members: the owner and admins add, members may not', () =>
    freshRow(
      byRole(ok(), ok(), FORBIDDEN),
      (p, g) => http(p, 'POST', membersPath(g.conversationId), { members: [id('newcomer')] }),
      async (p, g, data) => {
        assert.deepEqual((data as GroupMember[]).map((m) => [m.userId, m.role]), [[id('newcomer'), 'member']]);
        await changedTo(p, g, withRoles(g.before.roles, { newcomer: 'member' }));
      },
    ));

  it('DELETE /api/conversations/{id}/members/{userId} of a member: the owner and admins remove, members may not', () =>
    freshRow(
      byRole(ok(), ok(), FORBIDDEN),
      (p, g) => http(p, 'DELETE', memberPath(g.conversationId, id('member2'))),
      (p, g) => changedTo(p, g, without(g.before.roles, 'member2')),
    ));

  it('DELETE /api/conversations/{id}/members/{userId} of an admin: only the owner removes', () =>
    freshRow(
      byRole(ok(), FORBIDDEN, FORBIDDEN),
      (p, g) => http(p, 'DELETE', memberPath(g.conversationId, id('admin2'))),
      (p, g) => changedTo(p, g, without(g.before.roles, 'admin2')),
    ));

  it('DELETE /api/conversations/{id}/members/{userId} of the owner: nobody removes the owner, who may not leave others behind', () =>
    freshRow(byRole(MUST_TRANSFER, FORBIDDEN, FORBIDDEN), (p, g) => http(p, 'DELETE', memberPath(g.conversationId, id('owner')))));

  it('DELETE /api/conversations/{id}/members/{own id}: admins and members leave, the owner must transfer first', () =>
    freshRow(
      byRole(MUST_TRANSFER, ok(), ok()),
      (p, g) => http(p, 'DELETE', memberPath(g.conversationId, selfId(p))),
      async (p, g) => {
        await changedTo(p, g, without(g.before.roles, p));
        await cannotRead(p, g.conversationId);
      },
    ));

  it('PUT /api/conversations/{id}/members/{userId} role admin: only the owner promotes', () =>
    freshRow(
      byRole(ok(), FORBIDDEN, FORBIDDEN),
      (p, g) => http(p, 'PUT', memberPath(g.conversationId, id('member2')), { role: 'admin' }),
      async (p, g, data) => {
        assert.deepEqual([(data as GroupMember).userId, (data as GroupMember).role], [id('member2'), 'admin']);
        await changedTo(p, g, withRoles(g.before.roles, { member2: 'admin' }));
      },
    ));

  it('PUT /api/conversations/{id}/members/{userId} role member: only the owner demotes', () =>
    freshRow(
      byRole(ok(), FORBIDDEN, FORBIDDEN),
      (p, g) => http(p, 'PUT', memberPath(g.conversationId, id('admin2')), { role: 'member' }),
      async (p, g, data) => {
        assert.deepEqual([(data as GroupMember).userId, (data as GroupMember).role], [id('admin2'), 'member']);
        await changedTo(p, g, withRoles(g.before.roles, { admin2: 'member' }));
      },
    ));

  it('PUT /api/conversations/{id}/members/{userId} role owner: only the owner transfers, and becomes an admin', () =>
    freshRow(
      byRole(ok(), FORBIDDEN, FORBIDDEN),
      (p, g) => http(p, 'PUT', memberPath(g.conversationId, id('member2')), { role: 'owner' }),
      async (p, g, data) => {
        assert.deepEqual([(data as GroupMember).userId, (data as GroupMember).role], [id('member2'), 'owner']);
        await changedTo(p, g, withRoles(g.before.roles, { member2: 'owner', owner: 'admin' }));
        const group = await api.get<{ group: Group }>(`/api/groups/${g.groupId}`, users.owner.token);
        assert.equal(group.body.data.group.ownerId, id('member2'));
      },
    ));

  it('PUT /api/conversations/{id}/members/{own id} role member: the owner may not demote itself, nobody else changes roles', () =>
    freshRow(byRole(MUST_TRANSFER, FORBIDDEN, FORBIDDEN), (p, g) => http(p, 'PUT', memberPath(g.conversationId, selfId(p)), { role: 'member' })));

  it('GET /api/conversations/{id}/changes of a group: only members, all told the same items', () => {
    const seen: unknown[] = [];
    return row(groupMembersOnly, (p) => http(p, 'GET', changesPath(groupConversationId)), (_p, data) => {
      assert.ok((data as ChangeItem[]).length > 0, 'the admin\'s promotion is an item');
      if (seen.length > 0) assert.deepEqual(data, seen[0]);
      seen.push(data);
    });
  });

  it('GET /api/conversations/{id}/changes of a 1:1: only its two members', () => row(singleMembersOnly, (p) => http(p, 'GET', changesPath(singleId))));

  it('GET /api/conversations/{id}/changes of the world room: any user', (t) =>
    worldId === undefined ? t.skip('no world room') : row(anyUser, (p) => http(p, 'GET', changesPath(worldId!))));

  const settingsPath = (c: string) => `${conversationPath(c)}/settings`;
  const mutedForCaller = (_p: Principal, data: unknown) => assert.equal((data as Conversation).settings.muted, true, "the caller's own setting");
  it('PUT /api/conversations/{id}/settings of a group: each member its own, nobody else', async () => {
    await row(groupMembersOnly, (p) => http(p, 'PUT', settingsPath(groupConversationId), { muted: true }), mutedForCaller);
    // Each one's own: the admin unmuting leaves the owner's muted.
    await http('admin', 'PUT', settingsPath(groupConversationId), { muted: false });
    const [owners, admins] = await Promise.all(['owner' as const, 'admin' as const].map((p) => api.get<Conversation>(conversationPath(groupConversationId), tokens[p]!)));
    assert.deepEqual([owners!.body.data.settings.muted, admins!.body.data.settings.muted], [true, false]);
  });

  it('PUT /api/conversations/{id}/settings of a 1:1: only its two members', () =>
    row(singleMembersOnly, (p) => http(p, 'PUT', settingsPath(singleId), { muted: true }), mutedForCaller));

  it('PUT /api/conversations/{id}/settings of the world room: any user', (t) =>
    worldId === undefined ? t.skip('no world room') : row(anyUser, (p) => http(p, 'PUT', settingsPath(worldId!), { muted: true }), mutedForCaller));

  /** Every group operation, as [label, method, path, body] for a conversation and a caller. */
  const GROUP_OPERATIONS: Array<[string, (c: string, p: Principal) => [string, string, unknown?]]> = [
    ['PUT /api/conversations/{id}', (c) => ['PUT', conversationPath(c), { name: 'renamed' }]],
    ['DELETE /api/conversations/{id}', (c) => ['DELETE', conversationPath(c)]],
    ['POST /api/conversations/{id}/members', (c) => ['POST', membersPath(c), { members: [id('newcomer')] }]],
    ['DELETE /api/conversations/{id}/members/{userId}', (c) => ['DELETE', memberPath(c, id('member'))]],
    ['DELETE /api/conversations/{id}/members/{own id}', (c, p) => ['DELETE', memberPath(c, selfId(p))]],
    ['PUT /api/conversations/{id}/members/{userId}', (c) => ['PUT', memberPath(c, id('member')), { role: 'admin' }]],
  ];
  for (const [label, operation] of GROUP_OPERATIONS) {
    it(`${label} of a 1:1: not a group to its members, not theirs to others`, () => row(notGroupOfSingle, (p) => http(p, ...operation(singleId, p))));
    it(`${label} of the world room: not a group to anyone`, (t) =>
      worldId === undefined ? t.skip('no world room') : row(notGroupOfWorld, (p) => http(p, ...operation(worldId!, p))));
  }

  it('WebSocket upgrade: any valid, unrevoked, unexpired token', () =>
    row(anyUser, async (p) => {
      const res = await tryUpgrade(target.wsUrl, tokens[p]);
      return { status: res.status === 101 ? 200 : res.status, body: { success: res.status === 101, ...(res.body?.code ? { code: res.body.code } : {}) } };
    }));

  it('WebSocket send-message into a 1:1: only its two members', () => row(singleMembersOnly, (p) => wsSend(p, singleId)));

  it('WebSocket send-message into a group: only members', () => row(groupMembersOnly, (p) => wsSend(p, groupConversationId)));

  /** An HTTP send by `p`; what it stored counts as acked, like a socket's send. */
  const httpSend = (p: Principal, conversationId: string) =>
    http(p, 'POST', `${conversationPath(conversationId)}/messages`, { content: `posted by ${p}`, tempMessageId: `matrix-post-${++tempCounter}` }).then((res) => {
      if (res.status === 201) {
        const m = res.body.data as Message;
        acked.push({ tempMessageId: '', messageId: m.messageId, conversationId: m.conversationId, seqId: m.seqId, sendTime: m.sendTime });
      }
      return res;
    });
  const created = (outcomes: Record<Principal, Outcome>) =>
    Object.fromEntries(Object.entries(outcomes).map(([p, o]) => [p, o.status === 200 ? { status: 201 } : o])) as Record<Principal, Outcome>;

  it('POST /api/conversations/{id}/messages into a 1:1: only its two members', () => row(created(singleMembersOnly), (p) => httpSend(p, singleId)));

  it('POST /api/conversations/{id}/messages into a group: only members', () => row(created(groupMembersOnly), (p) => httpSend(p, groupConversationId)));

  it('denied calls changed nothing: histories hold only the members\' messages; roles, members, change cursors as set up', async () => {
    for (const [conversationId, senders] of [
      [singleId, [id('owner'), id('member')]],
      [groupConversationId, [id('owner'), id('admin'), id('member')]],
    ] as const) {
      const res = await api.get<Message[]>(`/api/conversations/${conversationId}/messages?size=100`, users.owner.token);
      assert.equal(res.status, 200);
      const setup = setUp.get(conversationId)!;
      const sent = res.body.data.filter((m) => !setup.messageIds.includes(m.messageId));
      assert.deepEqual([...new Set(sent.map((m) => m.senderId))].sort(), [...senders].sort());
      const mine = acked.filter((a) => a.conversationId === conversationId).sort((a, b) => a.seqId - b.seqId);
      assert.deepEqual(sent.map((m) => m.messageId).sort(), mine.map((a) => a.messageId).sort());
      // Nothing but the members' sends happened: the last message is the last of them.
      const now = await summary(conversationId);
      assert.deepEqual({ ...now, lastMessage: null }, { ...setup.summary, lastMessage: null });
      assert.equal(now.lastMessage?.messageId, mine.at(-1)?.messageId);
    }
    if (worldId !== undefined) assert.deepEqual(await summary(worldId), setUp.get(worldId)!.summary);
    const group = await api.get<{ group: { memberCount: number; ownerId: string }; members: Array<{ userId: string; role: string }> }>(`/api/groups/${groupId}`, users.member.token);
    assert.equal(group.body.data.group.memberCount, 3);
    assert.equal(group.body.data.group.ownerId, id('owner'));
    assert.deepEqual(
      group.body.data.members.map((m) => [m.userId, m.role]).sort(),
      [
        [id('owner'), 'owner'],
        [id('admin'), 'admin'],
        [id('member'), 'member'],
      ].sort(),
    );
  });

  // ---- message actions: each cell acts on a message of its own, in a group of its own ----

  /** Outsiders are told the message does not exist, whatever they ask. */
  const messageOutsiders = { nonMember: denied('MESSAGE_NOT_FOUND'), otherUser: denied('MESSAGE_NOT_FOUND'), guest: denied('MESSAGE_NOT_FOUND') };
  const byRoleOnMessage = (owner: Outcome, admin: Outcome, member: Outcome) => expect({ owner, admin, member, ...messageOutsiders });
  const messageOf = async (by: Authenticated, conversationId: string): Promise<Message> => {
    const res = await api.post<Message>(`${conversationPath(conversationId)}/messages`, { content: `said by ${by}`, tempMessageId: `matrix-m-${++tempCounter}` }, users[by].token);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.data;
  };

  /**
   * A row of message actions: each principal acts on a fresh message by `by` in a fresh group.
   * Every denied cell's group (its last message, reactions included, and its change cursor) must
   * be exactly as it was.
   */
  async function messageRow(expected: Record<Principal, Outcome>, by: Authenticated, call: (p: Principal, message: Message) => Promise<Answer>): Promise<void> {
    const made = await Promise.all(
      PRINCIPALS.map(async (p) => {
        const g = await freshGroup(`message ${p}`);
        const message = await messageOf(by, g.conversationId);
        return [p, { g: { ...g, before: await summary(g.conversationId) }, message }] as const;
      }),
    );
    const subjects = Object.fromEntries(made) as Record<Principal, { g: Fresh; message: Message }>;
    const wrong = await cells(expected, (p) => call(p, subjects[p].message));
    for (const p of PRINCIPALS.filter((q) => expected[q].status >= 300)) {
      const { g } = subjects[p];
      const now = await summary(g.conversationId);
      if (!isDeepStrictEqual(now, g.before)) wrong.push(`${p}: a denied call changed the group from ${JSON.stringify(g.before)} to ${JSON.stringify(now)}`);
    }
    assertCells(wrong);
  }
  const messagePath = (m: Message) => `/api/messages/${m.messageId}`;
  const reactionPath = (m: Message) => `${messagePath(m)}/reactions/${encodeURIComponent('👍')}`;

  it("DELETE /api/messages/{id} of a member's message: the sender, the owner and admins", () =>
    messageRow(byRoleOnMessage(ok(), ok(), ok()), 'member', (p, m) => http(p, 'DELETE', messagePath(m))));

  it("DELETE /api/messages/{id} of the owner's message: the owner and admins, not a member", () =>
    messageRow(byRoleOnMessage(ok(), ok(), FORBIDDEN), 'owner', (p, m) => http(p, 'DELETE', messagePath(m))));

  it("PUT /api/messages/{id}: only the sender edits", () =>
    messageRow(byRoleOnMessage(FORBIDDEN, FORBIDDEN, ok()), 'member', (p, m) => http(p, 'PUT', messagePath(m), { content: `edited by ${p}` })));

  it('PUT /api/messages/{id}/reactions/{emoji}: every member, nobody else', () =>
    messageRow(byRoleOnMessage(ok(), ok(), ok()), 'member', (p, m) => http(p, 'PUT', reactionPath(m))));

  it('DELETE /api/messages/{id}/reactions/{emoji}: every member, nobody else', () =>
    messageRow(byRoleOnMessage(ok(), ok(), ok()), 'member', (p, m) => http(p, 'DELETE', reactionPath(m))));

  it('GET /api/messages/{id}/reactions: every member, nobody else', () =>
    messageRow(byRoleOnMessage(ok(), ok(), ok()), 'member', (p, m) => http(p, 'GET', `${messagePath(m)}/reactions`)));

  it('message actions in a 1:1: the peer may react, never recall or edit; outsiders learn nothing', async () => {
    const single = expect({ owner: FORBIDDEN, member: ok(), admin: denied('MESSAGE_NOT_FOUND'), ...messageOutsiders });
    await row(single, async (p) => http(p, 'DELETE', messagePath(await messageOf('member', singleId))));
    await row(single, async (p) => http(p, 'PUT', messagePath(await messageOf('member', singleId)), { content: 'edited' }));
    const reactors = expect({ owner: ok(), member: ok(), admin: denied('MESSAGE_NOT_FOUND'), ...messageOutsiders });
    await row(reactors, async (p) => http(p, 'PUT', reactionPath(await messageOf('member', singleId))));
  });

  it('message actions in the world room: guests react and reply like anyone; only the sender recalls or edits', async (t) => {
    if (worldId === undefined) return t.skip('no world room');
    const world = worldId;
    const everyone = expect({ owner: ok(), admin: ok(), member: ok(), nonMember: ok(), otherUser: ok(), guest: ok() });
    await row(everyone, async (p) => http(p, 'PUT', reactionPath(await messageOf('guest', world))));
    const target = await messageOf('owner', world);
    await row(created(everyone), (p) =>
      http(p, 'POST', `${conversationPath(world)}/messages`, { content: `reply by ${p}`, tempMessageId: `matrix-reply-${++tempCounter}`, replyTo: target.messageId }),
    );
    const senderOnly = expect({ owner: FORBIDDEN, admin: FORBIDDEN, member: FORBIDDEN, nonMember: FORBIDDEN, otherUser: FORBIDDEN, guest: ok() });
    await row(senderOnly, async (p) => http(p, 'DELETE', messagePath(await messageOf('guest', world))));
    await row(senderOnly, async (p) => http(p, 'PUT', messagePath(await messageOf('guest', world)), { content: 'edited' }));
  });

  it('a reply names a message of its own conversation only', () =>
    row(
      expect({ owner: denied('MESSAGE_NOT_FOUND'), member: denied('MESSAGE_NOT_FOUND'), admin: NOT_MEMBER, ...outsiders }),
      async (p) => {
        const elsewhere = await messageOf('owner', groupConversationId);
        return http(p, 'POST', `${conversationPath(singleId)}/messages`, { content: 'reply', tempMessageId: `matrix-x-${++tempCounter}`, replyTo: elsewhere.messageId });
      },
    ));

  it('POST /api/auth/logout: any valid token, after which it is refused everywhere', async () => {
    await row(anyUser, (p) => http(p, 'POST', '/api/auth/logout'));
    for (const p of AUTHENTICATED) {
      const res = await http(p, 'GET', '/api/users/info');
      assert.equal(res.body.code, 'TOKEN_REVOKED', p);
      assert.equal((await tryUpgrade(target.wsUrl, tokens[p])).body?.code, 'TOKEN_REVOKED', p);
    }
  });
});
