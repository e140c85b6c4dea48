/**
 * Abuse limits, set tight by env: each answers RATE_LIMITED (with Retry-After on HTTP) past its
 * bound, refuses without side effects, and leaves other clients alone. Per-IP limits are seen
 * from distinct loopback addresses (127.0.0.x).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthResult, Conversation, Group, Message } from '../../src/protocol/index.js';
import { CLOSE_CODES } from '../../src/protocol/index.js';
import { Api, WsClient, uniqueName } from '../helpers/client.js';
import { isEmbeddedTarget, startTarget, type Target } from '../security/target.js';
import { requestFrom, tryUpgrade } from '../security/wire.js';

const PASSWORD = 'correct horse';
/** Behind the topology's TCP balancer every client is 127.0.0.1 unless the gateways trust X-Forwarded-For. */
const BEHIND_BALANCER: Record<string, string> = isEmbeddedTarget() ? {} : { GOCHAT_TRUST_PROXY: 'true' };

type Answer = Awaited<ReturnType<typeof requestFrom>>;

/**
 * Repeats `attempt` until it is rate limited; returns the refusal after checking how many got
 * through: exactly `limit` on one server. Limits are counted per logic instance, so behind
 * several of them a client gets through up to that many times the limit (docs/security.md).
 */
async function untilLimited(limit: number, attempt: (i: number) => Promise<Answer>, passed: (res: Answer) => boolean): Promise<Answer> {
  for (let i = 0; i < limit * 8; i++) {
    const res = await attempt(i);
    if (res.status === 429) {
      if (isEmbeddedTarget()) assert.equal(i, limit, `limited after ${i} attempts, not ${limit}`);
      else assert.ok(i >= limit, `limited after ${i} attempts, before the limit ${limit}`);
      return res;
    }
    assert.ok(passed(res), `attempt ${i}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  throw new Error(`never limited in ${limit * 8} attempts`);
}

function assertRateLimited(res: { status: number; headers: Record<string, unknown> | Headers; body: { code?: string } }, label: string) {
  assert.equal(res.status, 429, label);
  assert.equal(res.body.code, 'RATE_LIMITED', label);
  const retryAfter = res.headers instanceof Headers ? res.headers.get('retry-after') : (res.headers['retry-after'] as string | undefined);
  assert.match(String(retryAfter), /^[1-9][0-9]*$/, `${label}: Retry-After is a positive number of seconds`);
}

describe('login, registration and guest limits per username and per IP', () => {
  let target: Target;
  let victim: AuthResult;

  before(async () => {
    target = await startTarget({
      env: {
        GOCHAT_RATE_LOGIN_PER_USERNAME: '3',
        GOCHAT_RATE_LOGIN_PER_USERNAME_WINDOW_MS: '60000',
        GOCHAT_RATE_LOGIN_PER_IP: '8',
        GOCHAT_RATE_REGISTER_PER_IP: '4',
        GOCHAT_RATE_GUEST_PER_IP: '3',
        ...BEHIND_BALANCER,
      },
    });
    victim = await new Api(target.baseUrl).user('victim');
  });
  after(async () => {
    await target?.stop();
  });

  const login = (ip: string, username: string, password: string) => requestFrom(ip, target.baseUrl, 'POST', '/api/auth/login', { username, password });

  it('slows password guessing for one username from one address: RATE_LIMITED, even for the right password', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await login('127.0.0.2', victim.user.username, `guess-${i}-wrong`)).body.code, 'INVALID_CREDENTIALS');
    assertRateLimited(await login('127.0.0.2', victim.user.username, 'guess-3-wrong'), 'fourth guess');
    assertRateLimited(await login('127.0.0.2', victim.user.username, PASSWORD), 'even the right password while limited');
  });

  it('does not lock the owner out: the same username from another address logs in at once', async () => {
    const res = await login('127.0.0.3', victim.user.username, PASSWORD);
    assert.equal(res.status, 200);
    assert.equal((res.body.data as AuthResult).user.userId, victim.user.userId);
  });

  it('a successful login clears the username\'s failures', async () => {
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2; i++) assert.equal((await login('127.0.0.4', victim.user.username, 'typo typo')).body.code, 'INVALID_CREDENTIALS');
      assert.equal((await login('127.0.0.4', victim.user.username, PASSWORD)).status, 200, `round ${round}`);
    }
  });

  it('limits login attempts per address across usernames', async () => {
    const refused = await untilLimited(8, () => login('127.0.0.5', uniqueName('nobody'), 'whatever1'), (res) => res.body.code === 'INVALID_CREDENTIALS');
    assertRateLimited(refused, 'past the limit from one address');
    assert.equal((await login('127.0.0.6', victim.user.username, PASSWORD)).status, 200, 'another address is unaffected');
  });

  it('limits registrations per address, and a refused registration creates no user', async () => {
    let refusedName = '';
    const register = () => {
      refusedName = uniqueName('reg');
      return requestFrom('127.0.0.7', target.baseUrl, 'POST', '/api/auth/register', { username: refusedName, password: PASSWORD });
    };
    assertRateLimited(await untilLimited(4, register, (res) => res.status === 201), 'past the registration limit');
    assert.equal((await login('127.0.0.8', refusedName, PASSWORD)).body.code, 'INVALID_CREDENTIALS', 'the refused user does not exist');
    const elsewhere = await requestFrom('127.0.0.8', target.baseUrl, 'POST', '/api/auth/register', { username: uniqueName('reg'), password: PASSWORD });
    assert.equal(elsewhere.status, 201);
  });

  it('limits guest logins per address', async () => {
    const guest = () => requestFrom('127.0.0.9', target.baseUrl, 'POST', '/api/auth/guest', {});
    assertRateLimited(await untilLimited(3, guest, (res) => res.status === 200), 'past the guest limit');
    assert.equal((await requestFrom('127.0.0.10', target.baseUrl, 'POST', '/api/auth/guest', {})).status, 200);
  });
});

describe('a username lock is short', () => {
  it('lifts by itself when the window passes', async () => {
    await using target = await startTarget({
      env: { GOCHAT_RATE_LOGIN_PER_USERNAME: '2', GOCHAT_RATE_LOGIN_PER_USERNAME_WINDOW_MS: '1500', ...BEHIND_BALANCER },
    });
    const me = await new Api(target.baseUrl).user('shortlock');
    const login = (password: string) => requestFrom('127.0.0.11', target.baseUrl, 'POST', '/api/auth/login', { username: me.user.username, password });
    await login('wrong one');
    await login('wrong two');
    const locked = await login(PASSWORD);
    assertRateLimited(locked, 'locked');
    assert.ok(Number(locked.headers['retry-after']) <= 2, 'Retry-After tells the short wait');
    const deadline = Date.now() + 10_000;
    let status = 429;
    while (status === 429 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      status = (await login(PASSWORD)).status;
    }
    assert.equal(status, 200);
  });
});

describe('message, socket, frame and group-size limits', () => {
  let target: Target;
  let api: Api;
  let alice: AuthResult;
  let bob: AuthResult;
  let conversationId: string;

  before(async () => {
    target = await startTarget({
      env: {
        GOCHAT_RATE_SEND_PER_USER: '5',
        GOCHAT_RATE_SEND_PER_USER_WINDOW_MS: '60000',
        GOCHAT_MAX_SOCKETS_PER_USER: '2',
        GOCHAT_RATE_WS_FRAMES: '50',
        GOCHAT_RATE_WS_FRAMES_WINDOW_MS: '60000',
        GOCHAT_MAX_GROUP_MEMBERS: '3',
        // Below the send limit: group changes are timeline messages and count as sends too.
        GOCHAT_RATE_MEMBERS_ADDED_PER_USER: '3',
      },
    });
    api = new Api(target.baseUrl);
    alice = await api.user('alice');
    bob = await api.user('bob');
    conversationId = (await api.post<Conversation>('/api/conversations', { targetUserId: bob.user.userId }, alice.token)).body.data.conversationId;
  });
  after(async () => {
    await target?.stop();
  });

  it('limits message sends per user with RATE_LIMITED naming the refused tempMessageId; refused sends are not stored', async () => {
    const ws = await WsClient.connect(target.wsUrl, alice.token);
    const outcomes: string[] = [];
    for (let i = 0; i < 7; i++) {
      ws.sendMessage(conversationId, `msg ${i}`, `limit-${i}`);
      const reply = (await ws.next((f) => (f as { data?: { tempMessageId?: string } }).data?.tempMessageId === `limit-${i}`)) as {
        type: string;
        data: { code?: string };
      };
      outcomes.push(reply.type === 'message-ack' ? 'ack' : String(reply.data.code));
    }
    assert.deepEqual(outcomes, ['ack', 'ack', 'ack', 'ack', 'ack', 'RATE_LIMITED', 'RATE_LIMITED']);
    const history = await api.get<Message[]>(`/api/conversations/${conversationId}/messages`, bob.token);
    assert.deepEqual(history.body.data.map((m) => m.content), ['msg 0', 'msg 1', 'msg 2', 'msg 3', 'msg 4']);
    ws.close();
    await ws.closed;
  });

  it('limits open sockets per user: the next upgrade gets 429 RATE_LIMITED with Retry-After, a freed slot is reusable', async () => {
    // The limit is per gateway: behind several gateways a user reaches it on each of them.
    const open: WsClient[] = [];
    while (open.length < 40) {
      try {
        open.push(await WsClient.connect(target.wsUrl, bob.token));
      } catch (err) {
        if ((err as { status?: number }).status === 429) break;
        throw err;
      }
    }
    assert.ok(open.length < 40, 'the upgrade was never refused');
    if (isEmbeddedTarget()) assert.equal(open.length, 2);
    const refused = await tryUpgrade(target.wsUrl, bob.token);
    assert.equal(refused.status, 429);
    assert.equal(refused.body?.code, 'RATE_LIMITED');
    assert.match(String(refused.headers['retry-after']), /^[1-9][0-9]*$/);
    if (!isEmbeddedTarget()) {
      for (const ws of open) ws.close();
      return;
    }
    const [first, second] = open as [WsClient, WsClient];
    first.close();
    await first.closed;
    const deadline = Date.now() + 5_000;
    let status = 429;
    while (status !== 101 && Date.now() < deadline) status = (await tryUpgrade(target.wsUrl, bob.token)).status;
    assert.equal(status, 101);
    second.close();
    await second.closed;
  });

  it('closes a connection that floods frames (4002) after telling it RATE_LIMITED; other connections carry on', async () => {
    const flooder = await WsClient.connect(target.wsUrl, alice.token);
    const bystander = await WsClient.connect(target.wsUrl, bob.token);
    for (let i = 0; i < 60; i++) flooder.send({ type: 'ping' });
    const closed = await Promise.race([flooder.closed, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('flooder stayed connected')), 5_000))]);
    assert.equal(closed.code, CLOSE_CODES.RATE_LIMITED);
    assert.equal(flooder.frames.filter((f) => f.type === 'pong').length, 50);
    assert.equal((flooder.frames.find((f) => f.type === 'error') as { data: { code: string } } | undefined)?.data.code, 'RATE_LIMITED');
    bystander.send({ type: 'ping' });
    await bystander.nextOfType('pong');
    bystander.close();
  });

  it('caps members per group with VALIDATION_ERROR naming members, and creates nothing', async () => {
    const carol = await api.user('carol');
    const dave = await api.user('dave');
    const before = (await api.get<Conversation[]>('/api/conversations', alice.token)).body.data.length;
    const tooMany = await api.post('/api/groups', { groupName: 'too big', members: [bob.user.userId, carol.user.userId, dave.user.userId] }, alice.token);
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.body.code, 'VALIDATION_ERROR');
    assert.match(tooMany.body.message, /members/);
    assert.equal((await api.get<Conversation[]>('/api/conversations', alice.token)).body.data.length, before);
    const fits = await api.post('/api/groups', { groupName: 'just right', members: [bob.user.userId, carol.user.userId] }, alice.token);
    assert.equal(fits.status, 201);
  });

  it('refuses adding members past the cap with 409 GROUP_FULL naming it, and adds nobody', async () => {
    const [owner, ben, cal, dan] = await Promise.all([api.user('own'), api.user('ben'), api.user('cal'), api.user('dan')]);
    const created = await api.post<{ group: Group }>('/api/groups', { groupName: 'almost full', members: [ben.user.userId] }, owner.token);
    const conversationId = created.body.data.group.conversationId;
    const full = await api.post(`/api/conversations/${conversationId}/members`, { members: [cal.user.userId, dan.user.userId] }, owner.token);
    assert.equal(full.status, 409);
    assert.equal(full.body.code, 'GROUP_FULL');
    assert.match(full.body.message, /3/);
    assert.equal((await api.get<Conversation>(`/api/conversations/${conversationId}`, owner.token)).body.data.memberCount, 2);
    const fits = await api.post(`/api/conversations/${conversationId}/members`, { members: [cal.user.userId] }, owner.token);
    assert.equal(fits.status, 200);
  });

  it('counts settings changes against the send allowance: a loop of toggles is RATE_LIMITED and stops changing anything', async () => {
    const owner = await api.user('toggler');
    const list = await api.get<Conversation[]>('/api/conversations', owner.token);
    const world = list.body.data.find((c) => c.type === 'world');
    assert.ok(world, 'the world room');
    const codes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await api.put(`/api/conversations/${world.conversationId}/settings`, { muted: i % 2 === 0 }, owner.token);
      codes.push(res.status === 200 ? 'ok' : String(res.body.code));
    }
    assert.deepEqual(codes, ['ok', 'ok', 'ok', 'ok', 'ok', 'RATE_LIMITED']);
    const after = await api.get<Conversation>(`/api/conversations/${world.conversationId}`, owner.token);
    assert.equal(after.body.data.settings.muted, true, 'the refused sixth toggle (off) changed nothing');
  });

  it('limits the users one caller may ask to add with RATE_LIMITED, counting every id asked for', async () => {
    const [owner, ben] = await Promise.all([api.user('own'), api.user('ben')]);
    const created = await api.post<{ group: Group }>('/api/groups', { groupName: 'spam guard', members: [] }, owner.token);
    const path = `/api/conversations/${created.body.data.group.conversationId}/members`;
    const codes: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await api.post(path, { members: [ben.user.userId] }, owner.token);
      codes.push(res.status === 200 ? 'ok' : String(res.body.code));
    }
    assert.deepEqual(codes, ['ok', 'ok', 'ok', 'RATE_LIMITED']);
  });
});
