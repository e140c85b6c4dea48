/**
 * Message actions (docs/protocol.md "Message actions"): recall, edit, reply and reactions, each one
 * durable commit, answered to the actor, pushed to every member's devices as a `conversation-update`
 * with a `message` item, and kept in the change feed for devices that were away. A recalled message
 * keeps its seqId and loses its content everywhere it was served or stored.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, fullHistory, WsClient } from '../helpers/client.js';
import type { AuthResult, ChangeItem, Conversation, ConversationUpdate, Message, Reactor } from '../../src/protocol/index.js';

let server: TestServer;
let api: Api;
let ann: AuthResult;
let ben: AuthResult;
let cal: AuthResult;
let dee: AuthResult;
/** ann and ben's 1:1. */
let chat: string;
/** ann's group: ann owner, ben admin, cal member (dee outside). */
let group: string;
const sockets: WsClient[] = [];

before(async () => {
  server = await startServer();
  api = new Api(server.baseUrl);
  [ann, ben, cal, dee] = await Promise.all([api.user('ann'), api.user('ben'), api.user('cal'), api.user('dee')]);
  chat = (await api.post<Conversation>('/api/conversations', { targetUserId: ben.user.userId }, ann.token)).body.data.conversationId;
  const created = await api.post<{ conversation: Conversation }>('/api/groups', { groupName: 'actions', members: [ben.user.userId, cal.user.userId] }, ann.token);
  group = created.body.data.conversation.conversationId;
  await api.put(`/api/conversations/${group}/members/${ben.user.userId}`, { role: 'admin' }, ann.token);
});
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});
after(async () => server.stop());

let sent = 0;
async function send(who: AuthResult, conversationId: string, content: string, more: Record<string, unknown> = {}): Promise<Message> {
  const res = await api.post<Message>(`/api/conversations/${conversationId}/messages`, { content, tempMessageId: `t-${++sent}`, ...more }, who.token);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.data;
}
async function socket(who: AuthResult): Promise<WsClient> {
  const ws = await WsClient.connect(server.wsUrl, who.token);
  sockets.push(ws);
  return ws;
}
type UpdateFrame = { type: 'conversation-update'; data: ConversationUpdate };
const messageItem = (frame: UpdateFrame) => frame.data.items.find((i): i is Extract<ChangeItem, { kind: 'message' }> => i.kind === 'message');
const nextMessageChange = (ws: WsClient, messageId: string) =>
  ws.next<UpdateFrame>((f) => f.type === 'conversation-update' && messageItem(f as UpdateFrame)?.message.messageId === messageId);
const recall = (messageId: string, who: AuthResult) => api.del<Message>(`/api/messages/${messageId}`, who.token);
const edit = (messageId: string, content: string, who: AuthResult) => api.put<Message>(`/api/messages/${messageId}`, { content }, who.token);
const react = (messageId: string, emoji: string, who: AuthResult) => api.put<Message>(`/api/messages/${messageId}/reactions/${encodeURIComponent(emoji)}`, undefined, who.token);
const unreact = (messageId: string, emoji: string, who: AuthResult) => api.del<Message>(`/api/messages/${messageId}/reactions/${encodeURIComponent(emoji)}`, who.token);
const conversation = async (id: string, who: AuthResult) => (await api.get<Conversation>(`/api/conversations/${id}`, who.token)).body.data;
const changes = async (id: string, who: AuthResult, afterChange = 0) =>
  (await api.get<ChangeItem[]>(`/api/conversations/${id}/changes?afterChange=${afterChange}&size=100`, who.token)).body.data;

