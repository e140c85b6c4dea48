import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteRepo } from '../../src/repo/sqlite/sqlite-repo.js';
import { MessageWriter, type PendingSend } from '../../src/logic/message-writer.js';
import type { AppendResult, NewMessage, Repo, StoredAppend } from '../../src/repo/index.js';
import { AppError } from '../../src/protocol/index.js';

async function fixture() {
  const repo = new SqliteRepo({ file: ':memory:' });
  const a = await repo.createUser({ username: 'writer-a', passwordHash: 'x', isGuest: false });
  const b = await repo.createUser({ username: 'writer-b', passwordHash: 'x', isGuest: false });
  const { conversationId } = await repo.getOrCreateSingleConversation(a.userId, b.userId);
  const message = (tempMessageId: string): NewMessage => ({
    conversationId,
    senderId: a.userId,
    senderName: a.username,
    tempMessageId,
    content: tempMessageId,
    messageType: 'text',
    sendTime: Date.now(),
  });
  return { repo, message, conversationId };
}

describe('MessageWriter', () => {
  it('commits the sends of one event-loop turn as one batch, then publishes before resolving', async () => {
    const { repo, message } = await fixture();
    const batches: number[] = [];
    const events: string[] = [];
    const writer = new MessageWriter(repo, (sends) => {
      batches.push(sends.length);
      events.push('published');
    });
    const sends = Array.from({ length: 50 }, (_, i) => writer.submit({ message: message(`t${i}`), recipients: [] }).then(() => events.push('resolved')));
    await Promise.all(sends);
    assert.deepEqual(batches, [50]);
    assert.equal(events[0], 'published');
    await repo.close();
  });

  it('hands out seqIds in submission order', async () => {
    const { repo, message } = await fixture();
    const writer = new MessageWriter(repo, () => {});
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => writer.submit({ message: message(`s${i}`), recipients: [] })));
    assert.deepEqual(
      results.map((r) => r.message.seqId),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    await repo.close();
  });

  it('resolves a duplicate inside one batch to the original message', async () => {
    const { repo, message } = await fixture();
    const committed: StoredAppend[] = [];
    const writer = new MessageWriter(repo, (_sends: readonly PendingSend[], results) => committed.push(...results));
    const [first, again] = await Promise.all([writer.submit({ message: message('dup'), recipients: [] }), writer.submit({ message: message('dup'), recipients: [] })]);
    assert.equal(first.duplicate, false);
    assert.equal(again.duplicate, true);
    assert.equal(again.message.messageId, first.message.messageId);
    assert.equal(committed.filter((r) => !r.duplicate).length, 1);
    await repo.close();
  });

  /** The store as if another process changed the member set to `version`: sends checked at another come back stale. */
  function changedMembers(repo: Repo, version: { now: number }): Pick<Repo, 'appendMessages'> & Repo {
    return Object.assign(Object.create(repo) as Repo, {
      appendMessages: async (batch: readonly NewMessage[]): Promise<AppendResult[]> => {
        const fresh = batch.filter((m) => (m.membersSeq ?? 0) === version.now);
        const stored = await repo.appendMessages(fresh.map((m) => ({ ...m, membersSeq: 0 })));
        return batch.map((m) => ((m.membersSeq ?? 0) === version.now ? stored.shift()! : { stale: true, membersSeq: version.now }));
      },
    });
  }

  it('stores a stale send after checking it again, before anything queued after it, and publishes it once', async () => {
    const { repo, message } = await fixture();
    const version = { now: 4 };
    const checked: string[] = [];
    const published: string[] = [];
    const writer = new MessageWriter(changedMembers(repo, version), (sends) => published.push(...sends.map((s) => s.message.tempMessageId)), {
      revalidate: async (sends) => sends.map((send) => (checked.push(send.message.tempMessageId), { ...send, message: { ...send.message, membersSeq: version.now } })),
    });
    const stale = [writer.submit({ message: message('a'), recipients: [] }), writer.submit({ message: message('b'), recipients: [] })];
    const results = await Promise.all(stale);
    const later = await writer.submit({ message: { ...message('c'), membersSeq: 4 }, recipients: [] });
    assert.deepEqual(checked, ['a', 'b']);
    assert.deepEqual(results.map((r) => r.message.seqId), [1, 2]);
    assert.equal(later.message.seqId, 3);
    assert.deepEqual(published, ['a', 'b', 'c']);
    await repo.close();
  });

  it('answers a stale send whose sender is no longer a member with the refusal, and gives up after three stale rounds', async () => {
    const { repo, message, conversationId } = await fixture();
    const version = { now: 7 };
    const writer = new MessageWriter(changedMembers(repo, version), () => {}, {
      revalidate: async (sends) =>
        sends.map((send) => (send.message.tempMessageId === 'gone' ? new AppError('NOT_CONVERSATION_MEMBER') : { ...send, message: { ...send.message, membersSeq: version.now - 1 } })),
    });
    const [gone, unlucky] = await Promise.allSettled([writer.submit({ message: message('gone'), recipients: [] }), writer.submit({ message: message('unlucky'), recipients: [] })]);
    assert.equal(gone.status === 'rejected' && (gone.reason as AppError).code, 'NOT_CONVERSATION_MEMBER');
    assert.equal(unlucky.status === 'rejected' && (unlucky.reason as AppError).code, 'SERVICE_UNAVAILABLE');
    assert.equal((await repo.getConversationInfo(conversationId))?.lastSeq, 0, 'neither was stored');
    await repo.close();
  });

  it('isolates a failing send: its neighbours in the batch still commit', async () => {
    const { repo, message } = await fixture();
    const writer = new MessageWriter(repo, () => {});
    const bad = { ...message('bad'), conversationId: '999999' };
    const [ok1, failed, ok2] = await Promise.allSettled([
      writer.submit({ message: message('ok1'), recipients: [] }),
      writer.submit({ message: bad, recipients: [] }),
      writer.submit({ message: message('ok2'), recipients: [] }),
    ]);
    assert.equal(ok1.status, 'fulfilled');
    assert.equal(failed.status, 'rejected');
    assert.equal(ok2.status, 'fulfilled');
    await repo.close();
  });

  it('drain() waits until everything submitted is committed', async () => {
    const { repo, message, conversationId } = await fixture();
    const writer = new MessageWriter(repo, () => {});
    for (let i = 0; i < 10; i++) void writer.submit({ message: message(`d${i}`), recipients: [] });
    await writer.drain();
    assert.equal((await repo.getConversationInfo(conversationId))!.lastSeq, 10);
    await repo.close();
  });

  describe('commit pacing', () => {
    /**
     * A mocked clock for the writer: `now()` and the timers move only when the test says so, so a
     * paced send stays held exactly until its window has passed, however loaded the machine.
     * setImmediate stays real: a send committed at once settles within the turn it was submitted in.
     */
    function pacedClock(t: TestContext) {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      let clock = 0;
      return {
        now: () => clock,
        advance(ms: number) {
          clock += ms;
          t.mock.timers.tick(ms);
        },
      };
    }
    /** 'committed' if `send` settles in the event-loop turn it was submitted in, else 'held'. */
    const settlesThisTurn = (send: Promise<unknown>) =>
      Promise.race([send.then(() => 'committed'), new Promise((resolve) => setImmediate(resolve, 'held'))]);
    const WINDOW_MS = 3;

    it('lets a steady stream of single sends share commits', async (t) => {
      const { repo, message } = await fixture();
      const { now, advance } = pacedClock(t);
      const batches: number[] = [];
      // Twenty sends per window, one at a time, each in a turn of its own.
      const window = 20;
      const writer = new MessageWriter(repo, (sends) => batches.push(sends.length), { commitWindowMs: window, now });
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < 100; i++) {
        sends.push(writer.submit({ message: message(`p${i}`), recipients: [] }));
        await new Promise((resolve) => setImmediate(resolve));
        advance(1);
      }
      advance(window);
      await Promise.all(sends);
      assert.equal(batches.reduce((a, b) => a + b, 0), 100);
      assert.ok(batches.length <= 20, `100 sends, one per ms, took ${batches.length} commits`);
      await repo.close();
    });

    it('commits a send at once when the store is idle or the stream too slow to fill the window', async (t) => {
      const { repo, message } = await fixture();
      const { now, advance } = pacedClock(t);
      const writer = new MessageWriter(repo, () => {}, { commitWindowMs: WINDOW_MS, now });
      // The first send ever, and a second one that finds no rate yet: both go now.
      assert.equal(await settlesThisTurn(writer.submit({ message: message('idle-1'), recipients: [] })), 'committed');
      advance(1);
      assert.equal(await settlesThisTurn(writer.submit({ message: message('idle-2'), recipients: [] })), 'committed');
      // After a pause of several windows, a send goes at once again.
      advance(10 * WINDOW_MS);
      assert.equal(await settlesThisTurn(writer.submit({ message: message('after-pause'), recipients: [] })), 'committed');
      await repo.close();
    });

    it('holds a send of a fast stream for company, never longer than the window', async (t) => {
      const { repo, message } = await fixture();
      const { now, advance } = pacedClock(t);
      const writer = new MessageWriter(repo, () => {}, { commitWindowMs: WINDOW_MS, now });
      // Ten sends a ms after the first make a stream of dozens per window: the next one waits for company.
      await writer.submit({ message: message('first'), recipients: [] });
      advance(1);
      await Promise.all(Array.from({ length: 10 }, (_, i) => writer.submit({ message: message(`burst-${i}`), recipients: [] })));
      const paced = writer.submit({ message: message('paced'), recipients: [] });
      assert.equal(await settlesThisTurn(paced), 'held');
      advance(WINDOW_MS - 1);
      assert.equal(await settlesThisTurn(paced), 'held');
      advance(1);
      assert.equal(await settlesThisTurn(paced), 'committed');
      await repo.close();
    });

    it('with a window of 0 commits every turn, as without pacing', async () => {
      const { repo, message } = await fixture();
      const batches: number[] = [];
      const writer = new MessageWriter(repo, (sends) => batches.push(sends.length), { commitWindowMs: 0 });
      for (let i = 0; i < 10; i++) await writer.submit({ message: message(`z${i}`), recipients: [] });
      assert.deepEqual(batches, Array.from({ length: 10 }, () => 1));
      await repo.close();
    });
  });
});
