/**
 * Conversations that change, live (docs/protocol.md "Live conversation frames"): which frames each
 * socket gets for a group change, in which order, and that a removed member's sockets stop
 * receiving the conversation at once.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, WsClient } from '../helpers/client.js';
import type { AuthResult, Conversation, ConversationRemoved, ConversationUpdate, Group, Message } from '../../src/protocol/index.js';

let server: TestServer;
let api: Api;
const sockets: WsClient[] = [];
/** Registered once (logins are rate limited per address on a shared server); each test makes its own conversations. */
let ann: AuthResult;
let ben: AuthResult;
let cal: AuthResult;

before(async () => {
  server = await startServer();
  api = new Api(server.baseUrl);
  [ann, ben, cal] = await Promise.all([api.user('ann'), api.user('ben'), api.user('cal')]);
});
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});
after(async () => server.stop());

async function connect(who: AuthResult): Promise<WsClient> {
  const ws = await WsClient.connect(server.wsUrl, who.token);
  sockets.push(ws);
  return ws;
}

type Framed = { type: string; data?: unknown };
const CONVERSATION_FRAMES = new Set(['conversation-added', 'new-message', 'conversation-update', 'conversation-removed']);

/** The next `count` frames about `conversationId`, in arrival order. */
async function framesAbout(ws: WsClient, conversationId: string, count: number): Promise<Framed[]> {
  const out: Framed[] = [];
  while (out.length < count) {
    out.push(
      await ws.next((f) => {
        if (!CONVERSATION_FRAMES.has(f.type)) return false;
        return (f as Framed).data !== undefined && ((f as Framed).data as { conversationId?: string }).conversationId === conversationId;
      }),
    );
  }
  return out;
}

async function group(owner: AuthResult, others: AuthResult[]): Promise<string> {
  const res = await api.post<{ group: Group }>('/api/groups', { groupName: 'Live', members: others.map((o) => o.user.userId) }, owner.token);
  assert.equal(res.status, 201);
  return res.body.data.group.conversationId;
}

