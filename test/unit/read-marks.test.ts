/**
 * ReadMarks (src/logic/read-marks.ts): the marks of one event-loop turn are one store call, marks
 * of one (conversation, user) in it one row — the furthest — and every caller gets the result.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ReadMarks } from '../../src/logic/read-marks.js';
import type { ReadMark, ReadMarkResult } from '../../src/repo/index.js';

function fakeStore() {
  const calls: ReadMark[][] = [];
  return {
    calls,
    async markReadMany(marks: readonly ReadMark[]): Promise<ReadMarkResult[]> {
      calls.push(marks.map((m) => ({ ...m })));
      return marks.map((m) => ({ read: { conversationId: m.conversationId, lastReadSeq: m.seqId ?? 100, unreadCount: 0 }, moved: true, member: true }));
    },
  };
}

describe('ReadMarks', () => {
  it('writes one turn’s marks in one call, each (conversation, user) once, at the furthest', async () => {
    const store = fakeStore();
    const marks = new ReadMarks(store);
    const answers = await Promise.all([marks.mark('1', 'a', 3), marks.mark('1', 'a', 7), marks.mark('1', 'a', 5), marks.mark('2', 'a', 1), marks.mark('1', 'b', 2)]);
    assert.deepEqual(store.calls, [[{ conversationId: '1', userId: 'a', seqId: 7 }, { conversationId: '2', userId: 'a', seqId: 1 }, { conversationId: '1', userId: 'b', seqId: 2 }]]);
    assert.deepEqual(answers.map((r) => r.read.lastReadSeq), [7, 7, 7, 1, 2]);
  });

  it('"everything" (null) beats any seqId; marks made while a batch is written form the next', async () => {
    const store = fakeStore();
    const marks = new ReadMarks(store);
    const first = Promise.all([marks.mark('1', 'a', 9), marks.mark('1', 'a', null)]);
    await new Promise((resolve) => setImmediate(resolve));
    const second = marks.mark('1', 'a', 4);
    await Promise.all([first, second]);
    assert.deepEqual(store.calls.map((c) => c.map((m) => m.seqId)), [[null], [4]]);
  });

  it('a failed batch rejects every caller of it', async () => {
    const marks = new ReadMarks({ markReadMany: async () => Promise.reject(new Error('disk full')) });
    const results = await Promise.allSettled([marks.mark('1', 'a', 1), marks.mark('2', 'b', 1)]);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  });
});