describe('recall', () => {
  it('keeps the message in its place as recalled, its content gone from every answer', async () => {
    const m = await send(ann, chat, 'oops, wrong chat');
    const res = await recall(m.messageId, ann);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual([res.body.data.seqId, res.body.data.content, res.body.data.recalledBy], [m.seqId, '', ann.user.userId]);
    assert.ok(res.body.data.recalledAt);
    const history = await fullHistory(api, chat, ben.token);
    const stored = history.find((h) => h.seqId === m.seqId)!;
    assert.deepEqual([stored.messageId, stored.content, stored.recalledBy], [m.messageId, '', ann.user.userId]);
    assert.deepEqual(history.map((h) => h.seqId), history.map((_, i) => i + 1), 'no gap');
    const list = await conversation(chat, ben);
    assert.equal(list.lastMessage?.content, '');
    assert.ok(list.lastMessage?.recalledAt, 'the list shows lastMessage recalled');
  });

  it("pushes the recall to every member's devices with the conversation's change counter", async () => {
    const m = await send(ann, chat, 'take me back');
    const [annWs, benWs] = await Promise.all([socket(ann), socket(ben)]);
    const changeBefore = (await conversation(chat, ann)).changeSeq;
    await recall(m.messageId, ann);
    for (const ws of [annWs, benWs]) {
      const frame = await nextMessageChange(ws, m.messageId);
      assert.deepEqual([frame.data.fromChangeSeq, frame.data.changeSeq], [changeBefore + 1, changeBefore + 1]);
      const item = messageItem(frame)!;
      assert.deepEqual([item.seqId, item.message.content, item.changeSeq], [m.seqId, '', changeBefore + 1]);
    }
  });

  it('reaches a device that was away through the change feed', async () => {
    const m = await send(ann, chat, 'gone while you slept');
    const seen = (await conversation(chat, ben)).changeSeq;
    await recall(m.messageId, ann);
    const items = await changes(chat, ben, seen);
    const item = items.find((i) => i.kind === 'message' && i.seqId === m.seqId);
    assert.ok(item && item.kind === 'message' && item.message.content === '' && item.message.recalledAt);
  });

  it('a second recall changes nothing and succeeds', async () => {
    const m = await send(ann, chat, 'twice');
    await recall(m.messageId, ann);
    const changeSeq = (await conversation(chat, ann)).changeSeq;
    const again = await recall(m.messageId, ann);
    assert.equal(again.status, 200);
    assert.equal((await conversation(chat, ann)).changeSeq, changeSeq);
  });

  it('only the sender may recall in a 1:1', async () => {
    const m = await send(ann, chat, 'mine');
    const res = await recall(m.messageId, ben);
    assert.deepEqual([res.status, res.body.code], [403, 'FORBIDDEN']);
    assert.equal((await fullHistory(api, chat, ann.token)).find((h) => h.seqId === m.seqId)?.content, 'mine');
  });

  it("a group's owner or admin removes anyone's message; a plain member may not", async () => {
    const byCal = await send(cal, group, 'spam');
    assert.equal((await recall(byCal.messageId, cal)).status, 200, 'the sender itself may');
    const byAnn = await send(ann, group, 'owner says');
    const member = await recall(byAnn.messageId, cal);
    assert.deepEqual([member.status, member.body.code], [403, 'FORBIDDEN']);
    const byCal2 = await send(cal, group, 'more spam');
    const admin = await recall(byCal2.messageId, ben);
    assert.deepEqual([admin.status, admin.body.data.recalledBy], [200, ben.user.userId]);
  });

  it('refuses system messages', async () => {
    const history = await fullHistory(api, group, ann.token);
    const system = history.find((h) => h.messageType === 'system')!;
    const res = await recall(system.messageId, ann);
    assert.deepEqual([res.status, res.body.code], [403, 'FORBIDDEN']);
  });

  it('empties the snapshot of every reply to it', async () => {
    const original = await send(ann, chat, 'the secret plan');
    const reply = await send(ben, chat, 'agreed', { replyTo: original.messageId });
    assert.equal(reply.replyTo?.preview, 'the secret plan');
    await recall(original.messageId, ann);
    const stored = (await fullHistory(api, chat, ben.token)).find((h) => h.messageId === reply.messageId)!;
    assert.deepEqual(stored.replyTo, { messageId: original.messageId, seqId: original.seqId, senderId: ann.user.userId, senderName: ann.user.username, messageType: 'text', preview: '', recalled: true });
  });

  it('leaves no trace of the content in storage', async (t) => {
    const file = path.join(server.dataDir, 'gochat.db');
    // The distributed topology stores in PostgreSQL: the repo suite checks recall there.
    if (!fs.existsSync(file)) return t.skip('no SQLite file here (PostgreSQL: see the repo suite)');
    const m = await send(ann, chat, 'unique-needle-7f3a');
    await react(m.messageId, '👍', ben);
    await edit(m.messageId, 'unique-needle-7f3a edited', ann);
    await send(ben, chat, 'quoting', { replyTo: m.messageId });
    await recall(m.messageId, ann);
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      for (const table of ['messages', 'conversation_changes']) {
        const rows = db.prepare(`SELECT * FROM ${table}`).all() as Array<Record<string, unknown>>;
        assert.ok(!JSON.stringify(rows).includes('unique-needle'), `${table} still holds the content`);
      }
      const reactions = db.prepare('SELECT COUNT(*) AS n FROM message_reactions WHERE seq_id = ? AND conversation_id = ?').get(m.seqId, Number(chat)) as { n: number };
      assert.equal(reactions.n, 0);
    } finally {
      db.close();
    }
  });
});

