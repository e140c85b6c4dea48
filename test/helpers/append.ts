/** Appending in store tests: every send is checked at its conversation's member set as stored, so none may come back stale. */
import assert from 'node:assert/strict';
import type { NewMessage, Repo, StoredAppend } from '../../src/repo/index.js';

export async function appendStored(repo: Pick<Repo, 'appendMessages'>, batch: readonly NewMessage[]): Promise<StoredAppend[]> {
  const results = await repo.appendMessages(batch);
  return results.map((result, i) => {
    assert.ok(!result.stale, `send ${i} came back stale (membersSeq ${result.stale ? result.membersSeq : ''})`);
    return result;
  });
}
