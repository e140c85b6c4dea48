/** The storage interface suite against PostgreSQL, in a database of its own that is dropped afterwards. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresRepo } from '../../src/repo/postgres/postgres-repo.js';
import type { NewMessage } from '../../src/repo/index.js';
import { repoSuite } from './repo.suite.js';
import { createTestDatabase, skipUnless } from './services.js';

repoSuite('PostgreSQL', async () => {
  const skip = await skipUnless('postgres');
  if (skip) return skip;
  const db = await createTestDatabase();
  const open = async () => {
    const repo = new PostgresRepo({ url: db.url, poolSize: 4 });
    await repo.migrate();
    return repo;
  };
  return { open, openAgain: open, cleanup: async () => await db[Symbol.asyncDispose]() };
});

it('PostgreSQL: a batch of new messages is one round trip, and a batch with resends a few more, whatever its size', async (t) => {
  const skip = await skipUnless('postgres');
  if (skip) return t.skip(skip);
  await using db = await createTestDatabase();
  const repo = new PostgresRepo({ url: db.url, poolSize: 2 });
  try {
    await repo.migrate();
    const a = await repo.createUser({ username: 'ann', passwordHash: 'x', isGuest: false });
    const b = await repo.createUser({ username: 'bob', passwordHash: 'x', isGuest: false });
    const { conversationId } = await repo.getOrCreateSingleConversation(a.userId, b.userId);
    const batch = (from: number, count: number): NewMessage[] =>
      Array.from({ length: count }, (_, i) => ({
        conversationId,
        senderId: i % 2 ? b.userId : a.userId,
        senderName: i % 2 ? 'bob' : 'ann',
        tempMessageId: `t-${from + i}`,
        content: `m${from + i}`,
        messageType: 'text',
        sendTime: Date.now(),
      }));
    const tripsOf = async (messages: NewMessage[]) => {
      const before = repo.roundTrips;
      await repo.appendMessages(messages);
      return repo.roundTrips - before;
    };
    const one = await tripsOf(batch(0, 1));
    assert.equal(one, 1, 'a batch of new messages is one statement, its own transaction');
    assert.equal(await tripsOf(batch(1, 100)), one, 'a batch of 100 new messages');
    // A batch holding resends of stored messages takes a few statements more (the insert skipped
    // them: take the rows back, read the stored ones, insert again), whatever its size.
    const withOneResend = await tripsOf([...batch(99, 1), ...batch(101, 1)]); // t-99 is stored, by the same sender
    assert.ok(withOneResend > one, `a resend is found by the insert, not looked up before it (${withOneResend} vs ${one})`);
    assert.equal(await tripsOf([...batch(51, 50), ...batch(103, 50)]), withOneResend, 'a batch of 50 resends and 50 new messages');
    assert.equal((await repo.getConversationInfo(conversationId))?.lastSeq, 152);
  } finally {
    await repo.close();
  }
});
