/**
 * Convergence (issues 13 and 14): a random sequence of group administration, sends, settings and
 * message actions (recalls, edits, reactions) by several users, while one user's SDK client
 * (keeping conversations and members) is offline for random stretches. Afterwards its state —
 * conversations with name, member count, role, change cursor, settings and newest message; each
 * group's members and roles; every message it holds, with its content, edit and recall marks,
 * reactions and its own reactions — equals the server's read fresh: first as live frames left it,
 * then after a reconnect. Property-based (fast-check), seeded:
 * GOCHAT_CONVERGENCE_SEED replays a failure (the seed is printed with it), GOCHAT_CONVERGENCE_RUNS
 * sets how many sequences. Runs on SQLite and, unchanged, against the distributed topology.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import WebSocket from 'ws';
import { applyMessageChange, GoChatClient } from '../../sdk/index.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, WsClient } from '../helpers/client.js';
import type { AuthResult, Conversation, GroupMember, Message } from '../../src/protocol/index.js';

const RUNS = Number(process.env.GOCHAT_CONVERGENCE_RUNS ?? 12);
const SEED = process.env.GOCHAT_CONVERGENCE_SEED === undefined ? Date.now() % 2_147_483_647 : Number(process.env.GOCHAT_CONVERGENCE_SEED);

let server: TestServer;
let api: Api;
/** ann, ben (the observer's user), cal, dan. */
let people: AuthResult[];
/** One socket per person for sending (Ben's is another device than the observer). */
let senders: WsClient[];
let observer: GoChatClient;
/** Every message the observer was told of, as its events left it (what an app built on the SDK shows). */
const held = new Map<string, Message>();

before(async () => {
  server = await startServer();
  api = new Api(server.baseUrl);
  people = await Promise.all(['ann', 'ben', 'cal', 'dan'].map((n) => api.user(n)));
  senders = await Promise.all(people.map((p) => WsClient.connect(server.wsUrl, p.token)));
  observer = new GoChatClient({ baseUrl: server.baseUrl, WebSocket, token: people[1]!.token, keepConversations: { members: true }, reconnect: { minDelayMs: 20, maxDelayMs: 200 } });
  const me = (await observer.me()).userId;
  observer.on('message', (m) => held.set(m.messageId, m));
  // What the SDK asks of an app: drop what it holds of a conversation gone for it (its messages can
  // change unseen while it is out, and a re-add reads its history again).
  observer.on('conversation-removed', (r) => {
    for (const [id, m] of held) if (m.conversationId === r.conversationId) held.delete(id);
  });
  observer.on('message-changed', (change) => held.set(change.message.messageId, applyMessageChange(held.get(change.message.messageId), change, me)));
});
after(async () => {
  observer?.disconnect();
  for (const s of senders ?? []) s.close();
  await server?.stop();
});

type Op =
  | { kind: 'group'; actor: number; members: number[] }
  | { kind: 'add'; actor: number; group: number; target: number }
  | { kind: 'remove'; actor: number; group: number; target: number }
  | { kind: 'role'; actor: number; group: number; target: number; role: 'owner' | 'admin' | 'member' }
  | { kind: 'rename'; actor: number; group: number; name: string }
  | { kind: 'disband'; actor: number; group: number }
  | { kind: 'send'; actor: number; group: number }
  | { kind: 'recall'; actor: number; group: number; pick: number }
  | { kind: 'edit'; actor: number; group: number; pick: number; text: string }
  | { kind: 'react'; actor: number; group: number; pick: number; emoji: string; add: boolean }
  | { kind: 'settings'; group: number; patch: { muted?: boolean; pinned?: boolean; hidden?: boolean } }
  | { kind: 'offline' }
  | { kind: 'online' };

