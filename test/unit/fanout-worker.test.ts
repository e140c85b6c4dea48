/**
 * The fan-out worker routes a large group's message to the members of the version its commit
 * checked: a member removed after the commit still gets it, one added after does not, and a message
 * committed after a removal never reaches the removed member. Real store (SQLite), queue and
 * router in memory.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DeliveryRouter, FanoutDelivery, FanoutEntry, FanoutQueue } from '../../src/bus/fanout-queue.js';
import type { MessageDelivery } from '../../src/bus/index.js';
import { decideGroupChange, type GroupOperation } from '../../src/logic/group-rules.js';
import type { Repo } from '../../src/repo/index.js';
import { SqliteRepo } from '../../src/repo/sqlite/sqlite-repo.js';
import { FanoutWorker } from '../../src/task/fanout-worker.js';
import { appendStored } from '../helpers/append.js';

/** Entries handed to the worker once each; `drained` resolves when all were acknowledged. */
class ListQueue implements FanoutQueue {
  private entries: FanoutEntry[] = [];
  private acked = 0;
  private total = 0;
  private waiters: Array<() => void> = [];
  async enqueue(delivery: FanoutDelivery): Promise<void> {
    this.entries.push({ id: String(++this.total), queuedAt: Date.now(), delivery });
  }
  async ensureGroup(): Promise<void> {}
  async read(_consumer: string, count: number, blockMs: number): Promise<FanoutEntry[]> {
    if (this.entries.length === 0) await new Promise((resolve) => setTimeout(resolve, Math.min(blockMs, 5)));
    return this.entries.splice(0, count);
  }
  async claimStale(): Promise<FanoutEntry[]> {
    return [];
  }
  async ack(ids: readonly string[]): Promise<void> {
    this.acked += ids.length;
    if (this.acked === this.total) for (const w of this.waiters.splice(0)) w();
  }
  async pending(): Promise<number> {
    return this.total - this.acked;
  }
  drained(): Promise<void> {
    return this.acked === this.total ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
  async close(): Promise<void> {}
}

class RecordingRouter implements DeliveryRouter {
  readonly routed: MessageDelivery[] = [];
  async route(delivery: MessageDelivery): Promise<number> {
    this.routed.push(delivery);
    return 1;
  }
}

const quiet = { info() {}, warn() {}, error() {} };
let dir: string;
let repo: Repo;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-fanout-'));
  repo = new SqliteRepo({ file: path.join(dir, 'gochat.db') });
});
after(async () => {
  await repo.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function user(name: string) {
  return repo.createUser({ username: `${name}${Math.random().toString(36).slice(2, 8)}`, passwordHash: 'x', isGuest: false });
}

function change(conversationId: string, actorId: string, operation: GroupOperation) {
  return repo.changeGroup({ conversationId, actorId, actorName: 'owner', maxMembers: 100, sendTime: Date.now(), decide: (g) => decideGroupChange(g, actorId, operation) });
}

async function send(conversationId: string, senderId: string, membersSeq: number) {
  const [stored] = await appendStored(repo, [
    { conversationId, senderId, senderName: 's', tempMessageId: `t${Math.random()}`, content: 'x', messageType: 'text', sendTime: Date.now(), membersSeq },
  ]);
  return stored!.message;
}

const delivery = (conversationId: string, seqId: number, membersSeq: number): FanoutDelivery => ({ kind: 'message', conversationId, seqId, frame: '{}', membersSeq });

test('routes each message to the members of the version its commit checked, whatever changed since', async () => {
  const [own, ben, cat, dan] = await Promise.all([user('own'), user('ben'), user('cat'), user('dan')]);
  const conversationId = (await repo.createGroup({ ownerId: own.userId, name: 'Big', memberIds: [ben.userId, cat.userId] })).conversationId;
  const beforeAll = await send(conversationId, own.userId, 0);
  const added = await change(conversationId, own.userId, { kind: 'add-members', users: [{ userId: dan.userId, username: dan.username, isGuest: false }] });
  const afterAdd = await send(conversationId, own.userId, added.membersSeq);
  const removed = await change(conversationId, own.userId, { kind: 'remove-member', userId: ben.userId });
  const left = await change(conversationId, cat.userId, { kind: 'remove-member', userId: cat.userId });
  const afterRemovals = await send(conversationId, own.userId, left.membersSeq);
  assert.equal(removed.membersSeq < left.membersSeq, true);

  // Queued only now: the worker reads them after every change above was committed.
  const queue = new ListQueue();
  for (const m of [
    [beforeAll.seqId, 0],
    [afterAdd.seqId, added.membersSeq],
    [afterRemovals.seqId, left.membersSeq],
  ] as const) {
    await queue.enqueue(delivery(conversationId, m[0], m[1]));
  }
  const router = new RecordingRouter();
  const worker = new FanoutWorker({ consumer: 'w', batchSize: 10, blockMs: 5, claimIdleMs: 60_000, memberCacheMs: 60_000 }, queue, router, repo, quiet);
  await worker.start();
  await queue.drained();
  await worker.stop();

  const recipients = router.routed.map((d) => [d.seqId, [...d.recipients].sort()]);
  assert.deepEqual(recipients, [
    [beforeAll.seqId, [own.userId, ben.userId, cat.userId].sort()],
    [afterAdd.seqId, [own.userId, ben.userId, cat.userId, dan.userId].sort()],
    [afterRemovals.seqId, [own.userId, dan.userId].sort()],
  ]);
});
