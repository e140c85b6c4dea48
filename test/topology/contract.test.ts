/**
 * The embedded server's contract suite (test/contract/), unchanged, against the distributed
 * topology: `startServer()` there is answered by 2 gateways behind a round-robin balancer,
 * 2 logic, 1 task, PostgreSQL and Redis (see cluster-as-server.ts). Most files share one
 * cluster; files that kill and restart their server get clusters of their own.
 */
import { it } from 'node:test';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deleteRedisKeys, dropTestDatabases, REDIS_URL, skipUnless } from '../ports/services.js';
import { startCluster } from './cluster.js';
import { balance, type SharedCluster } from './cluster-as-server.js';
import { assertPassed, runNested, summarize } from '../helpers/nested-runner.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CONTRACT_DIR = path.resolve(here, '../contract');
/** Contract files that kill or restart their server. */
const OWN_CLUSTER = new Set(['durability.test.js']);
const RUN_TIMEOUT_MS = 150_000;
/** Each file gets the contract suite's own register hook, so `startServer()` answers with the cluster. */
const nested = { timeoutMs: RUN_TIMEOUT_MS, nodeArgs: ['--import', path.join(here, 'contract-register.js')] };

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
      const runs = [{ label: 'contract files on the shared cluster', run: await runNested(sharedFiles, { GOCHAT_CONTRACT_RUN: runId, GOCHAT_SHARED_CLUSTER: JSON.stringify(shared) }, nested) }];
      if (ownFiles.length > 0) runs.push({ label: 'contract files on their own clusters', run: await runNested(ownFiles, { GOCHAT_CONTRACT_RUN: runId }, nested) });
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
