/**
 * Authorization on every access: each endpoint and WebSocket action is tried by every kind of
 * caller, and each cell must give exactly the outcome in the table. Denied cells change nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthResult, Conversation, ErrorCode, Message, MessageAck } from '../../src/protocol/index.js';
import { ERROR_CODES } from '../../src/protocol/index.js';
import { Api, WsClient } from '../helpers/client.js';
import { startTarget, type Target } from './target.js';
import { expiredToken, signToken, OTHER_SECRET, TEST_JWT_SECRET } from './forge.js';
import { tryUpgrade } from './wire.js';

const PRINCIPALS = ['none', 'badSignature', 'expired', 'revoked', 'otherUser', 'guest', 'member', 'nonMember', 'owner'] as const;
type Principal = (typeof PRINCIPALS)[number];
type Authenticated = Exclude<Principal, 'none' | 'badSignature' | 'expired' | 'revoked'>;

interface Outcome {
  status: number;
  code?: ErrorCode;
}

const ok = (status = 200): Outcome => ({ status });
const denied = (code: ErrorCode): Outcome => ({ status: ERROR_CODES[code].http, code });
const NOT_MEMBER = denied('NOT_CONVERSATION_MEMBER');

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
const membersOnly = expect({ owner: ok(), member: ok(), nonMember: NOT_MEMBER, otherUser: NOT_MEMBER, guest: NOT_MEMBER });
// A group's info does not tell a non-member that the group exists.
const groupMembersOnly = expect({
  owner: ok(),
  member: ok(),
  nonMember: denied('GROUP_NOT_FOUND'),
  otherUser: denied('GROUP_NOT_FOUND'),
  guest: denied('GROUP_NOT_FOUND'),
});
const anyUser = expect({ owner: ok(), member: ok(), nonMember: ok(), otherUser: ok(), guest: ok() });

describe('authorization matrix: every endpoint and WebSocket action × every kind of caller', () => {
  let target: Target;
  let api: Api;
  const users = {} as Record<Authenticated, AuthResult>;
  const tokens = {} as Record<Principal, string | null>;
  let singleId: string;
  let groupId: string;
  let groupConversationId: string;
  const acked: MessageAck[] = [];
  let tempCounter = 0;

  before(async () => {
    target = await startTarget({ env: { GOCHAT_JWT_SECRET: TEST_JWT_SECRET } });
    api = new Api(target.baseUrl);
    users.owner = await api.user('owner');
    users.member = await api.user('member');
    users.nonMember = await api.user('nonmember');
    users.otherUser = await api.user('other');
    const guest = await api.post<AuthResult>('/api/auth/guest', {});
    assert.equal(guest.status, 200);
    users.guest = guest.body.data;

    // The subject resources: a 1:1 and a group between owner and member.
    const single = await api.post<Conversation>('/api/conversations', { targetUserId: users.member.user.userId }, users.owner.token);
    assert.equal(single.status, 201);
    singleId = single.body.data.conversationId;
    const group = await api.post<{ group: { groupId: string; conversationId: string } }>(
      '/api/groups',
      { groupName: 'owners group', members: [users.member.user.userId] },
      users.owner.token,
    );
    assert.equal(group.status, 201);
    groupId = group.body.data.group.groupId;
    groupConversationId = group.body.data.group.conversationId;
    // "other user" has resources of their own, so a wrong id is not just an empty account.
    const otherGroup = await api.post('/api/groups', { groupName: 'elsewhere', members: [users.nonMember.user.userId] }, users.otherUser.token);
    assert.equal(otherGroup.status, 201);

    for (const p of ['owner', 'member', 'nonMember', 'otherUser', 'guest'] as const) tokens[p] = users[p].token;
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

  /** Runs one row over all principals; `check` inspects each 2xx answer for leaks. */
  async function row(
    expected: Record<Principal, Outcome>,
    call: (p: Principal) => Promise<{ status: number; body: { success: boolean; code?: string; data?: unknown } }>,
    check?: (p: Principal, data: unknown) => void,
  ): Promise<void> {
    const wrong: string[] = [];
    for (const p of PRINCIPALS) {
      const res = await call(p);
      const want = expected[p];
      const got: Outcome = res.body.success ? { status: res.status } : { status: res.status, code: res.body.code as ErrorCode };
      if (got.status !== want.status || got.code !== want.code) {
        wrong.push(`${p}: expected ${want.status} ${want.code ?? ''}, got ${got.status} ${got.code ?? ''}`);
      } else if (res.body.success) {
        check?.(p, res.body.data);
      }
    }
    assert.deepEqual(wrong, [], `cells that differ from the matrix:\n${wrong.join('\n')}`);
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

  const isSubject = (p: Principal) => p === 'owner' || p === 'member';

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
      assert.equal(ids.includes(singleId), isSubject(p), `${p} sees the 1:1`);
      assert.equal(ids.includes(groupConversationId), isSubject(p), `${p} sees the group`);
    }));

  it('POST /api/conversations opens a 1:1 for any user, never with oneself', () =>
    row(
      expect({ owner: ok(200), member: denied('VALIDATION_ERROR'), nonMember: ok(201), otherUser: ok(201), guest: ok(201) }),
      (p) => http(p, 'POST', '/api/conversations', { targetUserId: users.member.user.userId }),
      (p, data) => {
        if (p === 'owner') assert.equal((data as Conversation).conversationId, singleId);
        else assert.notEqual((data as Conversation).conversationId, singleId);
      },
    ));

  it('GET /api/conversations/{id} of a 1:1: only its two members', () => row(membersOnly, (p) => http(p, 'GET', `/api/conversations/${singleId}`)));

  it('GET /api/conversations/{id} of a group: only members', () => row(membersOnly, (p) => http(p, 'GET', `/api/conversations/${groupConversationId}`)));

  it('GET /api/conversations/{id}/members of a group: only members', () =>
    row(membersOnly, (p) => http(p, 'GET', `/api/conversations/${groupConversationId}/members`), (_p, data) => {
      assert.deepEqual((data as Array<{ userId: string }>).map((m) => m.userId).sort(), [users.owner.user.userId, users.member.user.userId].sort());
    }));

  it('GET /api/conversations/{id}/members of a 1:1: refused to its members as not a group, to others as not theirs', () =>
    row(
      expect({ owner: denied('NOT_GROUP_CONVERSATION'), member: denied('NOT_GROUP_CONVERSATION'), nonMember: NOT_MEMBER, otherUser: NOT_MEMBER, guest: NOT_MEMBER }),
      (p) => http(p, 'GET', `/api/conversations/${singleId}/members`),
    ));

  it('GET /api/groups lists only the caller\'s groups, with its own role', () =>
    row(anyUser, (p) => http(p, 'GET', '/api/groups'), (p, data) => {
      const mine = (data as Array<{ conversationId: string; myRole: string }>).find((g) => g.conversationId === groupConversationId);
      assert.equal(mine?.myRole, p === 'owner' ? 'owner' : p === 'member' ? 'member' : undefined, p);
    }));

  it('GET /api/conversations/{id}/messages of a 1:1: only its two members', () =>
    row(membersOnly, (p) => http(p, 'GET', `/api/conversations/${singleId}/messages`)));

  it('PUT /api/conversations/{id}/read of a 1:1: only its two members', () =>
    row(membersOnly, (p) => http(p, 'PUT', `/api/conversations/${singleId}/read`)));

  it('GET /api/conversations/{id}/messages of a group: only members', () =>
    row(membersOnly, (p) => http(p, 'GET', `/api/conversations/${groupConversationId}/messages`)));

  it('PUT /api/conversations/{id}/read of a group: only members', () =>
    row(membersOnly, (p) => http(p, 'PUT', `/api/conversations/${groupConversationId}/read`)));

  it('POST /api/groups: any registered user, never a guest', () =>
    row(
      expect({ owner: ok(201), member: ok(201), nonMember: ok(201), otherUser: ok(201), guest: denied('FORBIDDEN') }),
      (p) => http(p, 'POST', '/api/groups', { groupName: `by ${p}`, members: [users.member.user.userId] }),
      (p, data) => assert.equal((data as { group: { ownerId: string } }).group.ownerId, users[p as Authenticated].user.userId),
    ));

  it('GET /api/groups/{id}: only members; others cannot tell it exists', () => row(groupMembersOnly, (p) => http(p, 'GET', `/api/groups/${groupId}`)));

  it('WebSocket upgrade: any valid, unrevoked, unexpired token', () =>
    row(anyUser, async (p) => {
      const res = await tryUpgrade(target.wsUrl, tokens[p]);
      return { status: res.status === 101 ? 200 : res.status, body: { success: res.status === 101, ...(res.body?.code ? { code: res.body.code } : {}) } };
    }));

  it('WebSocket send-message into a 1:1: only its two members', () => row(membersOnly, (p) => wsSend(p, singleId)));

  it('WebSocket send-message into a group: only members', () => row(membersOnly, (p) => wsSend(p, groupConversationId)));

  it('denied calls changed nothing: histories hold only the members\' messages, membership is unchanged', async () => {
    for (const conversationId of [singleId, groupConversationId]) {
      const res = await api.get<Message[]>(`/api/conversations/${conversationId}/messages?size=100`, users.owner.token);
      assert.equal(res.status, 200);
      const senders = new Set(res.body.data.map((m) => m.senderId));
      assert.deepEqual([...senders].sort(), [users.owner.user.userId, users.member.user.userId].sort());
      const mine = acked.filter((a) => a.conversationId === conversationId).map((a) => a.messageId).sort();
      assert.deepEqual(res.body.data.map((m) => m.messageId).sort(), mine);
    }
    const group = await api.get<{ group: { memberCount: number }; members: Array<{ userId: string }> }>(`/api/groups/${groupId}`, users.member.token);
    assert.equal(group.body.data.group.memberCount, 2);
    assert.deepEqual(group.body.data.members.map((m) => m.userId).sort(), [users.owner.user.userId, users.member.user.userId].sort());
  });

  it('POST /api/auth/logout: any valid token, after which it is refused everywhere', async () => {
    await row(anyUser, (p) => http(p, 'POST', '/api/auth/logout'));
    for (const p of ['owner', 'member', 'nonMember', 'otherUser', 'guest'] as const) {
      const res = await http(p, 'GET', '/api/users/info');
      assert.equal(res.body.code, 'TOKEN_REVOKED', p);
      assert.equal((await tryUpgrade(target.wsUrl, tokens[p])).body?.code, 'TOKEN_REVOKED', p);
    }
  });
});