describe('recall window', () => {
  it('refuses a sender past the window, not a group admin', async () => {
    await using late = await startServer({ env: { GOCHAT_RECALL_WINDOW_SECONDS: '0' } });
    const api2 = new Api(late.baseUrl);
    const [owner, member] = await Promise.all([api2.user('own'), api2.user('mem')]);
    const g = (await api2.post<{ conversation: Conversation }>('/api/groups', { groupName: 'late', members: [member.user.userId] }, owner.token)).body.data.conversation.conversationId;
    const m = (await api2.post<Message>(`/api/conversations/${g}/messages`, { content: 'too late', tempMessageId: 'w-1' }, member.token)).body.data;
    const res = await api2.del(`/api/messages/${m.messageId}`, member.token);
    assert.deepEqual([res.status, res.body.code], [403, 'RECALL_WINDOW_EXPIRED']);
    assert.equal((await api2.del(`/api/messages/${m.messageId}`, owner.token)).status, 200);
  });
});

describe('edit', () => {
  it('replaces the text and marks it edited, live and in history', async () => {
    const m = await send(ann, chat, 'teh typo');
    const benWs = await socket(ben);
    const res = await edit(m.messageId, 'the typo', ann);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.data.content, 'the typo');
    assert.ok(res.body.data.editedAt);
    const frame = await nextMessageChange(benWs, m.messageId);
    assert.equal(messageItem(frame)!.message.content, 'the typo');
    assert.equal((await fullHistory(api, chat, ben.token)).find((h) => h.seqId === m.seqId)?.content, 'the typo');
  });

  it('the later of two edits wins', async () => {
    const m = await send(ann, chat, 'v0');
    await Promise.all([edit(m.messageId, 'v1', ann), edit(m.messageId, 'v2', ann)]);
    const items = await changes(chat, ann);
    const item = items.find((i) => i.kind === 'message' && i.seqId === m.seqId);
    const history = (await fullHistory(api, chat, ann.token)).find((h) => h.seqId === m.seqId)!;
    assert.ok(item?.kind === 'message');
    assert.equal(history.content, item.message.content, 'history and the change feed agree');
  });

  it('refuses others, recalled, system and non-text messages, and bad content', async () => {
    const m = await send(ann, chat, 'mine to edit');
    assert.deepEqual([(await edit(m.messageId, 'hijack', ben)).body.code], ['FORBIDDEN']);
    assert.deepEqual([(await edit(m.messageId, '   ', ann)).body.code], ['VALIDATION_ERROR']);
    const image = await send(ann, chat, 'https://example.com/a.png', { messageType: 'image' });
    assert.deepEqual([(await edit(image.messageId, 'text now', ann)).body.code], ['MESSAGE_NOT_EDITABLE']);
    const system = (await fullHistory(api, group, ann.token)).find((h) => h.messageType === 'system')!;
    const sys = await edit(system.messageId, 'rewritten', ann);
    assert.ok(['MESSAGE_NOT_EDITABLE', 'FORBIDDEN'].includes(sys.body.code ?? ''), sys.body.code);
    await recall(m.messageId, ann);
    const recalled = await edit(m.messageId, 'back from the dead', ann);
    assert.deepEqual([recalled.status, recalled.body.code], [409, 'MESSAGE_RECALLED']);
  });
});

