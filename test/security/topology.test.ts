/**
 * The authorization matrix and the token-tampering tests, unchanged, against the distributed
 * topology (2 gateways behind a balancer, 2 logic, 1 task, PostgreSQL, Redis): the test files run
 * in a nested runner with GOCHAT_TEST_TARGET_MODULE pointing at test/topology/cluster-as-server.
 * The fuzz, abuse, crash and soak suites run the same way by hand (docs/security.md).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deleteRedisKeys, dropTestDatabases, REDIS_URL, skipUnless } from '../ports/services.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const FILES = ['authorization-matrix.test.js', 'token-tampering.test.js'].map((f) => path.join(here, f));
const TOPOLOGY = path.resolve(here, '../topology/cluster-as-server.js');
const RUN_TIMEOUT_MS = 150_000;

function runNested(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  // Without removing NODE_TEST_CONTEXT the nested runner would report to ours in its binary protocol.
  const { NODE_TEST_CONTEXT: _context, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=90000', '--test-reporter=tap', ...FILES], {
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // Its own process group, killed whole at the end: no cluster process outlives the run.
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(() => {
    output += `\n# runner: killed after ${RUN_TIMEOUT_MS} ms\n`;
    killGroup();
  }, RUN_TIMEOUT_MS);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      killGroup();
      resolve({ code, output });
    }),
  );
}

it('the authorization matrix and token tampering hold on the distributed topology', { timeout: RUN_TIMEOUT_MS + 30_000 }, async (t) => {
  const skip = (await skipUnless('postgres')) || (await skipUnless('redis'));
  if (skip) return t.skip(skip);
  const runId = `sec${randomBytes(3).toString('hex')}`;
  try {
    const run = await runNested({ GOCHAT_TEST_TARGET_MODULE: TOPOLOGY, GOCHAT_CONTRACT_RUN: runId });
    t.diagnostic(run.output.split('\n').filter((line) => /^# (tests|pass|fail) /.test(line)).join(', '));
    const failures = run.output.split('\n').filter((line) => /^\s*not ok /.test(line));
    assert.equal(run.code, 0, `failed against the topology:\n${failures.join('\n')}\n${run.output.slice(-20_000)}`);
    assert.match(run.output, /^# pass [1-9]/m);
  } finally {
    await dropTestDatabases(`gochat_contract_${runId}_`);
    await deleteRedisKeys(REDIS_URL, `gochat-contract-${runId}-`);
  }
});
