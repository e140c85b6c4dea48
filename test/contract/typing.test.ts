/**
 * Typing indicators (issue 15, docs/protocol.md "Typing"): `typing` / `stop-typing` from a member go
 * to the other members' connections as `typing-indicator`, never to the typer's own, never stored;
 * one `typing` per connection and conversation every 2 s gets through; none in the world room or in
 * a group above GOCHAT_TYPING_MAX_MEMBERS; a non-member is refused.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, WsClient } from '../helpers/client.js';
import type { AuthResult, Conversation } from '../../src/protocol/index.js';

let server: TestServer;
let api: Api;
let ann: AuthResult;
let ben: AuthResult;
let cal: AuthResult;
let chat: string;
const sockets: WsClient[] = [];

before(async () => {
  server = await startServer({ env: { GOCHAT_TYPING_MAX_MEMBERS: '2' } });
  api = new Api(server.baseUrl);
  [ann, ben, cal] = await Promise.all([api.user('ann'), api.user('ben'), api.user('cal')]);
  chat = (await api.post<Conversation>('/api/conversations', { targetUserId: ben.user.userId }, ann.token)).body.data.conversationId;
});
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});
after(async () => server.stop());

async function socket(who: AuthResult): Promise<WsClient> {
  const ws = await WsClient.connect(server.wsUrl, who.token);
  sockets.push(ws);
  return ws;
}
type Indicator = { type: 'typing-indicator'; data: { conversationId: string; userId: string; username: string; typing: boolean; expiresInMs: number } };
const indicator = (ws: WsClient, conversationId: string, typing: boolean) =>
  ws.next<Indicator>((f) => f.type === 'typing-indicator' && (f as Indicator).data.conversationId === conversationId && (f as Indicator).data.typing === typing);

describe('typing indicators', () => {
  it("reach the other member's devices, with an expiry, and not the typer's own", async () => {
    const [typer, otherDevice, peer] = [await socket(ann), await socket(ann), await socket(ben)];
    typer.send({ type: 'typing', data: { conversationId: chat } });
    assert.deepEqual((await indicator(peer, chat, true)).data, { conversationId: chat, userId: ann.user.userId, username: ann.user.username, typing: true, expiresInMs: 6000 });
    typer.send({ type: 'stop-typing', data: { conversationId: chat } });
    assert.equal((await indicator(peer, chat, false)).data.expiresInMs, 0);
    otherDevice.send({ type: 'ping' });
    await otherDevice.nextOfType('pong');
    assert.equal(otherDevice.frames.filter((f) => f.type === 'typing-indicator').length, 0);
    // Nothing stored: the conversation has no message.
    assert.equal((await api.get<Conversation>(`/api/conversations/${chat}`, ann.token)).body.data.lastMessage, null);
  });

  it('lets one typing per connection through every 2 s; stop-typing always', async () => {
    const [typer, peer] = [await socket(ann), await socket(ben)];
    for (let i = 0; i < 5; i++) typer.send({ type: 'typing', data: { conversationId: chat } });
    typer.send({ type: 'stop-typing', data: { conversationId: chat } });
    // Both arrive; in the cluster they may cross (two logic processes), so in either order.
    await Promise.all([indicator(peer, chat, true), indicator(peer, chat, false)]);
    assert.equal(peer.frames.filter((f) => f.type === 'typing-indicator').length, 0, 'one typing and the stop, nothing more');
  });

  it('sends nothing in the world room or a group above the member bound, and refuses a non-member', async () => {
    const world = (await api.get<Conversation[]>('/api/conversations', ann.token)).body.data.find((c) => c.type === 'world')!.conversationId;
    const big = (await api.post<{ conversation: Conversation }>('/api/groups', { groupName: 'three', members: [ben.user.userId, cal.user.userId] }, ann.token)).body.data.conversation.conversationId;
    const [typer, peer] = [await socket(ann), await socket(ben)];
    typer.send({ type: 'typing', data: { conversationId: world } });
    typer.send({ type: 'typing', data: { conversationId: big } });
    typer.send({ type: 'typing', data: { conversationId: chat } });
    await indicator(peer, chat, true);
    assert.deepEqual(peer.frames.filter((f) => f.type === 'typing-indicator').map((f) => (f as Indicator).data.conversationId), []);
    const outsider = await socket(cal);
    outsider.send({ type: 'typing', data: { conversationId: chat } });
    assert.equal((await outsider.nextOfType<{ type: string; data: { code: string } }>('error')).data.code, 'NOT_CONVERSATION_MEMBER');
  });
});
