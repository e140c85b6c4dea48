/**
 * WebSocket frames from a seeded generator: each bad frame gets exactly one `error` frame with a
 * code from the table, the connection stays open, nothing is stored, and the server stays up.
 * Valid frames with hostile content are stored and returned verbatim.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { AuthResult, Conversation, ErrorCode, Message } from '../../src/protocol/index.js';
import { ERROR_CODES } from '../../src/protocol/index.js';
import { Api, WsClient } from '../helpers/client.js';
import { startTarget, type Target } from '../security/target.js';
import { RawWebSocket, encodeFrame, OPCODE } from '../security/wire.js';
import { FUZZ_SEED, fuzzRuns, INJECTION_STRINGS, PATH_TRICKS } from './arbitraries.js';

// The controls contract content refuses (all C0/C1 but tab and newlines).
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CONTROLS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;

type Reply = { type: string; data?: { code?: string; message?: string; tempMessageId?: string } };

describe('WebSocket fuzzing', () => {
  let target: Target;
  let api: Api;
  let me: AuthResult;
  let peer: AuthResult;
  let ownConversation: string;
  let foreignConversation: string;

  before(async () => {
    target = await startTarget();
    api = new Api(target.baseUrl);
    me = await api.user('fuzzer');
    peer = await api.user('peer');
    const stranger = await api.user('stranger');
    ownConversation = (await api.post<Conversation>('/api/conversations', { targetUserId: peer.user.userId }, me.token)).body.data.conversationId;
    foreignConversation = (await api.post<Conversation>('/api/conversations', { targetUserId: stranger.user.userId }, peer.token)).body.data.conversationId;
  });
  after(async () => {
    await target?.stop();
  });

  const history = async (conversationId: string, who = me) =>
    (await api.get<Message[]>(`/api/conversations/${conversationId}/messages?size=100`, who.token)).body.data;

  /** A valid send-message frame with one thing broken, and the code the contract gives for it. */
  const brokenSend: fc.Arbitrary<{ frame: unknown; code: ErrorCode }> = fc.oneof(
    fc.record({
      field: fc.constantFrom('conversationId', 'content', 'tempMessageId', 'messageType'),
      value: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.object({ maxDepth: 1 }), fc.double()),
    }).map(({ field, value }) => ({ frame: { type: 'send-message', data: { ...validData(), [field]: value } }, code: 'VALIDATION_ERROR' as const })),
    fc.constantFrom('conversationId', 'content', 'tempMessageId').map((field) => {
      const data: Record<string, unknown> = validData();
      delete data[field];
      return { frame: { type: 'send-message', data }, code: 'VALIDATION_ERROR' as const };
    }),
    fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), fc.jsonValue({ maxDepth: 1 })).map(([key, value]) => ({
      frame: { type: 'send-message', data: { ...validData(), [`x${key}`]: value } },
      code: 'VALIDATION_ERROR' as const,
    })),
    fc.string({ maxLength: 12 }).filter((t) => t !== 'ping' && t !== 'send-message').map((type) => ({ frame: { type, data: validData() }, code: 'VALIDATION_ERROR' as const })),
    fc.constantFrom('image2', 'TEXT', '', 'system ').map((messageType) => ({ frame: { type: 'send-message', data: { ...validData(), messageType } }, code: 'VALIDATION_ERROR' as const })),
    fc.constantFrom('', '   ', '\n\t', '\u0000', 'a\u0007b', 'x\u001bx', '\u007f', 'x'.repeat(4001)).map((content) => ({
      frame: { type: 'send-message', data: { ...validData(), content } },
      code: 'VALIDATION_ERROR' as const,
    })),
    fc.constantFrom(...PATH_TRICKS.map((t) => decodeURIComponentSafe(t)), '999999', '').map((conversationId) => ({
      frame: { type: 'send-message', data: { ...validData(), conversationId } },
      code: conversationId === '' || conversationId.length > 64 ? ('VALIDATION_ERROR' as const) : ('CONVERSATION_NOT_FOUND' as const),
    })),
    fc.constant(null).map(() => ({ frame: { type: 'send-message', data: { ...validData(), conversationId: foreignConversation } }, code: 'NOT_CONVERSATION_MEMBER' as const })),
    fc.string({ maxLength: 40 }).filter((s) => !isJson(s)).map((text) => ({ frame: text, code: 'INVALID_JSON' as const })),
    fc.jsonValue({ maxDepth: 3 }).filter((v) => !isPing(v)).map((v) => ({ frame: JSON.stringify(v), code: 'VALIDATION_ERROR' as const })),
    fc.integer({ min: 100, max: 30_000 }).map((depth) => ({ frame: '['.repeat(depth) + ']'.repeat(depth), code: 'VALIDATION_ERROR' as const })),
    fc.constantFrom('{"type":"send-message","data":{"conversationId":"1","content":"\\ud800","tempMessageId":"t"}}').map((frame) => ({ frame, code: 'VALIDATION_ERROR' as const })),
  );

  function validData(): Record<string, unknown> {
    return { conversationId: ownConversation, content: 'hello', tempMessageId: `fuzz-${Math.random().toString(36).slice(2)}` };
  }

  it('answers each broken frame with one error frame naming its code, keeps the connection, stores nothing', async () => {
    const ws = await WsClient.connect(target.wsUrl, me.token);
    const before = await history(ownConversation);
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(brokenSend, async ({ frame, code }) => {
        ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
        sent++;
        const reply = (await ws.next(() => true, 5_000)) as Reply;
        assert.equal(reply.type, 'error', `reply to ${JSON.stringify(frame).slice(0, 120)}: ${JSON.stringify(reply)}`);
        assert.equal(reply.data?.code, code, `code for ${JSON.stringify(frame).slice(0, 120)}: ${JSON.stringify(reply)}`);
        assert.equal(typeof reply.data?.message, 'string');
        const tempId = (frame as { data?: { tempMessageId?: unknown } })?.data?.tempMessageId;
        if (typeof tempId === 'string' && code !== 'INVALID_JSON') assert.equal(reply.data?.tempMessageId, tempId);
      }),
      { seed: FUZZ_SEED, numRuns: fuzzRuns(400), endOnFailure: true },
    );
    ws.send({ type: 'ping' });
    assert.equal((await ws.nextOfType('pong')).type, 'pong', 'the connection survived every bad frame');
    ws.close();
    assert.ok(sent > 0);
    assert.deepEqual(await history(ownConversation), before, 'no broken frame stored a message');
    assert.deepEqual(await history(foreignConversation, peer), []);
  });

  it('binary frames, invalid UTF-8 and oversized frames get error frames, not a closed connection', async () => {
    const raw = await RawWebSocket.connect(target.wsUrl, me.token);
    const expectError = async (code: ErrorCode, label: string) => {
      const reply = await raw.nextJson();
      assert.equal(reply.type, 'error', label);
      assert.equal(reply.data?.code, code, label);
      assert.ok(ERROR_CODES[code]);
    };
    raw.write(encodeFrame(OPCODE.binary, Buffer.from('{"type":"ping"}')));
    await expectError('INVALID_JSON', 'binary frame');
    raw.sendText(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]));
    await expectError('INVALID_JSON', 'invalid UTF-8');
    raw.sendText(Buffer.from([0xed, 0xa0, 0x80]));
    await expectError('INVALID_JSON', 'UTF-8 encoded surrogate');
    raw.sendText(Buffer.from(`{"type":"send-message","data":{"conversationId":"${ownConversation}","content":"ok \xc3","tempMessageId":"u8"}}`, 'latin1'));
    await expectError('INVALID_JSON', 'truncated multi-byte sequence inside a valid frame');
    raw.sendText(JSON.stringify({ type: 'send-message', data: { conversationId: ownConversation, content: 'x'.repeat(70_000), tempMessageId: 'big' } }));
    await expectError('PAYLOAD_TOO_LARGE', 'frame over 64 KiB');
    raw.sendText('{"type":"ping"}');
    assert.equal((await raw.nextJson()).type, 'pong', 'still open after all of it');
    raw.destroy();
    assert.equal((await history(ownConversation)).some((m) => m.content.startsWith('ok ')), false);
  });

  it('stores hostile but valid content verbatim and returns it unchanged, in history and live', async () => {
    const sender = await WsClient.connect(target.wsUrl, me.token);
    const receiver = await WsClient.connect(target.wsUrl, peer.token);
    const content = fc.oneof(
      fc.constantFrom(...INJECTION_STRINGS),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 50 }),
    ).filter((s) => s.trim().length > 0 && !FORBIDDEN_CONTROLS.test(s));
    const sentContents: string[] = [];
    await fc.assert(
      fc.asyncProperty(content, async (text) => {
        const tempMessageId = `verbatim-${sentContents.length}`;
        sender.sendMessage(ownConversation, text, tempMessageId);
        const reply = (await sender.next((fr) => fr.type === 'message-ack' || fr.type === 'error')) as Reply;
        assert.equal(reply.type, 'message-ack', `${JSON.stringify(text)} -> ${JSON.stringify(reply)}`);
        const live = (await receiver.nextOfType('new-message')) as { data: Message };
        assert.equal(live.data.content, text);
        sentContents.push(text);
      }),
      { seed: FUZZ_SEED, numRuns: fuzzRuns(60), endOnFailure: true },
    );
    const stored = (await api.get<Message[]>(`/api/conversations/${ownConversation}/messages?size=100`, me.token)).body.data;
    assert.deepEqual(stored.slice(-sentContents.length).map((m) => m.content), sentContents.slice(-100));
    sender.close();
    receiver.close();
  });
});

function decodeURIComponentSafe(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function isPing(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && (value as { type?: unknown }).type === 'ping';
}