const person = fc.nat({ max: 3 });
const group = fc.nat({ max: 7 });
// Weighted so that most operations are ones the rules allow somewhere (each run starts with two
// groups everyone is in: ann's and cal's), and disbanding is rare enough to leave groups to work on.
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('group' as const), actor: person, members: fc.uniqueArray(person, { maxLength: 3 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('add' as const), actor: person, group, target: person }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('remove' as const), actor: person, group, target: person }) },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('role' as const), actor: person, group, target: person, role: fc.constantFrom('owner' as const, 'admin' as const, 'member' as const) }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('rename' as const), actor: person, group, name: fc.constantFrom('Alpha', 'Beta', 'Gamma') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('disband' as const), actor: person, group }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('send' as const), actor: person, group }) },
  // Message actions pick one of the group's messages sent so far; most are the sender's own to edit
  // or recall, which the rules allow (admins may recall anyone's).
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('recall' as const), actor: person, group, pick: fc.nat({ max: 20 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('edit' as const), actor: person, group, pick: fc.nat({ max: 20 }), text: fc.constantFrom('fixed', 'v2', 'edited') }) },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('react' as const), actor: person, group, pick: fc.nat({ max: 20 }), emoji: fc.constantFrom('👍', '❤️', '🎉'), add: fc.boolean() }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('settings' as const),
      group,
      patch: fc.record({ muted: fc.boolean(), pinned: fc.boolean(), hidden: fc.boolean() }, { requiredKeys: [] }).filter((p) => Object.keys(p).length > 0),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'offline' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'online' as const }) },
);

/** What the server may answer an operation that its rules refuse; anything else fails the run. */
const REFUSALS = new Set([400, 403, 404, 409]);
let sends = 0;
/** Outcomes by operation and status, reported with the test: a run where nothing was allowed tests little. */
const tally = new Map<string, number>();

/** Messages sent in each group this run: [sender index, messageId]. */
const sentIn = new Map<string, Array<[number, string]>>();

async function run(ops: readonly Op[], groups: string[]): Promise<void> {
  for (const o of ops) {
    if (o.kind === 'offline') {
      observer.disconnect();
      continue;
    }
    if (o.kind === 'online') {
      await observer.connect();
      continue;
    }
    if (o.kind === 'group') {
      const res = await api.post<{ conversation: Conversation }>('/api/groups', { groupName: 'Start', members: o.members.map((m) => people[m]!.user.userId) }, people[o.actor]!.token);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      groups.push(res.body.data.conversation.conversationId);
      continue;
    }
    const id = groups[o.group % Math.max(groups.length, 1)];
    if (id === undefined) continue;
    const call = async () => {
      switch (o.kind) {
        case 'add':
          return api.post(`/api/conversations/${id}/members`, { members: [people[o.target]!.user.userId] }, people[o.actor]!.token);
        case 'remove':
          return api.del(`/api/conversations/${id}/members/${people[o.target]!.user.userId}`, people[o.actor]!.token);
        case 'role':
          return api.put(`/api/conversations/${id}/members/${people[o.target]!.user.userId}`, { role: o.role }, people[o.actor]!.token);
        case 'rename':
          return api.put(`/api/conversations/${id}`, { name: o.name }, people[o.actor]!.token);
        case 'disband':
          return api.del(`/api/conversations/${id}`, people[o.actor]!.token);
        case 'settings':
          return api.put(`/api/conversations/${id}/settings`, o.patch, people[1]!.token);
        case 'send': {
          const socket = senders[o.actor]!;
          const tempMessageId = `conv-${++sends}`;
          socket.sendMessage(id, `m${sends}`, tempMessageId);
          const answer = await socket.next((f) => (f.type === 'message-ack' || f.type === 'error') && (f.data as { tempMessageId?: string }).tempMessageId === tempMessageId);
          if (answer.type === 'message-ack') sentIn.set(id, [...(sentIn.get(id) ?? []), [o.actor, (answer.data as { messageId: string }).messageId]]);
          return null;
        }
        case 'recall':
        case 'edit':
        case 'react': {
          const sent = sentIn.get(id) ?? [];
          if (sent.length === 0) return null;
          // Edits by the message's sender (anyone else is refused every time), recalls mostly of the
          // actor's own messages, reactions by anyone: most actions are ones the rules allow.
          const own = sent.filter(([sender]) => sender === o.actor);
          const pool = o.kind === 'recall' && own.length > 0 && o.pick % 4 !== 0 ? own : sent;
          const [sender, messageId] = pool[o.pick % pool.length]!;
          const token = people[o.kind === 'edit' ? sender : o.actor]!.token;
          if (o.kind === 'recall') return api.del(`/api/messages/${messageId}`, token);
          if (o.kind === 'edit') return api.put(`/api/messages/${messageId}`, { content: `${o.text} ${++sends}` }, token);
          const path = `/api/messages/${messageId}/reactions/${encodeURIComponent(o.emoji)}`;
          return o.add ? api.put(path, undefined, token) : api.del(path, token);
        }
      }
    };
    const res = await call();
    if (res) tally.set(`${o.kind} ${res.status}`, (tally.get(`${o.kind} ${res.status}`) ?? 0) + 1);
    if (res && res.status !== 200) assert.ok(REFUSALS.has(res.status), `${o.kind} answered ${res.status}: ${JSON.stringify(res.body)}`);
  }
}

