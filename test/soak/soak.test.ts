/**
 * Soak: many connections sending, reconnecting, catching up and reading history for a bounded
 * time on loopback. At the end nothing acked is missing or duplicated, every connection saw each
 * conversation in seqId order, and the server's RSS levelled off: growth over the later part of
 * the run is small next to the earlier part (no timing is asserted).
 *
 * `npm test` runs a short version; GOCHAT_SOAK=1 (npm run test:soak) runs GOCHAT_SOAK_SECONDS.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthResult, Conversation, Message, MessageAck } from '../../src/protocol/index.js';
import { Api, fullHistory } from '../helpers/client.js';
import { startTarget } from '../security/target.js';
import { ChatClient } from './chat-client.js';
import { MB, rssBytes } from './rss.js';

const SOAK = process.env.GOCHAT_SOAK === '1';
const SECONDS = Number(process.env.GOCHAT_SOAK_SECONDS ?? (SOAK ? 180 : 10));
const USERS = SOAK ? 24 : 8;
const DEVICES_PER_USER = 2;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

describe('soak', () => {
  it(`${USERS} users × ${DEVICES_PER_USER} devices for ${SECONDS}s: nothing acked lost or doubled, order kept, RSS levels off`, { timeout: (SECONDS + 120) * 1000 }, async (t) => {
    await using target = await startTarget();
    const api = new Api(target.baseUrl);
    const users: AuthResult[] = [];
    for (let i = 0; i < USERS; i++) users.push(await api.user(`soak${i}`));
    const group = await api.post<{ group: { conversationId: string } }>(
      '/api/groups',
      { groupName: 'soak', members: users.slice(1).map((u) => u.user.userId) },
      users[0]!.token,
    );
    const world = (await api.get<Conversation[]>('/api/conversations', users[0]!.token)).body.data.find((c) => c.type === 'world');
    const shared = [group.body.data.group.conversationId, ...(world ? [world.conversationId] : [])];
    const pairs: string[] = [];
    for (let i = 0; i < USERS; i++) {
      const peer = users[(i + 1) % USERS]!;
      const res = await api.post<Conversation>('/api/conversations', { targetUserId: peer.user.userId }, users[i]!.token);
      pairs.push(res.body.data.conversationId);
    }
    const conversationsOf = (i: number) => [...shared, pairs[i]!, pairs[(i - 1 + USERS) % USERS]!];
    const allConversations = [...shared, ...pairs];

    const acked = new Map<string, { ack: MessageAck; content: string }>();
    const orderViolations: string[] = [];
    const samples: number[] = [];
    let stopped = false;
    let reconnects = 0;
    let reads = 0;

    const device = async (userIndex: number, deviceIndex: number) => {
      const user = users[userIndex]!;
      const mine = conversationsOf(userIndex);
      let n = 0;
      while (!stopped) {
        // Each connection must see each conversation in strictly increasing seqId order.
        const lastSeen = new Map<string, number>();
        const label = `u${userIndex}d${deviceIndex}c${reconnects}`;
        const client = await ChatClient.connect(target.wsUrl, user.token, (m) => {
          if ((lastSeen.get(m.conversationId) ?? 0) >= m.seqId) orderViolations.push(`${label}: ${m.conversationId} #${m.seqId} after #${lastSeen.get(m.conversationId)}`);
          lastSeen.set(m.conversationId, m.seqId);
        });
        const life = 20 + ((userIndex * 7 + deviceIndex * 13 + reconnects) % 40);
        for (let i = 0; i < life && !stopped; i++) {
          const conversationId = mine[(n + i) % mine.length]!;
          const tempId = `u${userIndex}d${deviceIndex}-${n++}`;
          const content = `soak ${tempId}`;
          const outcome = await client.send(conversationId, content, tempId);
          if (outcome.kind === 'ack') acked.set(tempId, { ack: outcome.ack, content });
          else if (outcome.kind === 'error') throw new Error(`send ${tempId} refused: ${outcome.code}`);
          if (i % 10 === 9) {
            // Read like a client coming back: newest page, a catch-up cursor, mark read.
            await api.get(`/api/conversations/${conversationId}/messages?page=1&size=50`, user.token);
            await api.get(`/api/conversations/${conversationId}/messages?afterSeq=${Math.max(0, outcome.kind === 'ack' ? outcome.ack.seqId - 30 : 0)}&size=50`, user.token);
            await api.put(`/api/conversations/${conversationId}/read`, undefined, user.token);
            reads++;
          }
        }
        await client.close();
        reconnects++;
      }
    };

    const sampler = target.pid === undefined ? null : setInterval(() => samples.push(rssBytes(target.pid!)), 250);
    const workers: Array<Promise<void>> = [];
    for (let u = 0; u < USERS; u++) for (let d = 0; d < DEVICES_PER_USER; d++) workers.push(device(u, d));
    const failed = Promise.all(workers).then(() => null, (err: unknown) => err);
    const first = await Promise.race([failed, new Promise((resolve) => setTimeout(resolve, SECONDS * 1000, 'time'))]);
    stopped = true;
    const workerError = first === 'time' ? await failed : first;
    if (sampler) clearInterval(sampler);
    assert.equal(workerError, null, String(workerError));

    // Nothing acked is missing, nothing is stored twice, seqIds have no gaps.
    const stored = new Map<string, Message>();
    for (const conversationId of allConversations) {
      const history = await fullHistory(api, conversationId, users[0]!.token).catch(async () => {
        const member = users.find((_, i) => conversationsOf(i).includes(conversationId))!;
        return fullHistory(api, conversationId, member.token);
      });
      assert.deepEqual(history.map((m) => m.seqId), history.map((_, i) => i + 1), `seqIds of ${conversationId}`);
      for (const m of history) {
        assert.ok(!stored.has(m.messageId), `duplicate ${m.messageId}`);
        stored.set(m.messageId, m);
      }
      assert.equal(new Set(history.map((m) => m.content)).size, history.length, `a send stored twice in ${conversationId}`);
    }
    for (const [tempId, { ack, content }] of acked) {
      const m = stored.get(ack.messageId);
      assert.ok(m, `acked ${tempId} missing`);
      assert.equal(m.seqId, ack.seqId);
      assert.equal(m.content, content);
    }
    assert.equal(stored.size, acked.size, 'every stored message was acked to its sender');
    assert.deepEqual(orderViolations, []);

    t.diagnostic(`${acked.size} messages acked, ${reconnects} reconnects, ${reads} history reads`);
    if (samples.length < 12) return t.diagnostic('too few RSS samples (no pid or a very short run): memory not judged');
    // Drop the first quarter (JIT, caches, pools warming up), then compare the two halves of the rest.
    const settled = samples.slice(Math.floor(samples.length / 4));
    const window = Math.max(2, Math.floor(settled.length / 10));
    const start = median(settled.slice(0, window));
    const middle = median(settled.slice(Math.floor(settled.length / 2) - window / 2, Math.floor(settled.length / 2) + window / 2));
    const end = median(settled.slice(-window));
    const early = middle - start;
    const late = end - middle;
    t.diagnostic(`RSS ${Math.round(samples[0]! / MB)} MB at start; ${Math.round(start / MB)} -> ${Math.round(middle / MB)} -> ${Math.round(end / MB)} MB after warm-up`);
    assert.ok(late <= Math.max(0, early) * 0.5 + 24 * MB, `RSS still growing: +${Math.round(late / MB)} MB in the later half vs +${Math.round(early / MB)} MB in the earlier`);
  });
});
