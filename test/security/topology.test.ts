/**
 * The authorization matrix and the token-tampering tests, unchanged, against the distributed
 * topology (2 gateways behind a balancer, 2 logic, 1 task, PostgreSQL, Redis): the test files run
 * in a nested runner with GOCHAT_TEST_TARGET_MODULE pointing at test/topology/cluster-as-server.
 * The fuzz, abuse, crash and soak suites run the same way by hand (docs/security.md).
 */
import { it } from 'node:test';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deleteRedisKeys, dropTestDatabases, REDIS_URL, skipUnless } from '../ports/services.js';
import { assertPassed, runNested, summarize } from '../helpers/nested-runner.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const FILES = ['authorization-matrix.test.js', 'token-tampering.test.js'].map((f) => path.join(here, f));
const TOPOLOGY = path.resolve(here, '../topology/cluster-as-server.js');
const RUN_TIMEOUT_MS = 150_000;

it('the authorization matrix and token tampering hold on the distributed topology', { timeout: RUN_TIMEOUT_MS + 30_000 }, async (t) => {
  const skip = (await skipUnless('postgres')) || (await skipUnless('redis'));
  if (skip) return t.skip(skip);
  const runId = `sec${randomBytes(3).toString('hex')}`;
  try {
    const run = await runNested(FILES, { GOCHAT_TEST_TARGET_MODULE: TOPOLOGY, GOCHAT_CONTRACT_RUN: runId }, { timeoutMs: RUN_TIMEOUT_MS, testTimeoutMs: 90_000 });
    t.diagnostic(summarize(run));
    assertPassed(run, 'the security suites');
  } finally {
    await dropTestDatabases(`gochat_contract_${runId}_`);
    await deleteRedisKeys(REDIS_URL, `gochat-contract-${runId}-`);
  }
});