const view = (c: Conversation) => ({
  id: c.conversationId,
  type: c.type,
  name: c.name,
  avatar: c.avatar,
  memberCount: c.memberCount,
  myRole: c.myRole,
  changeSeq: c.changeSeq,
  settings: c.settings,
  lastSeq: c.lastMessage?.seqId ?? 0,
});

/** What a message shows: its text, marks, reactions, and the observer's own (a set). */
const messageView = (m: Message) => ({
  content: m.content,
  editedAt: m.editedAt,
  recalledAt: m.recalledAt,
  recalledBy: m.recalledBy,
  reactions: m.reactions,
  myReactions: m.myReactions === undefined ? undefined : [...m.myReactions].sort(),
  replyTo: m.replyTo,
});

/** The observer's state and the server's, read fresh with the observer's token. */
async function states() {
  const fresh = await api.get<Conversation[]>('/api/conversations?includeHidden=true', people[1]!.token);
  assert.equal(fresh.status, 200);
  const server = { conversations: fresh.body.data.map(view), members: {} as Record<string, Record<string, string>> };
  const client = { conversations: observer.knownConversations().map(view), members: {} as Record<string, Record<string, string> | undefined> };
  for (const c of fresh.body.data.filter((x) => x.type === 'group')) {
    const all: GroupMember[] = [];
    for (let page = 1; ; page++) {
      const res = await api.get<GroupMember[]>(`/api/conversations/${c.conversationId}/members?page=${page}&size=100`, people[1]!.token);
      all.push(...res.body.data);
      if (!res.body.pagination?.hasMore) break;
    }
    server.members[c.conversationId] = Object.fromEntries(all.map((m) => [m.userId, m.role]));
    const known = observer.knownMembers(c.conversationId);
    client.members[c.conversationId] = known && Object.fromEntries(known.map((m) => [m.userId, m.role]));
  }
  // Every message the observer holds of a conversation it is in, against the server's history.
  const messages = { server: {} as Record<string, unknown>, client: {} as Record<string, unknown> };
  for (const c of fresh.body.data) {
    if (c.type === 'world') continue;
    for (let afterSeq = 0; ; ) {
      const res = await api.get<Message[]>(`/api/conversations/${c.conversationId}/messages?afterSeq=${afterSeq}&size=100`, people[1]!.token);
      assert.equal(res.status, 200);
      for (const m of res.body.data) {
        const mine = held.get(m.messageId);
        if (!mine) continue;
        messages.server[m.messageId] = messageView(m);
        messages.client[m.messageId] = messageView(mine);
      }
      if (!res.body.pagination?.hasMore || res.body.data.length === 0) break;
      afterSeq = res.body.data.at(-1)!.seqId;
    }
  }
  return { server: { ...server, messages: messages.server }, client: { ...client, messages: messages.client } };
}

/** Waits (by polling the two states, bounded) until the live frames have all been applied. */
async function converged(label: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { server, client } = await states();
    try {
      assert.deepEqual(client, server, label);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

it(`an SDK client that was offline for random stretches converges to the server's state (seed ${SEED})`, { timeout: 120_000 }, async (t) => {
  await observer.connect();
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 15, maxLength: 40 }), async (ops) => {
      const groups: string[] = [];
      // Two groups everyone is in, so the operations have somewhere to land.
      await run(
        [
          { kind: 'group', actor: 0, members: [1, 2, 3] },
          { kind: 'group', actor: 2, members: [0, 1, 3] },
        ],
        groups,
      );
      await run(ops, groups);
      await observer.connect();
      // Live: what the frames left, once they are all in.
      await converged('after live frames');
      // Reconnected: the list and the change cursor, with nothing live to help.
      observer.disconnect();
      await observer.connect();
      const { server, client } = await states();
      assert.deepEqual(client, server, 'after a reconnect');
    }),
    { numRuns: RUNS, seed: SEED, endOnFailure: true },
  );
  t.diagnostic(`outcomes: ${[...tally].sort().map(([k, n]) => `${k}×${n}`).join(', ')}`);
  // Allowed changes happened while the observer was online and while it was away (or the test proves little).
  for (const kind of ['add', 'remove', 'role', 'rename', 'recall', 'edit', 'react']) assert.ok((tally.get(`${kind} 200`) ?? 0) > 0, `no ${kind} was allowed in ${RUNS} runs`);
});