describe('reply', () => {
  it('carries a snapshot of the message it answers', async () => {
    const original = await send(ann, chat, 'x'.repeat(150));
    const reply = await send(ben, chat, 'yes', { replyTo: original.messageId });
    assert.deepEqual(reply.replyTo, {
      messageId: original.messageId,
      seqId: original.seqId,
      senderId: ann.user.userId,
      senderName: ann.user.username,
      messageType: 'text',
      preview: `${'x'.repeat(99)}…`,
    });
  });

  it('over the WebSocket too, in the ack and the live frame', async () => {
    const original = await send(ann, chat, 'socket original');
    const [benWs, annWs] = await Promise.all([socket(ben), socket(ann)]);
    benWs.send({ type: 'send-message', data: { conversationId: chat, content: 'socket reply', tempMessageId: 'ws-reply', replyTo: original.messageId } });
    await benWs.next((f) => f.type === 'message-ack');
    const live = await annWs.next<{ type: string; data: Message }>((f) => f.type === 'new-message' && (f as { data: Message }).data.content === 'socket reply');
    assert.equal(live.data.replyTo?.messageId, original.messageId);
  });

  it('refuses a target in another conversation, an unknown one and a recalled one', async () => {
    const elsewhere = await send(ann, group, 'group message');
    const foreign = await api.post(`/api/conversations/${chat}/messages`, { content: 'r', tempMessageId: 'r-foreign', replyTo: elsewhere.messageId }, ann.token);
    assert.deepEqual([foreign.status, foreign.body.code], [404, 'MESSAGE_NOT_FOUND']);
    const unknown = await api.post(`/api/conversations/${chat}/messages`, { content: 'r', tempMessageId: 'r-unknown', replyTo: '999999999' }, ann.token);
    assert.equal(unknown.body.code, 'MESSAGE_NOT_FOUND');
    const gone = await send(ann, chat, 'soon gone');
    await recall(gone.messageId, ann);
    const recalled = await api.post(`/api/conversations/${chat}/messages`, { content: 'r', tempMessageId: 'r-recalled', replyTo: gone.messageId }, ann.token);
    assert.equal(recalled.body.code, 'MESSAGE_RECALLED');
  });

  it('a resend is answered with the original, even after its target was recalled', async () => {
    const target = await send(ann, chat, 'target');
    const first = await send(ben, chat, 'reply once', { replyTo: target.messageId, tempMessageId: 'r-resend' });
    await recall(target.messageId, ann);
    const again = await api.post<Message>(`/api/conversations/${chat}/messages`, { content: 'reply once', tempMessageId: 'r-resend', replyTo: target.messageId }, ben.token);
    assert.deepEqual([again.status, again.body.data.messageId], [200, first.messageId]);
    assert.equal(again.body.data.replyTo?.recalled, true);
  });
});

describe('reactions', () => {
  it('counts each emoji once per user and tells a viewer which are its own', async () => {
    const m = await send(ann, group, 'vote');
    const first = await react(m.messageId, '👍', ben);
    assert.deepEqual([first.status, first.body.data.reactions, first.body.data.myReactions], [200, [{ emoji: '👍', count: 1 }], ['👍']]);
    await react(m.messageId, '👍', ben); // again: no change
    await react(m.messageId, '👍', cal);
    await react(m.messageId, '🎉', cal);
    const byBen = (await fullHistory(api, group, ben.token)).find((h) => h.seqId === m.seqId)!;
    assert.deepEqual([byBen.reactions, byBen.myReactions], [[{ emoji: '👍', count: 2 }, { emoji: '🎉', count: 1 }], ['👍']]);
    const byAnn = (await fullHistory(api, group, ann.token)).find((h) => h.seqId === m.seqId)!;
    assert.equal(byAnn.myReactions, undefined, 'ann reacted with nothing');
    const removed = await unreact(m.messageId, '👍', ben);
    assert.deepEqual([removed.body.data.reactions, removed.body.data.myReactions], [[{ emoji: '👍', count: 1 }, { emoji: '🎉', count: 1 }], undefined]);
  });

  it("lists who reacted, and pushes each reaction with whose it is", async () => {
    const m = await send(ann, group, 'who likes it');
    const annWs = await socket(ann);
    await react(m.messageId, '❤️', ben);
    const frame = await nextMessageChange(annWs, m.messageId);
    assert.deepEqual(messageItem(frame)!.reaction, { userId: ben.user.userId, emoji: '❤️', added: true });
    assert.equal(messageItem(frame)!.message.myReactions, undefined, 'a shared frame carries nobody’s own reactions');
    await react(m.messageId, '❤', cal); // the text-style heart is the same reaction
    const list = await api.get<Reactor[]>(`/api/messages/${m.messageId}/reactions`, ann.token);
    assert.deepEqual(list.body.data.map((r) => [r.userId, r.emoji]), [[ben.user.userId, '❤️'], [cal.user.userId, '❤️']]);
    assert.equal((list.body as { pagination?: { total: number } }).pagination?.total, 2);
  });

  it('refuses what is not one emoji, and a recalled message', async () => {
    const m = await send(ann, group, 'react to me');
    for (const bad of ['a', '👍👍', 'ok', ':)']) assert.equal((await react(m.messageId, bad, ben)).body.code, 'VALIDATION_ERROR', bad);
    await react(m.messageId, '😀', ben);
    await recall(m.messageId, ann);
    assert.equal((await react(m.messageId, '😀', ann)).body.code, 'MESSAGE_RECALLED');
  });

  it('refuses a new emoji past GOCHAT_MAX_REACTIONS_PER_MESSAGE, not one already there', async () => {
    await using limited = await startServer({ env: { GOCHAT_MAX_REACTIONS_PER_MESSAGE: '3' } });
    const api2 = new Api(limited.baseUrl);
    const [one, two] = await Promise.all([api2.user('one'), api2.user('two')]);
    const c = (await api2.post<Conversation>('/api/conversations', { targetUserId: two.user.userId }, one.token)).body.data.conversationId;
    const m = (await api2.post<Message>(`/api/conversations/${c}/messages`, { content: 'react', tempMessageId: 'l-1' }, one.token)).body.data;
    const put = (emoji: string, who: AuthResult) => api2.put(`/api/messages/${m.messageId}/reactions/${encodeURIComponent(emoji)}`, undefined, who.token);
    for (const emoji of ['😀', '😃', '😄']) assert.equal((await put(emoji, one)).status, 200);
    const over = await put('😁', two);
    assert.deepEqual([over.status, over.body.code], [409, 'TOO_MANY_REACTIONS']);
    assert.equal((await put('😀', two)).status, 200, 'an emoji already there is still welcome');
  });
});

