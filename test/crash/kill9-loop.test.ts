/**
 * Crash loop: mixed traffic (sends over WebSocket, reads, read marks, registrations, group
 * creation), `kill -9` at a seeded random moment, restart on the same data, check, repeat.
 * After every restart: each acked message is present exactly once with its acked seqId, seqIds
 * are 1..N with no gap, read pointers never run ahead of messages, and every acknowledged
 * registration and group exists. At the end the SQLite file passes `PRAGMA integrity_check`.
 *
 * `npm test` runs a few rounds; GOCHAT_SOAK=1 (npm run test:soak) runs GOCHAT_CRASH_ITERATIONS.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { AuthResult, Conversation, Message, MessageAck } from '../../src/protocol/index.js';
import { Api, fullHistory, uniqueName } from '../helpers/client.js';
import { ChatClient, type SendOutcome } from '../soak/chat-client.js';
import { startTarget, type Target } from '../security/target.js';

const SOAK = process.env.GOCHAT_SOAK === '1';
const ITERATIONS = Number(process.env.GOCHAT_CRASH_ITERATIONS ?? (SOAK ? 25 : 3));
const SEED = Number(process.env.GOCHAT_CRASH_SEED ?? 6_2026);
const ENV = { GOCHAT_RATE_LOGIN_PER_IP: '1000000', GOCHAT_RATE_LOGIN_PER_USERNAME: '1000000' };

/** mulberry32: a tiny seeded PRNG, so a failing schedule of kills can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Sent {
  conversationId: string;
  content: string;
  token: string;
}

interface State {
  users: AuthResult[];
  conversations: string[];
  /** Conversations each user (by index) may send to. */
  memberOf: string[][];
  sent: Map<string, Sent>;
  acked: Map<string, MessageAck>;
  registered: string[];
  groups: string[];
}

async function verify(api: Api, state: State, round: string): Promise<void> {
  const owner = state.users[0]!;
  const byMessageId = new Map<string, Message>();
  for (const conversationId of state.conversations) {
    const history = await fullHistory(api, conversationId, owner.token);
    assert.deepEqual(history.map((m) => m.seqId), history.map((_, i) => i + 1), `${round}: seqIds of ${conversationId} are 1..N without gaps`);
    for (const m of history) {
      assert.ok(!byMessageId.has(m.messageId), `${round}: message ${m.messageId} appears twice`);
      byMessageId.set(m.messageId, m);
    }
    const contents = history.map((m) => m.content);
    assert.equal(new Set(contents).size, contents.length, `${round}: a send was stored twice in ${conversationId}`);
  }
  for (const [tempId, ack] of state.acked) {
    const stored = byMessageId.get(ack.messageId);
    assert.ok(stored, `${round}: acked message ${tempId} (${ack.messageId}) is missing`);
    assert.equal(stored.seqId, ack.seqId, `${round}: acked seqId of ${tempId}`);
    assert.equal(stored.content, state.sent.get(tempId)!.content);
  }
  for (const user of state.users) {
    const list = await api.get<Conversation[]>('/api/conversations', user.token);
    for (const c of list.body.data) {
      const last = c.lastMessage?.seqId ?? 0;
      assert.ok(c.lastReadSeq <= last, `${round}: read pointer ${c.lastReadSeq} ahead of message ${last} in ${c.conversationId}`);
      assert.equal(c.unreadCount, last - c.lastReadSeq, `${round}: unreadCount of ${c.conversationId}`);
    }
  }
  for (const username of state.registered) {
    assert.equal((await api.get(`/api/users/by-username/${encodeURIComponent(username)}`, owner.token)).status, 200, `${round}: registered ${username} is missing`);
  }
  for (const groupId of state.groups) {
    assert.equal((await api.get(`/api/groups/${groupId}`, owner.token)).status, 200, `${round}: created group ${groupId} is missing`);
  }
}

/** Runs mixed traffic until `stop` resolves; failures after the kill are expected and ignored. */
async function traffic(target: Target, state: State, rng: () => number, round: number, stop: Promise<void>): Promise<void> {
  let stopped = false;
  void stop.then(() => (stopped = true));
  const api = new Api(target.baseUrl);
  let counter = 0;

  const sender = async (userIndex: number) => {
    const user = state.users[userIndex]!;
    const ws = await ChatClient.connect(target.wsUrl, user.token);
    while (!stopped) {
      const batch: Array<Promise<SendOutcome>> = [];
      const tempIds: string[] = [];
      for (let i = 0; i < 8; i++) {
        const targets = state.memberOf[userIndex]!;
        const conversationId = targets[Math.floor(rng() * targets.length)]!;
        const tempId = `r${round}-u${userIndex}-${counter++}`;
        state.sent.set(tempId, { conversationId, content: `content of ${tempId}`, token: user.token });
        batch.push(ws.send(conversationId, `content of ${tempId}`, tempId));
        tempIds.push(tempId);
      }
      const outcomes = await Promise.all(batch);
      outcomes.forEach((outcome, i) => {
        if (outcome.kind === 'ack') state.acked.set(tempIds[i]!, outcome.ack);
      });
      if (outcomes.some((o) => o.kind === 'closed')) return;
    }
    await ws.close();
  };

  const http = async () => {
    while (!stopped) {
      const pick = rng();
      const user = state.users[Math.floor(rng() * state.users.length)]!;
      if (pick < 0.4) {
        const conversationId = state.conversations[Math.floor(rng() * state.conversations.length)]!;
        await api.put(`/api/conversations/${conversationId}/read`, undefined, user.token);
      } else if (pick < 0.6) {
        await api.get(`/api/conversations/${state.conversations[0]}/messages?page=1&size=20`, user.token);
      } else if (pick < 0.8) {
        const username = uniqueName('crashreg');
        const res = await api.post('/api/auth/register', { username, password: 'correct horse' });
        if (res.status === 201) state.registered.push(username);
      } else {
        const res = await api.post<{ group: { groupId: string } }>('/api/groups', { groupName: `g${round}`, members: [state.users[1]!.user.userId] }, state.users[0]!.token);
        if (res.status === 201) state.groups.push(res.body.data.group.groupId);
      }
    }
  };

  const swallow = (p: Promise<void>) => p.catch(() => undefined);
  await Promise.all([...state.users.map((_, i) => swallow(sender(i))), swallow(http()), swallow(http())]);
}

