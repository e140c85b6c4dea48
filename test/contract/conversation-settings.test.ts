/**
 * A member's own settings of a conversation (docs/protocol.md "Conversation settings"): mute, pin
 * and hide, on every conversation type; pinned conversations list first (whole list and pages);
 * a hidden one is left out until its next message; all the member's devices hear of a change;
 * nobody else sees it.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, WsClient } from '../helpers/client.js';
import type { AuthResult, Conversation, ConversationSettingsChanged, Group } from '../../src/protocol/index.js';

let server: TestServer;
let api: Api;
let ann: AuthResult;
let ben: AuthResult;
let cal: AuthResult;
const sockets: WsClient[] = [];

before(async () => {
  server = await startServer();
  api = new Api(server.baseUrl);
  [ann, ben, cal] = await Promise.all([api.user('ann'), api.user('ben'), api.user('cal')]);
});
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});
after(async () => server.stop());

const settingsPath = (c: string) => `/api/conversations/${c}/settings`;

async function newGroup(name: string): Promise<string> {
  const res = await api.post<{ group: Group }>('/api/groups', { groupName: name, members: [ben.user.userId] }, ann.token);
  assert.equal(res.status, 201);
  return res.body.data.group.conversationId;
}

async function list(who: AuthResult, query = ''): Promise<Conversation[]> {
  const res = await api.get<Conversation[]>(`/api/conversations${query}`, who.token);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data;
}

async function say(who: AuthResult, conversationId: string, text: string): Promise<void> {
  const ws = await WsClient.connect(server.wsUrl, who.token);
  sockets.push(ws);
  ws.sendMessage(conversationId, text, `t-${text}-${Math.random()}`);
  await ws.nextOfType('message-ack');
}

describe('PUT /api/conversations/{id}/settings', () => {
  it('answers every conversation with settings, all off to begin with', async () => {
    const id = await newGroup('plain');
    const conversations = await list(ann);
    assert.ok(conversations.length >= 2);
    for (const c of conversations) assert.deepEqual(c.settings, { muted: false, pinned: false, hidden: false }, c.conversationId);
    assert.ok(conversations.some((c) => c.conversationId === id));
  });

  it("mutes a conversation for me only: still delivered and counted, others' settings unchanged", async () => {
    const id = await newGroup('noisy');
    const res = await api.put<Conversation>(settingsPath(id), { muted: true }, ben.token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.data.settings, { muted: true, pinned: false, hidden: false });
    await say(ann, id, 'while muted');
    const mine = (await list(ben)).find((c) => c.conversationId === id)!;
    assert.deepEqual([mine.settings.muted, mine.unreadCount, mine.lastMessage?.content], [true, 1, 'while muted']);
    const theirs = (await list(ann)).find((c) => c.conversationId === id)!;
    assert.equal(theirs.settings.muted, false);
    const unmuted = await api.put<Conversation>(settingsPath(id), { muted: false }, ben.token);
    assert.equal(unmuted.body.data.settings.muted, false);
  });

  it('lists pinned conversations first, newest activity first among each', async () => {
    const [older, newer, pinned] = [await newGroup('older'), await newGroup('newer'), await newGroup('to pin')];
    await say(ann, older, 'bump older');
    await api.put(settingsPath(pinned), { pinned: true }, ann.token);
    await say(ann, newer, 'bump newer');
    const order = (await list(ann)).map((c) => c.conversationId).filter((c) => [older, newer, pinned].includes(c));
    assert.deepEqual(order, [pinned, newer, older]);
    assert.equal((await list(ann)).find((c) => c.conversationId === pinned)?.settings.pinned, true);
    // Unpinned: back in its place by activity.
    await api.put(settingsPath(pinned), { pinned: false }, ann.token);
    const after = (await list(ann)).map((c) => c.conversationId).filter((c) => [older, newer, pinned].includes(c));
    assert.deepEqual(after, [newer, older, pinned]);
  });

  it('pages the list in the same order, pinned first, each conversation on one page', async () => {
    const dan = await api.user('dan');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await api.post<{ group: Group }>('/api/groups', { groupName: `g${i}`, members: [] }, dan.token);
      ids.push(res.body.data.group.conversationId);
    }
    await api.put(settingsPath(ids[1]!), { pinned: true }, dan.token);
    await api.put(settingsPath(ids[3]!), { pinned: true }, dan.token);
    const whole = (await list(dan)).map((c) => c.conversationId);
    const walked: string[] = [];
    let cursor: string | null | undefined;
    do {
      const res = await api.get<Conversation[]>(`/api/conversations?limit=2${cursor ? `&cursor=${cursor}` : ''}`, dan.token);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      walked.push(...res.body.data.map((c) => c.conversationId));
      cursor = (res.body.pagination as { nextCursor?: string | null } | undefined)?.nextCursor;
    } while (cursor);
    assert.deepEqual(walked, whole);
    assert.deepEqual(whole.slice(0, 2).sort(), [ids[1], ids[3]].sort());
  });

  it('hides a conversation from my list until its next message; includeHidden still lists it', async () => {
    const id = await newGroup('archive me');
    await say(ann, id, 'before hiding');
    const hidden = await api.put<Conversation>(settingsPath(id), { hidden: true }, ben.token);
    assert.equal(hidden.body.data.settings.hidden, true);
    assert.ok(!(await list(ben)).some((c) => c.conversationId === id));
    assert.equal((await list(ben, '?includeHidden=true')).find((c) => c.conversationId === id)?.settings.hidden, true);
    // Still readable and counted in the paged total only when shown.
    assert.equal((await api.get(`/api/conversations/${id}/messages`, ben.token)).status, 200);
    await say(ann, id, 'wake up');
    const back = (await list(ben)).find((c) => c.conversationId === id);
    assert.deepEqual([back?.settings.hidden, back?.lastMessage?.content], [false, 'wake up']);
  });

  it('unhides on request', async () => {
    const id = await newGroup('peekaboo');
    await api.put(settingsPath(id), { hidden: true }, ann.token);
    assert.ok(!(await list(ann)).some((c) => c.conversationId === id));
    await api.put(settingsPath(id), { hidden: false }, ann.token);
    assert.ok((await list(ann)).some((c) => c.conversationId === id));
  });

  it("tells all of my devices with conversation-settings, and nobody else's", async () => {
    const id = await newGroup('devices');
    const [phone, laptop, other] = await Promise.all([WsClient.connect(server.wsUrl, ben.token), WsClient.connect(server.wsUrl, ben.token), WsClient.connect(server.wsUrl, ann.token)]);
    sockets.push(phone, laptop, other);
    await api.put(settingsPath(id), { pinned: true, muted: true }, ben.token);
    for (const ws of [phone, laptop]) {
      const frame = await ws.next<{ type: string; data: ConversationSettingsChanged }>((f) => f.type === 'conversation-settings');
      assert.deepEqual(frame.data, { conversationId: id, settings: { muted: true, pinned: true, hidden: false } });
    }
    const pong = other.nextOfType('pong');
    other.send({ type: 'ping' });
    await pong;
    assert.ok(!other.frames.some((f) => f.type === 'conversation-settings'));
  });

  it('works on a 1:1 and the world room too', async () => {
    const single = (await api.post<Conversation>('/api/conversations', { targetUserId: cal.user.userId }, ann.token)).body.data.conversationId;
    const world = (await list(ann)).find((c) => c.type === 'world')?.conversationId;
    for (const id of [single, world].filter((x): x is string => x !== undefined)) {
      const res = await api.put<Conversation>(settingsPath(id), { muted: true }, ann.token);
      assert.equal(res.status, 200, id);
      assert.equal(res.body.data.settings.muted, true);
    }
  });

  it('refuses a non-member, an unknown conversation, and a body that changes nothing or more', async () => {
    const id = await newGroup('private');
    const outsider = await api.put(settingsPath(id), { muted: true }, cal.token);
    assert.deepEqual([outsider.status, outsider.body.code], [403, 'NOT_CONVERSATION_MEMBER']);
    const missing = await api.put(settingsPath('987654321'), { muted: true }, ann.token);
    assert.deepEqual([missing.status, missing.body.code], [404, 'CONVERSATION_NOT_FOUND']);
    for (const body of [{}, { muted: 'yes' }, { pinned: true, extra: 1 }]) {
      const res = await api.put(settingsPath(id), body, ann.token);
      assert.deepEqual([res.status, res.body.code], [400, 'VALIDATION_ERROR'], JSON.stringify(body));
    }
    const none = await api.put(settingsPath(id), { muted: true }, undefined);
    assert.equal(none.status, 401);
  });
});
