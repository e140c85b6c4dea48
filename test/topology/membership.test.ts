/**
 * Membership changes across logic instances: gateway 1 talks only to logic A and gateway 2 only to
 * logic B, so a removal made through one instance is followed by a send through the other, whose
 * membership cache still holds the old member set. The commit's version check must catch it: the
 * removed member's sockets (on both gateways) never get a message committed after the removal, the
 * others do, and the removed member's own send is refused. Once with a small group (delivered by
 * logic) and once with a group above the large-group threshold (routed by the task's fan-out worker).
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { Api, WsClient } from '../helpers/client.js';
import type { AuthResult, Group, Message, MessageAck } from '../../src/protocol/index.js';
import { skipUnless } from '../ports/services.js';
import { startCluster, type Cluster } from './cluster.js';

/** Groups with more members than this are fanned out by the task role. */
const LARGE_GROUP_THRESHOLD = 4;

let skip: string | false = false;
let cluster: Cluster;
let viaA: Api;
const sockets: WsClient[] = [];

before(async () => {
  skip = (await skipUnless('postgres')) || (await skipUnless('redis'));
  if (skip) return;
  cluster = await startCluster({
    logicAddrsFor: (i, addrs) => [addrs[i]!],
    env: { GOCHAT_LARGE_GROUP_THRESHOLD: String(LARGE_GROUP_THRESHOLD) },
  });
  viaA = new Api(cluster.gateways[0]!.baseUrl);
});

after(async () => {
  for (const socket of sockets) socket.close();
  await cluster?.[Symbol.asyncDispose]();
});

async function connect(gateway: 0 | 1, who: AuthResult): Promise<WsClient> {
  const socket = await WsClient.connect(cluster.gateways[gateway]!.wsUrl, who.token);
  sockets.push(socket);
  return socket;
}

type NewFrame = { type: 'new-message'; data: Message };
const content = (socket: WsClient, conversationId: string, text: string) =>
  socket.next<NewFrame>((f) => f.type === 'new-message' && (f as NewFrame).data.conversationId === conversationId && (f as NewFrame).data.content === text, 15_000);

for (const size of ['small', 'large'] as const) {
  it(`a member removed through one logic instance gets nothing sent through the other after it (${size} group)`, async (t) => {
    if (skip) return t.skip(skip);
    try {
      const people = await Promise.all(Array.from({ length: size === 'large' ? LARGE_GROUP_THRESHOLD + 2 : 3 }, (_, i) => viaA.user(`m${i}`)));
      const [ann, ben, cal] = people as [AuthResult, AuthResult, AuthResult];
      const created = await viaA.post<{ group: Group }>('/api/groups', { groupName: 'Split', members: people.slice(1).map((p) => p.user.userId) }, ann.token);
      assert.equal(created.status, 201);
      const conversationId = created.body.data.group.conversationId;
      // Cal sends through gateway 2 (logic B), Ben listens on both gateways.
      const [calOnB, benOnA, benOnB, annOnA] = await Promise.all([connect(1, cal), connect(0, ben), connect(1, ben), connect(0, ann)]);
      // Warm logic B's cache with the full member set.
      calOnB.sendMessage(conversationId, 'warm', 'warm');
      await calOnB.nextOfType('message-ack');
      await Promise.all([content(benOnA, conversationId, 'warm'), content(benOnB, conversationId, 'warm')]);

      // Removed through gateway 1 (logic A): logic B has not heard of it.
      const removed = await viaA.del(`/api/conversations/${conversationId}/members/${ben.user.userId}`, ann.token);
      assert.equal(removed.status, 200, JSON.stringify(removed.body));
      await Promise.all([benOnA.nextOfType('conversation-removed', 15_000), benOnB.nextOfType('conversation-removed', 15_000)]);

      calOnB.sendMessage(conversationId, 'after removal', 'after');
      const ack = await calOnB.nextOfType<{ type: string; data: MessageAck }>('message-ack');
      await content(annOnA, conversationId, 'after removal');
      // Ben's own send through logic B is refused.
      benOnB.sendMessage(conversationId, 'ghost', 'ghost');
      const refused = await benOnB.next<{ type: string; data: { code: string } }>((f) => f.type === 'error');
      assert.equal(refused.data.code, 'NOT_CONVERSATION_MEMBER');
      // Everything for Ann arrived; Ben's sockets are still open and saw nothing after the removal.
      for (const socket of [benOnA, benOnB]) {
        const pong = socket.nextOfType('pong');
        socket.send({ type: 'ping' });
        await pong;
        assert.ok(
          !socket.frames.some((f) => f.type === 'new-message' && (f as NewFrame).data.seqId >= ack.data.seqId),
          `a removed member's socket got a message committed after the removal: ${JSON.stringify(socket.frames)}`,
        );
      }
    } catch (err) {
      t.diagnostic(cluster.dump());
      throw err;
    }
  });
}

it('a member added through one logic instance can send and read through the other at once', async (t) => {
  if (skip) return t.skip(skip);
  try {
    const [ann, cal, dan] = await Promise.all([viaA.user('ann'), viaA.user('cal'), viaA.user('dan')]);
    const created = await viaA.post<{ group: Group }>('/api/groups', { groupName: 'Grow', members: [cal.user.userId] }, ann.token);
    const conversationId = created.body.data.group.conversationId;
    const [calOnB, danOnB] = await Promise.all([connect(1, cal), connect(1, dan)]);
    // Logic B loads the group without Dan.
    calOnB.sendMessage(conversationId, 'warm', 'warm');
    await calOnB.nextOfType('message-ack');
    const added = await viaA.post(`/api/conversations/${conversationId}/members`, { members: [dan.user.userId] }, ann.token);
    assert.equal(added.status, 200, JSON.stringify(added.body));
    danOnB.sendMessage(conversationId, 'hello from dan', 'dan-1');
    const answer = await danOnB.next((f) => f.type === 'message-ack' || f.type === 'error');
    assert.equal(answer.type, 'message-ack', JSON.stringify(answer));
    const viaB = new Api(cluster.gateways[1]!.baseUrl);
    const history = await viaB.get<Message[]>(`/api/conversations/${conversationId}/messages`, dan.token);
    assert.equal(history.status, 200, JSON.stringify(history.body));
  } catch (err) {
    t.diagnostic(cluster.dump());
    throw err;
  }
});