describe('live conversation frames', () => {
  it('tells every member of a new group, on every socket, with conversation-added', async () => {
    const [annWs, benWs1, benWs2] = await Promise.all([connect(ann), connect(ben), connect(ben)]);
    const conversationId = await group(ann, [ben]);
    const mine = await annWs.next<{ type: string; data: Conversation }>((f) => f.type === 'conversation-added' && (f as { data: Conversation }).data.conversationId === conversationId);
    assert.deepEqual([mine.data.conversationId, mine.data.myRole, mine.data.memberCount], [conversationId, 'owner', 2]);
    for (const ws of [benWs1, benWs2]) {
      const theirs = await ws.next<{ type: string; data: Conversation }>((f) => f.type === 'conversation-added' && (f as { data: Conversation }).data.conversationId === conversationId);
      assert.deepEqual([theirs.data.conversationId, theirs.data.myRole], [conversationId, 'member']);
    }
  });

  it('tells the peer of a new 1:1 with conversation-added naming the opener as peer', async () => {
    // A pair that never talked: a new 1:1.
    const [dan, eve] = await Promise.all([api.user('dan'), api.user('eve')]);
    const eveWs = await connect(eve);
    const opened = await api.post<Conversation>('/api/conversations', { targetUserId: eve.user.userId }, dan.token);
    const added = await eveWs.next<{ type: string; data: Conversation }>((f) => f.type === 'conversation-added');
    assert.equal(added.data.conversationId, opened.body.data.conversationId);
    assert.equal(added.data.peer?.userId, dan.user.userId);
  });

  it('gives an added member conversation-added, then the system message, then conversation-update', async () => {
    const conversationId = await group(ann, [ben]);
    const [benWs, calWs] = await Promise.all([connect(ben), connect(cal)]);
    await api.post(`/api/conversations/${conversationId}/members`, { members: [cal.user.userId] }, ann.token);
    const [added, message, update] = await framesAbout(calWs, conversationId, 3);
    assert.deepEqual([added!.type, message!.type, update!.type], ['conversation-added', 'new-message', 'conversation-update']);
    const view = added!.data as Conversation;
    assert.deepEqual([view.myRole, view.memberCount, view.unreadCount, view.lastMessage?.seqId], ['member', 3, 1, (message!.data as Message).seqId]);
    const [benMessage, benUpdate] = await framesAbout(benWs, conversationId, 2);
    assert.deepEqual([benMessage!.type, benUpdate!.type], ['new-message', 'conversation-update']);
    const change = benUpdate!.data as ConversationUpdate;
    assert.deepEqual(
      change.items.map((i) => i.kind),
      ['member', 'group'],
    );
    assert.equal(change.fromChangeSeq, 1);
    assert.equal(change.changeSeq, 2);
  });

  it('numbers conversation-update frames without gaps: each starts one after the previous ended', async () => {
    const conversationId = await group(ann, [ben]);
    const benWs = await connect(ben);
    for (const name of ['one', 'two', 'three']) await api.put(`/api/conversations/${conversationId}`, { name }, ann.token);
    const updates = (await framesAbout(benWs, conversationId, 6)).filter((f) => f.type === 'conversation-update').map((f) => f.data as ConversationUpdate);
    assert.deepEqual(
      updates.map((u) => [u.fromChangeSeq, u.changeSeq]),
      [
        [1, 1],
        [2, 2],
        [3, 3],
      ],
    );
  });

  it('gives a removed member the system message, the update, then conversation-removed, and nothing after', async () => {
    const conversationId = await group(ann, [ben, cal]);
    const [annWs, benWs, calWs] = await Promise.all([connect(ann), connect(ben), connect(cal)]);
    await api.del(`/api/conversations/${conversationId}/members/${ben.user.userId}`, ann.token);
    const frames = await framesAbout(benWs, conversationId, 3);
    assert.deepEqual(
      frames.map((f) => f.type),
      ['new-message', 'conversation-update', 'conversation-removed'],
    );
    const removed = frames[2]!.data as ConversationRemoved;
    assert.deepEqual([removed.reason, removed.seqId], ['removed', (frames[0]!.data as Message).seqId]);
    // The others keep chatting; Ben's sockets hear nothing more of it.
    calWs.sendMessage(conversationId, 'still here', 't-after-removal');
    await calWs.nextOfType('message-ack');
    const seen = await framesAbout(annWs, conversationId, 3);
    assert.equal((seen[2]!.data as Message).content, 'still here');
    const ping = benWs.nextOfType('pong');
    benWs.send({ type: 'ping' });
    await ping;
    assert.ok(!benWs.frames.some((f) => ((f as Framed).data as { conversationId?: string } | undefined)?.conversationId === conversationId));
  });

  it('says left when a member leaves and disbanded to everyone when the owner disbands', async () => {
    const conversationId = await group(ann, [ben, cal]);
    const [benWs, calWs] = await Promise.all([connect(ben), connect(cal)]);
    await api.del(`/api/conversations/${conversationId}/members/${ben.user.userId}`, ben.token);
    const left = (await framesAbout(benWs, conversationId, 3))[2]!;
    assert.deepEqual([left.type, (left.data as ConversationRemoved).reason], ['conversation-removed', 'left']);
    await api.del(`/api/conversations/${conversationId}`, ann.token);
    const calFrames = await framesAbout(calWs, conversationId, 5);
    const last = calFrames.at(-1)!;
    assert.deepEqual([last.type, (last.data as ConversationRemoved).reason], ['conversation-removed', 'disbanded']);
  });

  it("refuses a removed member's send with NOT_CONVERSATION_MEMBER", async () => {
    const conversationId = await group(ann, [ben]);
    const benWs = await connect(ben);
    benWs.sendMessage(conversationId, 'before', 't-before');
    await benWs.nextOfType('message-ack');
    await api.del(`/api/conversations/${conversationId}/members/${ben.user.userId}`, ann.token);
    benWs.sendMessage(conversationId, 'after', 't-after');
    const error = await benWs.next<{ type: string; data: { code: string; tempMessageId?: string } }>((f) => f.type === 'error');
    assert.deepEqual([error.data.code, error.data.tempMessageId], ['NOT_CONVERSATION_MEMBER', 't-after']);
  });
});
