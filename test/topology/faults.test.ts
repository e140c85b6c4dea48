/**
 * Faults in the distributed topology: a gateway killed with -9 mid-conversation, and Redis
 * crashing (losing everything) during traffic. Acked messages are never lost or duplicated,
 * and every process recovers without being restarted.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Api, fullHistory, WsClient } from '../helpers/client.js';
import type { Conversation, Group, Message, MessageAck } from '../../src/protocol/index.js';
import { eventually, skipUnless, startPrivateRedis } from '../ports/services.js';
import { startCluster, type Cluster } from './cluster.js';

type AckFrame = { type: 'message-ack'; data: MessageAck };
type NewFrame = { type: 'new-message'; data: Message };

async function services(t: { skip(reason: string): void }): Promise<boolean> {
  const skip = (await skipUnless('postgres')) || (await skipUnless('redis'));
  if (skip) t.skip(skip);
  return !skip;
}

async function withDump(cluster: Cluster, t: { diagnostic(msg: string): void }, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    t.diagnostic(cluster.dump());
    throw err;
  }
}

/** Every acked message appears exactly once, and the conversation is 1..N without gaps. */
function assertNothingLostOrDuplicated(history: Message[], acked: Iterable<MessageAck>): void {
  assert.deepEqual(history.map((m) => m.seqId), Array.from({ length: history.length }, (_, i) => i + 1));
  const ids = history.map((m) => m.messageId);
  assert.equal(new Set(ids).size, ids.length, 'no message stored twice');
  for (const ack of acked) {
    const stored = history.find((m) => m.messageId === ack.messageId);
    assert.ok(stored, `acked message ${ack.tempMessageId} is stored`);
    assert.equal(stored.seqId, ack.seqId);
  }
}