describe('crash loop', () => {
  it(`survives ${ITERATIONS} kill -9 during mixed traffic with every ack kept exactly once`, { timeout: 60_000 + ITERATIONS * 20_000 }, async (t) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-crash-'));
    const rng = prng(SEED);
    let target = await startTarget({ dataDir, env: ENV });
    const killable = (it: Target) => {
      if (!it.kill) throw new Error('the target cannot be killed');
      return it.kill.bind(it);
    };
    if (!target.kill) {
      await target.stop();
      return t.skip('the target cannot be killed');
    }
    let api = new Api(target.baseUrl);
    const users = [await api.user('crash0'), await api.user('crash1'), await api.user('crash2'), await api.user('crash3')];
    const group = await api.post<{ group: { conversationId: string } }>(
      '/api/groups',
      { groupName: 'crash group', members: users.slice(1).map((u) => u.user.userId) },
      users[0]!.token,
    );
    const single = await api.post<Conversation>('/api/conversations', { targetUserId: users[1]!.user.userId }, users[0]!.token);
    const groupId = group.body.data.group.conversationId;
    const singleId = single.body.data.conversationId;
    const state: State = {
      users,
      conversations: [groupId, singleId],
      memberOf: [[groupId, singleId], [groupId, singleId], [groupId], [groupId]],
      sent: new Map(),
      acked: new Map(),
      registered: [],
      groups: [],
    };

    try {
      for (let round = 1; round <= ITERATIONS; round++) {
        let kill!: () => void;
        const stop = new Promise<void>((resolve) => (kill = resolve));
        const running = traffic(target, state, rng, round, stop);
        const ackedBefore = state.acked.size;
        // A random moment: some time into the traffic, but never before a first ack of this round.
        const delay = 100 + Math.floor(rng() * 700);
        const deadline = Date.now() + 10_000;
        await new Promise((resolve) => setTimeout(resolve, delay));
        while (state.acked.size === ackedBefore && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
        await killable(target)();
        kill();
        await running;

        target = await startTarget({ dataDir, env: ENV });
        api = new Api(target.baseUrl);
        await verify(api, state, `round ${round}`);
      }

      // Sends that were cut off by a kill: resent with the same tempMessageId they are stored
      // once, and acked with the original id if the first attempt had been stored.
      const unacked = [...state.sent.entries()].filter(([tempId]) => !state.acked.has(tempId)).slice(-20);
      for (const [tempId, sent] of unacked) {
        const ws = await ChatClient.connect(target.wsUrl, sent.token);
        const outcome = await ws.send(sent.conversationId, sent.content, tempId);
        assert.equal(outcome.kind, 'ack', JSON.stringify(outcome));
        if (outcome.kind === 'ack') state.acked.set(tempId, outcome.ack);
        await ws.close();
      }
      await verify(api, state, 'after resending');
      t.diagnostic(`${ITERATIONS} kills, ${state.acked.size} acked of ${state.sent.size} sent, ${state.registered.length} registrations, ${state.groups.length} groups`);
    } finally {
      await target.stop();
    }

    if (!target.embedded) return;
    const db = new Database(path.join(dataDir, 'gochat.db'), { readonly: true, fileMustExist: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      assert.deepEqual(db.pragma('foreign_key_check'), []);
      const gaps = db
        .prepare(
          `SELECT c.id, c.last_seq, COUNT(m.id) AS n, COALESCE(MAX(m.seq_id), 0) AS top
             FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id
            GROUP BY c.id HAVING n <> top OR top <> c.last_seq`,
        )
        .all();
      assert.deepEqual(gaps, [], 'every conversation holds seqIds 1..last_seq');
      const ahead = db
        .prepare('SELECT cm.conversation_id, cm.user_id FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id WHERE cm.last_read_seq > c.last_seq')
        .all();
      assert.deepEqual(ahead, [], 'no read pointer ahead of its conversation');
    } finally {
      db.close();
    }
  });
});
