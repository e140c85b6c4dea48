import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { historyRange } from '../../src/repo/shared.js';

describe('historyRange', () => {
  it('page 1 is the newest `size` seqIds', () => {
    assert.deepEqual(historyRange({ kind: 'page', page: 1, size: 10 }, 25), { from: 16, to: 25, empty: false, hasMore: true });
  });

  it('the oldest page is short and has no more', () => {
    assert.deepEqual(historyRange({ kind: 'page', page: 3, size: 10 }, 25), { from: 1, to: 5, empty: false, hasMore: false });
  });

  it('a page past the start is empty', () => {
    assert.equal(historyRange({ kind: 'page', page: 4, size: 10 }, 25).empty, true);
    assert.equal(historyRange({ kind: 'page', page: 1, size: 10 }, 0).empty, true);
  });

  it('afterSeq reads forward and knows whether more follow', () => {
    assert.deepEqual(historyRange({ kind: 'after', afterSeq: 20, size: 10 }, 25), { from: 21, to: 25, empty: false, hasMore: false });
    assert.deepEqual(historyRange({ kind: 'after', afterSeq: 0, size: 10 }, 25), { from: 1, to: 10, empty: false, hasMore: true });
    assert.equal(historyRange({ kind: 'after', afterSeq: 25, size: 10 }, 25).empty, true);
  });

  it('beforeSeq reads backward, clamped to what exists', () => {
    assert.deepEqual(historyRange({ kind: 'before', beforeSeq: 10, size: 4 }, 25), { from: 6, to: 9, empty: false, hasMore: true });
    assert.deepEqual(historyRange({ kind: 'before', beforeSeq: 1000, size: 4 }, 25), { from: 22, to: 25, empty: false, hasMore: true });
    assert.equal(historyRange({ kind: 'before', beforeSeq: 1, size: 4 }, 25).empty, true);
  });
});
