/**
 * The embedded server's contract suite (test/contract/), unchanged, against the distributed
 * topology: `startServer()` there is answered by 2 gateways behind a round-robin balancer,
 * 2 logic, 1 task, PostgreSQL and Redis (see cluster-as-server.ts). Most files share one
 * cluster; files that kill and restart their server get clusters of their own.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deleteRedisKeys, dropTestDatabases, REDIS_URL, skipUnless } from '../ports/services.js';
import { startCluster } from './cluster.js';
import { balance, type SharedCluster } from './cluster-as-server.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CONTRACT_DIR = path.resolve(here, '../contract');
/** Contract files that kill or restart their server. */
const OWN_CLUSTER = new Set(['durability.test.js']);
const RUN_TIMEOUT_MS = 150_000;

interface Run {
  code: number | null;
  output: string;
}

/** Runs test files in a nested runner (its own process group, killed whole on timeout: no orphans). */
function runFiles(files: string[], env: Record<string, string>): Promise<Run> {
  // Without removing NODE_TEST_CONTEXT the nested runner would report to ours in its binary protocol.
  const { NODE_TEST_CONTEXT: _context, ...inherited } = process.env;
  const child = spawn(
    process.execPath,
    ['--import', path.join(here, 'contract-register.js'), '--test', '--test-concurrency=1', '--test-timeout=60000', '--test-reporter=tap', ...files],
    { env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
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
      killGroup(); // any cluster process a test file left behind
      resolve({ code, output });
    }),
  );
}

function summarize(run: Run): string {
  return run.output
    .split('\n')
    .filter((line) => /^# (tests|pass|fail) /.test(line))
    .join(', ');
}

function assertPassed(run: Run, label: string): void {
  const failures = run.output.split('\n').filter((line) => /^\s*not ok /.test(line));
  assert.equal(run.code, 0, `${label} failed against the topology:\n${failures.join('\n')}\n${run.output.slice(-20_000)}`);
  assert.match(run.output, /^# pass [1-9]/m);
}

it('the contract suite passes against the distributed topology', { timeout: 2 * RUN_TIMEOUT_MS + 30_000 }, async (t) => {
  const skip = (await skipUnless('postgres')) || (await skipUnless('redis'));
  if (skip) return t.skip(skip);
  const runId = randomBytes(4).toString('hex');
  const files = fs.readdirSync(CONTRACT_DIR).filter((f) => f.endsWith('.test.js')).sort();
  const sharedFiles = files.filter((f) => !OWN_CLUSTER.has(f)).map((f) => path.join(CONTRACT_DIR, f));
  const ownFiles = files.filter((f) => OWN_CLUSTER.has(f)).map((f) => path.join(CONTRACT_DIR, f));
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-contract-shared-'));
  try {
    await using cluster = await startCluster({
      // The embedded defaults of what the contract observes (password hashing cost is not observable).
      env: { GOCHAT_RATE_LOGIN_PER_IP: '100', GOCHAT_RATE_LOGIN_PER_USERNAME: '10' },
    });
    const balancer = await balance(cluster);
    try {
      fs.writeFileSync(path.join(dataDir, 'jwt-secret'), `${cluster.env.GOCHAT_JWT_SECRET}\n`, { mode: 0o600 });
      const shared: SharedCluster = { port: (balancer.address() as { port: number }).port, dataDir };
      const runs = [{ label: 'contract files on the shared cluster', run: await runFiles(sharedFiles, { GOCHAT_CONTRACT_RUN: runId, GOCHAT_SHARED_CLUSTER: JSON.stringify(shared) }) }];
      if (ownFiles.length > 0) runs.push({ label: 'contract files on their own clusters', run: await runFiles(ownFiles, { GOCHAT_CONTRACT_RUN: runId }) });
      for (const { label, run } of runs) t.diagnostic(`${label}: ${summarize(run)}`);
      for (const { label, run } of runs) assertPassed(run, label);
    } finally {
      await new Promise((resolve) => balancer.close(resolve));
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
    await dropTestDatabases(`gochat_contract_${runId}_`);
    await deleteRedisKeys(REDIS_URL, `gochat-contract-${runId}-`);
  }
});
