/**
 * The store alone, without server or sockets: CPU per message of `SqliteRepo.appendMessages` in
 * batches of a given size (one transaction and fsync per batch, as the MessageWriter commits), and
 * CPU per history page. For comparing two builds of the storage code in one sitting, which the
 * whole-server bench is too noisy to settle (docs/performance.md, "The SQLite append"):
 *
 *   node dist/bench/repo-append.js [--batch 20] [--rounds 1000] [--memory] [--dist /other/checkout/dist]
 *
 * `--dist` loads another build's SqliteRepo (e.g. a worktree of an older commit, built with tsc);
 * run both alternately several times and compare medians. `--memory` uses an in-memory database:
 * no fsync, so the code's own cost stands out.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { User } from '../src/protocol/index.js';
import type { NewMessage, Repo } from '../src/repo/index.js';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '1000' },
    memory: { type: 'boolean', default: false },
    dist: { type: 'string' },
  },
});

const here = path.dirname(fileURLToPath(import.meta.url));
const distRoot = values.dist ? path.resolve(values.dist) : path.resolve(here, '..');
const { SqliteRepo } = (await import(pathToFileURL(path.join(distRoot, 'src/repo/sqlite/sqlite-repo.js')).href)) as {
  SqliteRepo: new (config: { file: string }) => Repo;
};

const batchSize = Number(values.batch);
const rounds = Number(values.rounds);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-repo-append-'));
const repo = new SqliteRepo({ file: values.memory ? ':memory:' : path.join(dir, 'gochat.db') });
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
  for (let r = 0; r < rounds; r++) await repo.appendMessages(batch());
  const append = process.cpuUsage(appendStart);

  const pages = 300;
  const historyStart = process.cpuUsage();
  for (let r = 0; r < pages; r++) await repo.getMessages(conversations[r % conversations.length]!, { kind: 'page', page: 1, size: 50 });
  const history = process.cpuUsage(historyStart);

  const messages = batchSize * rounds;
  console.log(
    JSON.stringify({
      build: distRoot,
      batch: batchSize,
      memory: values.memory,
      cpuUsPerMessage: +((append.user + append.system) / messages).toFixed(1),
      userUsPerMessage: +(append.user / messages).toFixed(1),
      cpuUsPerHistoryPage: +((history.user + history.system) / pages).toFixed(1),
    }),
  );
} finally {
  await repo.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
