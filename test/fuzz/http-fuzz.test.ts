/**
 * HTTP bodies, paths and query strings from a seeded generator: every answer is the contract's
 * envelope with a code from the table (never a 500), the server stays up, and data that the
 * caller may not touch is unchanged afterwards.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { AuthResult, Conversation, Message } from '../../src/protocol/index.js';
import { Api, WsClient } from '../helpers/client.js';
import { startTarget, type Target } from '../security/target.js';
import { bodyText, contractViolation, FUZZ_SEED, fuzzRuns, INJECTION_STRINGS, pathId, queryString } from './arbitraries.js';

interface Fixture {
  target: Target;
  api: Api;
  owner: AuthResult;
  member: AuthResult;
  attacker: AuthResult;
  groupId: string;
  conversationId: string;
}

/** What the attacker must never change: the group's history, members and the members' read state. */
async function snapshot(f: Fixture) {
  const history = await f.api.get<Message[]>(`/api/conversations/${f.conversationId}/messages?size=100`, f.owner.token);
  const group = await f.api.get(`/api/groups/${f.groupId}`, f.owner.token);
  const readState = async (who: AuthResult) => {
    const list = await f.api.get<Conversation[]>('/api/conversations', who.token);
    const c = list.body.data.find((x) => x.conversationId === f.conversationId);
    return { lastReadSeq: c?.lastReadSeq, unreadCount: c?.unreadCount };
  };
  return { history: history.body, group: group.body, owner: await readState(f.owner), member: await readState(f.member) };
}