describe('distributed topology: faults', () => {
  it('kill -9 of a gateway mid-conversation: its clients reconnect to the other, catch up, lose and duplicate nothing', async (t) => {
    if (!(await services(t))) return;
    await using cluster = await startCluster({ logics: 2, gateways: 2, tasks: 1 });
    await withDump(cluster, t, async () => {
      const [g1, g2] = cluster.gateways.map((g) => new Api(g.baseUrl)) as [Api, Api];
      const alice = await g1.user('alice');
      const bob = await g2.user('bob');
      const { conversationId } = (await g1.post<Conversation>('/api/conversations', { targetUserId: bob.user.userId }, alice.token)).body.data;
      const aliceWs = await WsClient.connect(cluster.gateways[0]!.wsUrl, alice.token);
      const bobWs = await WsClient.connect(cluster.gateways[1]!.wsUrl, bob.token);

      const acked = new Map<string, MessageAck>();
      const record = (frame: { type: string; data?: unknown }) => {
        if (frame.type === 'message-ack') acked.set((frame.data as MessageAck).tempMessageId, frame.data as MessageAck);
      };
      aliceWs.socket.on('message', (data) => record(JSON.parse(data.toString()) as AckFrame));
      const total = 40;
      for (let i = 0; i < 20; i++) aliceWs.sendMessage(conversationId, `m${i}`, `t${i}`);
      // Wait for some acks, then kill alice's gateway with more sends in flight.
      await eventually(async () => acked.size >= 5, 10_000, 'first acks');
      for (let i = 20; i < total; i++) aliceWs.sendMessage(conversationId, `m${i}`, `t${i}`);
      await cluster.gateways[0]!.kill();
      const closed = await aliceWs.closed;
      assert.notEqual(closed.code, 1000);

      // Reconnect to the surviving gateway and resend everything not acked, with the same tempMessageIds.
      const again = await WsClient.connect(cluster.gateways[1]!.wsUrl, alice.token);
      const unacked = Array.from({ length: total }, (_, i) => i).filter((i) => !acked.has(`t${i}`));
      t.diagnostic(`${unacked.length} of ${total} sends were unacked when the gateway died`);
      for (const i of unacked) again.sendMessage(conversationId, `m${i}`, `t${i}`);
      for (const frame of await again.collect<AckFrame>('message-ack', unacked.length, 20_000)) record(frame);
      assert.equal(acked.size, total);

      const history = await fullHistory(g2, conversationId, alice.token);
      assert.equal(history.length, total, 'each tempMessageId stored exactly once');
      assertNothingLostOrDuplicated(history, acked.values());
      assert.deepEqual(new Set(history.map((m) => m.content)), new Set(Array.from({ length: total }, (_, i) => `m${i}`)));

      // Bob stayed connected to the surviving gateway: he got every message live, once, in order.
      const live = (await bobWs.collect<NewFrame>('new-message', total, 15_000)).map((f) => f.data.seqId);
      assert.deepEqual(live, Array.from({ length: total }, (_, i) => i + 1));
      bobWs.close();
      again.close();
    });
  });

  it('kill -9 of a logic instance during traffic: gateways fail over, every send is acked once', async (t) => {
    if (!(await services(t))) return;
    await using cluster = await startCluster();
    await withDump(cluster, t, async () => {
      const [g1, g2] = cluster.gateways.map((g) => new Api(g.baseUrl)) as [Api, Api];
      const alice = await g1.user('alice');
      // Several conversations, so both logic instances own some of them.
      const conversations = await Promise.all(
        Array.from({ length: 4 }, async () => {
          const peer = await g2.user('peer');
          return (await g1.post<Conversation>('/api/conversations', { targetUserId: peer.user.userId }, alice.token)).body.data.conversationId;
        }),
      );
      const aliceWs = await WsClient.connect(cluster.gateways[0]!.wsUrl, alice.token);
      const total = 60;
      const acks = aliceWs.collect<AckFrame>('message-ack', total, 30_000);
      for (let i = 0; i < total; i++) {
        aliceWs.sendMessage(conversations[i % conversations.length]!, `m${i}`, `k${i}`);
        if (i === 20) await cluster.logics[0]!.kill();
      }
      const acked = (await acks).map((f) => f.data);
      assert.equal(new Set(acked.map((a) => a.tempMessageId)).size, total, 'every send acked, none refused');
      for (const conversationId of conversations) {
        const history = await fullHistory(g2, conversationId, alice.token);
        assertNothingLostOrDuplicated(history, acked.filter((a) => a.conversationId === conversationId));
        assert.equal(history.length, total / conversations.length);
      }
      assert.equal((await g1.get('/readyz')).status, 200);
      aliceWs.close();
    });
  });

  it('a Redis crash during traffic: sends keep being acked, then gateways, logic and task recover by themselves', async (t) => {
    if (!(await services(t))) return;
    await using redis = await startPrivateRedis();
    await using cluster = await startCluster({ redisUrl: redis.url });
    await withDump(cluster, t, async () => {
      const [g1, g2] = cluster.gateways.map((g) => new Api(g.baseUrl)) as [Api, Api];
      const alice = await g1.user('alice');
      const bob = await g2.user('bob');
      const members = await Promise.all(['m', 'm'].map((p) => g2.user(p)));
      const { conversationId } = (await g1.post<Conversation>('/api/conversations', { targetUserId: bob.user.userId }, alice.token)).body.data;
      const big = (
        await g1.post<{ group: Group; conversation: Conversation }>('/api/groups', { groupName: 'big', members: [bob, ...members].map((m) => m.user.userId) }, alice.token)
      ).body.data.conversation;
      const aliceWs = await WsClient.connect(cluster.gateways[0]!.wsUrl, alice.token);
      const bobWs = await WsClient.connect(cluster.gateways[1]!.wsUrl, bob.token);
      const acked: MessageAck[] = [];
      let n = 0;
      const send = async (target = conversationId) => {
        const temp = `r${n++}`;
        aliceWs.sendMessage(target, `msg ${temp}`, temp);
        const ack = await aliceWs.next<AckFrame>((f) => f.type === 'message-ack' && (f as AckFrame).data.tempMessageId === temp, 10_000);
        acked.push(ack.data);
        return ack.data;
      };
      const deliveredToBob = (ack: MessageAck, timeoutMs: number) =>
        bobWs.next<NewFrame>((f) => f.type === 'new-message' && (f as NewFrame).data.messageId === ack.messageId, timeoutMs).then(
          () => true,
          () => false,
        );

      assert.ok(await deliveredToBob(await send(), 5000), 'delivered before the crash');
      await redis.kill();
      // Storage does not depend on Redis: acks keep coming while it is down.
      for (let i = 0; i < 5; i++) await send();
      await redis.start();

      // Live delivery resumes, across gateways, for 1:1 (direct routing) and the large group (task).
      await eventually(async () => deliveredToBob(await send(), 500), 30_000, '1:1 delivery after the restart');
      await eventually(async () => deliveredToBob(await send(big.conversationId), 500), 30_000, 'large-group delivery after the restart');

      for (const proc of [...cluster.gateways, ...cluster.logics, ...cluster.tasks]) assert.ok(proc.running, `${proc.name} kept running`);
      const history = await fullHistory(g2, conversationId, bob.token);
      assertNothingLostOrDuplicated(
        history,
        acked.filter((a) => a.conversationId === conversationId),
      );
      aliceWs.close();
      bobWs.close();
    });
  });
});
