/**
 * The store alone, without server or sockets: CPU per message of `SqliteRepo.appendMessages` in
 * batches of a given size (one transaction and fsync per batch, as the MessageWriter commits), and
 * CPU per history page. For comparing two builds of the storage code in one sitting, which the
 * whole-server bench is too noisy to settle (docs/performance.md, "The SQLite append"):
 *
 *   node dist/bench/repo-append.js [--batch 20] [--rounds 1000] [--memory] [--postgres] [--dist /other/checkout/dist]
 *
 * `--dist` loads another build's SqliteRepo (e.g. a worktree of an older commit, built with tsc);
 * run both alternately several times and compare medians. `--memory` uses an in-memory database:
 * no fsync, so the code's own cost stands out. `--postgres` measures `PostgresRepo` on a fresh
 * database of the local server (BENCH_PG_URL), dropped afterwards, with one pooled connection:
 * the CPU per message is then this process's plus that database's PostgreSQL processes', each
 * reported too, and `roundTripsPerBatch` counts the statements sent (BEGIN and COMMIT included).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { User } from '../src/protocol/index.js';
import type { NewMessage, Repo } from '../src/repo/index.js';
import { createTestDatabase, type TestDatabase } from '../test/ports/services.js';
import { cpuBetween, postgresProcesses, sampleGroup } from './proc.js';
import { BENCH_PG_URL, postmasterProcessId } from './servers.js';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '1000' },
    memory: { type: 'boolean', default: false },
    dist: { type: 'string' },
    postgres: { type: 'boolean', default: false },
  },
});

const here = path.dirname(fileURLToPath(import.meta.url));
const distRoot = values.dist ? path.resolve(values.dist) : path.resolve(here, '..');
const load = async <T>(module: string): Promise<T> => (await import(pathToFileURL(path.join(distRoot, module)).href)) as T;

type PostgresStore = Repo & { migrate(): Promise<void>; readonly roundTrips: number };

const batchSize = Number(values.batch);
const rounds = Number(values.rounds);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-repo-append-'));
const database: TestDatabase | null = values.postgres ? await createTestDatabase('gochat_bench_', BENCH_PG_URL) : null;
const postmasterPid = database ? await postmasterProcessId(BENCH_PG_URL) : 0;
let repo: Repo;
if (database) {
  const { PostgresRepo } = await load<{ PostgresRepo: new (config: { url: string; poolSize: number }) => PostgresStore }>('src/repo/postgres/postgres-repo.js');
  const store = new PostgresRepo({ url: database.url, poolSize: 1 });
  await store.migrate();
  repo = store;
} else {
  const { SqliteRepo } = await load<{ SqliteRepo: new (config: { file: string }) => Repo }>('src/repo/sqlite/sqlite-repo.js');
  repo = new SqliteRepo({ file: values.memory ? ':memory:' : path.join(dir, 'gochat.db') });
}
const roundTrips = () => (repo as Partial<PostgresStore>).roundTrips ?? 0;
const postgresCpu = () => (database ? sampleGroup(postgresProcesses(postmasterPid, database.name)) : null);
try {
  const users: User[] = [];
  for (let i = 0; i < 20; i++) users.push(await repo.createUser({ username: `bench${i}`, passwordHash: 'x', isGuest: false, usernameSkeleton: `bench${i}` }));
  const conversations: string[] = [];
  for (let i = 1; i < users.length; i++) conversations.push((await repo.getOrCreateSingleConversation(users[0]!.userId, users[i]!.userId)).conversationId);
  let sent = 0;
  const next = (): NewMessage => {
    const n = sent++;
    return {
      conversationId: conversations[n % conversations.length]!,
      senderId: users[0]!.userId,
      senderName: 'bench0',
      tempMessageId: `t-${n}`,
      content: `message number ${n}, of an ordinary length`,
      messageType: 'text',
      sendTime: Date.now(),
    };
  };
  const batch = () => Array.from({ length: batchSize }, next);
  for (let r = 0; r < 50; r++) await repo.appendMessages(batch()); // warm-up: JIT and caches

  const appendStart = process.cpuUsage();
  const postgresStart = postgresCpu();
  const tripsStart = roundTrips();
  for (let r = 0; r < rounds; r++) await repo.appendMessages(batch());
  const append = process.cpuUsage(appendStart);
  const postgresEnd = postgresCpu();
  const trips = roundTrips() - tripsStart;

  const pages = 300;
  const historyStart = process.cpuUsage();
  for (let r = 0; r < pages; r++) await repo.getMessages(conversations[r % conversations.length]!, { kind: 'page', page: 1, size: 50 });
  const history = process.cpuUsage(historyStart);

  const messages = batchSize * rounds;
  const ownUs = append.user + append.system;
  const postgresUs = postgresStart && postgresEnd ? cpuBetween(postgresStart, postgresEnd).cpuUs : 0;
  console.log(
    JSON.stringify({
      build: distRoot,
      store: database ? 'postgres' : values.memory ? 'sqlite-memory' : 'sqlite',
      batch: batchSize,
      cpuUsPerMessage: +((ownUs + postgresUs) / messages).toFixed(1),
      ...(database ? { clientUsPerMessage: +(ownUs / messages).toFixed(1), postgresUsPerMessage: +(postgresUs / messages).toFixed(1), roundTripsPerBatch: +(trips / rounds).toFixed(2) } : {}),
      userUsPerMessage: +(append.user / messages).toFixed(1),
      cpuUsPerHistoryPage: +((history.user + history.system) / pages).toFixed(1),
    }),
  );
} finally {
  await repo.close();
  if (database) await database[Symbol.asyncDispose]();
  fs.rmSync(dir, { recursive: true, force: true });
}
