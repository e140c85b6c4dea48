/**
 * Names and content as an impersonator would try them: invisible characters, look-alikes and
 * marks-only names are refused; guests' names are cut by grapheme; clients cannot send `system`
 * messages; invisible-only content is empty; a refused frame still names its tempMessageId.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthResult, Conversation } from '../../src/protocol/index.js';
import { Api, uniqueName, WsClient } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('identity and content rules', () => {
  let server: TestServer;
  let api: Api;
  before(async () => {
    server = await startServer();
    api = new Api(server.baseUrl);
  });
  after(async () => {
    await server?.stop();
  });

  const register = (username: string) => api.post('/api/auth/register', { username, password: 'correct horse' });

  it('refuses a name that hides an invisible character', async () => {
    const base = uniqueName('adm');
    assert.equal((await register(base)).status, 201);
    for (const invisible of ['\u3164', '\u115F', '\u034F', '\uFE0F', '\u17B4', '\u{E0100}', '\u200B']) {
      const res = await register(`${base}${invisible}`);
      assert.deepEqual([res.status, res.body.code], [400, 'VALIDATION_ERROR'], `U+${invisible.codePointAt(0)!.toString(16)}`);
    }
  });

  it('refuses a name that looks like an existing one', async () => {
    assert.equal((await register('paypal')).status, 201);
    for (const lookalike of ['p\u0430ypal', 'PAYPAL', 'paypaI']) {
      const res = await register(lookalike);
      assert.deepEqual([res.status, res.body.code], [409, 'USERNAME_TAKEN'], lookalike);
    }
  });

  it('refuses names made only of marks or punctuation', async () => {
    for (const name of ['..', '-_', '\u0301\u0301\u0301', '.abc']) {
      assert.equal((await register(name)).status, 400, JSON.stringify(name));
    }
  });

  it('normalizes a name before measuring it', async () => {
    // 32 decomposed letters are 64 code points as sent and 32 once normalized: accepted.
    const decomposed = 'e\u0301'.repeat(32);
    const res = await register(decomposed);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal((res.body.data as { username: string }).username, '\u00e9'.repeat(32));
  });

  it('cuts a guest name by code point and grapheme when it needs a suffix, never inside a surrogate pair', async () => {
    // 32 astral letters (two UTF-16 units each): the second guest of that name needs a suffix.
    const astral = '\u{20000}'.repeat(32);
    assert.equal((await api.post('/api/auth/guest', { guestName: astral })).status, 200);
    const res = await api.post<AuthResult>('/api/auth/guest', { guestName: astral });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const name = res.body.data.user.username;
    assert.notEqual(name, astral);
    assert.doesNotMatch(name, /\uFFFD/);
    assert.doesNotMatch(name, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
    assert.ok([...name].length <= 32);
  });

  describe('messages', () => {
    let socket: WsClient;
    let conversationId: string;
    before(async () => {
      const me = await api.user('sender');
      const peer = await api.user('peer');
      conversationId = (await api.post<Conversation>('/api/conversations', { targetUserId: peer.user.userId }, me.token)).body.data.conversationId;
      socket = await WsClient.connect(server.wsUrl, me.token);
    });
    after(() => socket?.close());

    const refusal = async (tempMessageId: string) =>
      (await socket.next((f) => (f.type === 'error' || f.type === 'message-ack') && (f.data as { tempMessageId?: string }).tempMessageId === tempMessageId)) as {
        type: string;
        data: { code: string };
      };

    it('refuses messageType system from a client', async () => {
      socket.sendMessage(conversationId, 'I am the server', 'sys-1', 'system');
      const frame = await refusal('sys-1');
      assert.deepEqual([frame.type, frame.data.code], ['error', 'VALIDATION_ERROR']);
    });

    it('treats content made only of invisible characters as empty', async () => {
      socket.sendMessage(conversationId, '\u200B\u200D\u2060\u3164\uFEFF', 'invisible-1');
      const frame = await refusal('invisible-1');
      assert.deepEqual([frame.type, frame.data.code], ['error', 'VALIDATION_ERROR']);
    });

    it('echoes the tempMessageId of a frame refused for a lone surrogate elsewhere', async () => {
      socket.send(`{"type":"send-message","data":{"conversationId":"${conversationId}","content":"bad \\uD800 text","tempMessageId":"lone-1"}}`);
      const frame = await refusal('lone-1');
      assert.deepEqual([frame.type, frame.data.code], ['error', 'VALIDATION_ERROR']);
    });
  });
});
