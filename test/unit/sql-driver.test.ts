/** The SQL store's bodies are generators the drivers run: a failed statement behaves like a throw. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { runAsync, runSync, sql, type Step } from '../../src/repo/sql/driver.js';

/** A body that catches its first statement's failure and answers with its second. */
function* recovering(): Step<string> {
  try {
    yield* sql.run('FAILS', []);
    return 'not reached';
  } catch (err) {
    const rows = yield* sql.values<string>('WORKS', []);
    return `${(err as Error).message} then ${rows.join(',')}`;
  }
}

const execute = (op: { sql: string }) => {
  if (op.sql === 'FAILS') throw new Error('disk full');
  return ['ok'];
};

it('a failed statement is thrown into the body, synchronously and asynchronously', async () => {
  assert.equal(runSync(recovering(), execute), 'disk full then ok');
  assert.equal(await runAsync(recovering(), async (op) => execute(op)), 'disk full then ok');
});

it('a failure the body does not catch leaves it', async () => {
  function* plain(): Step<void> {
    yield* sql.run('FAILS', []);
  }
  assert.throws(() => runSync(plain(), execute), /disk full/);
  await assert.rejects(runAsync(plain(), async (op) => execute(op)), /disk full/);
});