describe('extra', () => {
  it('is stored and returned verbatim, over HTTP and the WebSocket', async () => {
    const extra = { url: 'https://ci.example/42', ok: true, n: 3, nested: { list: [1, 'two', null] } };
    const m = await send(ann, chat, 'build passed', { extra });
    assert.deepEqual(m.extra, extra);
    const ws = await socket(ann);
    ws.send({ type: 'send-message', data: { conversationId: chat, content: 'ws extra', tempMessageId: 'x-ws', extra: { bot: 'ci' } } });
    await ws.next((f) => f.type === 'message-ack');
    const history = await fullHistory(api, chat, ben.token);
    assert.deepEqual(history.find((h) => h.messageId === m.messageId)?.extra, extra);
    assert.deepEqual(history.find((h) => h.content === 'ws extra')?.extra, { bot: 'ci' });
  });

  it('refuses one too large, too deep or not an object', async () => {
    const post = (extra: unknown, id: string) => api.post(`/api/conversations/${chat}/messages`, { content: 'x', tempMessageId: id, extra }, ann.token);
    assert.equal((await post({ blob: 'y'.repeat(3000) }, 'x-big')).body.code, 'VALIDATION_ERROR');
    assert.equal((await post({ a: { b: { c: { d: { e: 1 } } } } }, 'x-deep')).body.code, 'VALIDATION_ERROR');
    assert.equal((await post([1, 2], 'x-array')).body.code, 'VALIDATION_ERROR');
  });
});

describe('the world room', () => {
  it("a change reaches every connection, and a reaction is anyone's", async () => {
    const world = (await api.get<Conversation[]>('/api/conversations', ann.token)).body.data.find((c) => c.type === 'world')!.conversationId;
    const m = await send(ann, world, 'hello world');
    const deeWs = await socket(dee);
    const guest = (await api.post<AuthResult>('/api/auth/guest', {})).body.data;
    assert.equal((await react(m.messageId, '👋', guest)).status, 200);
    const frame = await nextMessageChange(deeWs, m.messageId);
    assert.deepEqual(messageItem(frame)!.reaction, { userId: guest.user.userId, emoji: '👋', added: true });
    assert.equal((await recall(m.messageId, guest)).body.code, 'FORBIDDEN');
  });
});

describe('authorization', () => {
  it('tells a non-member MESSAGE_NOT_FOUND for every action, and changes nothing', async () => {
    const m = await send(ann, chat, 'private');
    const changeSeq = (await conversation(chat, ann)).changeSeq;
    for (const res of [
      await recall(m.messageId, dee),
      await edit(m.messageId, 'x', dee),
      await react(m.messageId, '👍', dee),
      await unreact(m.messageId, '👍', dee),
      await api.get(`/api/messages/${m.messageId}/reactions`, dee.token),
    ]) {
      assert.deepEqual([res.status, res.body.code], [404, 'MESSAGE_NOT_FOUND']);
    }
    assert.equal((await conversation(chat, ann)).changeSeq, changeSeq);
    assert.equal((await recall('12345678901', ann)).body.code, 'MESSAGE_NOT_FOUND');
    assert.equal((await recall('not-an-id', ann)).body.code, 'MESSAGE_NOT_FOUND');
    assert.equal((await api.del(`/api/messages/${m.messageId}`)).status, 401);
  });
});