describe('HTTP fuzzing', () => {
  let f: Fixture;

  before(async () => {
    const target = await startTarget();
    const api = new Api(target.baseUrl);
    const owner = await api.user('owner');
    const member = await api.user('member');
    const attacker = await api.user('attacker');
    const group = await api.post<{ group: { groupId: string; conversationId: string } }>(
      '/api/groups',
      { groupName: 'sentinel', members: [member.user.userId] },
      owner.token,
    );
    f = { target, api, owner, member, attacker, groupId: group.body.data.group.groupId, conversationId: group.body.data.group.conversationId };
    const ws = await WsClient.connect(target.wsUrl, owner.token);
    for (let i = 0; i < 3; i++) {
      ws.sendMessage(f.conversationId, `sentinel ${i}`, `sentinel-${i}`);
      await ws.nextOfType('message-ack');
    }
    ws.close();
  });
  after(async () => {
    await f?.target.stop();
  });

  it('answers every generated request with the contract envelope and a table code, and changes nothing it must not', async () => {
    const before = await snapshot(f);
    const ids = [f.conversationId, f.groupId, f.owner.user.userId, f.member.user.userId];
    const request = fc.record({
      route: fc.constantFrom(
        'POST /api/auth/register',
        'POST /api/auth/login',
        'POST /api/auth/guest',
        'POST /api/auth/logout',
        'GET /api/users/info',
        'GET /api/users/by-username/:id',
        'GET /api/conversations',
        'POST /api/conversations',
        'GET /api/conversations/:id/messages',
        'PUT /api/conversations/:id/read',
        'POST /api/groups',
        'GET /api/groups/:id',
        'DELETE /api/groups/:id',
        'PATCH /api/conversations/:id/messages',
        'GET /api/:id',
      ),
      id: pathId(ids),
      query: queryString,
      body: bodyText,
      contentType: fc.constantFrom('application/json', 'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', ''),
      // The attacker, not in the sentinel group, or no token at all. Never a logout of the attacker's token.
      auth: fc.constantFrom('attacker', 'none', 'garbage'),
    });

    const violations: string[] = [];
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const [method, template] = r.route.split(' ') as [string, string];
        const path = template.replace(':id', r.id) + r.query;
        const token = r.auth === 'attacker' ? f.attacker.token : r.auth === 'garbage' ? 'not.a.jwt' : undefined;
        if (r.route === 'POST /api/auth/logout' && r.auth === 'attacker') return;
        const hasBody = method !== 'GET' && method !== 'DELETE';
        const res = await f.api.request(method, path, {
          ...(token ? { token } : {}),
          ...(hasBody ? { rawBody: r.body } : {}),
          headers: hasBody ? { 'content-type': r.contentType } : {},
        });
        const problem = contractViolation(res.status, res.body);
        if (problem) violations.push(`${method} ${path} ${String(r.body).slice(0, 80)} -> ${res.status} ${JSON.stringify(res.body).slice(0, 200)}: ${problem}`);
        assert.equal(problem, null, violations.at(-1));
      }),
      { seed: FUZZ_SEED, numRuns: fuzzRuns(400), endOnFailure: true },
    );

    const health = await f.api.get('/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(await snapshot(f), before);
  });

  it('refuses bodies over 64 KiB with 413 PAYLOAD_TOO_LARGE, whatever their content', async () => {
    for (const size of [64 * 1024 + 1, 200 * 1024, 2 * 1024 * 1024]) {
      const body = JSON.stringify({ groupName: 'x', members: [], pad: 'y'.repeat(size) });
      const res = await f.api.request('POST', '/api/groups', { token: f.attacker.token, rawBody: body });
      assert.equal(res.status, 413);
      assert.equal(res.body.code, 'PAYLOAD_TOO_LARGE');
    }
    assert.equal((await f.api.get('/healthz')).status, 200);
  });

  it('names the contract code for each kind of hostile input', async () => {
    const cases: Array<[string, string, string | Buffer, string]> = [
      ['malformed JSON', '/api/auth/login', '{"username": "a", ', 'INVALID_JSON'],
      ['invalid UTF-8', '/api/auth/login', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 'INVALID_JSON'],
      ['overlong UTF-8 encoding of "/"', '/api/auth/guest', Buffer.from([0x7b, 0x22, 0x67, 0x75, 0x65, 0x73, 0x74, 0x4e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xc0, 0xaf, 0x22, 0x7d]), 'INVALID_JSON'],
      ['a lone surrogate escape', '/api/groups', '{"groupName":"a\\ud800","members":[]}', 'VALIDATION_ERROR'],
      ['a wrong type', '/api/auth/login', '{"username": 5, "password": "x"}', 'VALIDATION_ERROR'],
      ['a huge number', '/api/conversations', '{"targetUserId": 1e400}', 'VALIDATION_ERROR'],
      ['deep nesting', '/api/groups', '['.repeat(30_000) + ']'.repeat(30_000), 'VALIDATION_ERROR'],
      ['an unknown field', '/api/groups', '{"groupName":"g","members":[],"isAdmin":true}', 'VALIDATION_ERROR'],
      ['a __proto__ key', '/api/groups', '{"groupName":"g","members":[],"__proto__":{"isAdmin":true}}', 'VALIDATION_ERROR'],
      ['a control character in a username', '/api/auth/register', '{"username":"ev\\u0000il","password":"passwordpassword"}', 'VALIDATION_ERROR'],
      ['a blank group name', '/api/groups', '{"groupName":"   ","members":[]}', 'VALIDATION_ERROR'],
      ['a control character in a group name', '/api/groups', '{"groupName":"line\\nbreak\\u001b[2J","members":[]}', 'VALIDATION_ERROR'],
    ];
    for (const [label, path, body, code] of cases) {
      const res = await f.api.request('POST', path, { token: f.attacker.token, rawBody: body });
      assert.equal(res.body.code, code, label);
      assert.equal(res.status, 400, label);
    }
    for (const trick of ['..%2F..%2Fetc%2Fpasswd', "1'%20OR%20'1'%3D'1", '01', '1e0', '%ZZ', '9'.repeat(40)]) {
      const res = await f.api.get(`/api/conversations/${trick}/messages`, f.attacker.token);
      assert.ok(['CONVERSATION_NOT_FOUND', 'VALIDATION_ERROR', 'ROUTE_NOT_FOUND'].includes(res.body.code!), `${trick}: ${res.body.code}`);
    }
  });

  it('stores SQL-like and HTML-like group names verbatim and returns them unchanged', async () => {
    // eslint-disable-next-line no-control-regex
    const oneLine = (s: string) => !/[\u0000-\u001f\u007f-\u009f]/.test(s);
    for (const name of INJECTION_STRINGS.map((s) => s.trim()).filter((s) => s.length > 0 && s.length <= 64 && oneLine(s))) {
      const created = await f.api.post<{ group: { groupId: string; name: string } }>('/api/groups', { groupName: name, members: [] }, f.attacker.token);
      assert.equal(created.status, 201, name);
      const read = await f.api.get<{ group: { name: string } }>(`/api/groups/${created.body.data.group.groupId}`, f.attacker.token);
      assert.equal(read.body.data.group.name, name);
    }
  });
});
