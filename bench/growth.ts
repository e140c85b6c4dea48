/**
 * `npm run bench -- --scenarios growth`: what GoChat's requests cost as the embedded store fills.
 *
 * Filling millions of messages through the WebSocket API would take hours, so between steps the
 * server is stopped and this process appends straight into the same SQLite file with the
 * project's own store (`SqliteRepo.appendMessages` in large batches: same schema, migrations,
 * seq allocation and stored encoding). At each step GoChat is then started on that data
 * directory and measured through real clients only: a closed-loop WebSocket burst (acks/s),
 * history pages over HTTP (newest, middle, an `afterSeq` catch-up page), the first page of a
 * conversation list of a user with many conversations, and that user's unread counts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTempId } from '../sdk/index.js';
import type { NewMessage } from '../src/repo/index.js';
import { SqliteRepo } from '../src/repo/sqlite/sqlite-repo.js';
import { growthChart } from './chart.js';
import { sampleProc } from './proc.js';
import { startTarget, type RunningServer } from './servers.js';
import { Samples, fmt, type Percentiles } from './stats.js';
import { GoChatTarget, type BenchUser, type IncomingFrame } from './target.js';
import type { Verdict } from './types.js';

export interface GrowthParams {
  /** Messages stored at each step after the empty one (the empty step 0 always comes first). */
  messages: number[];
  /** Conversations the fill spreads messages over (1:1 conversations between filler users). */
  conversations: number;
  /** The measured user's conversations at the largest step (its 2-3 own at step 0, in proportion between). */
  userConversations: number;
  /** Share of each step's messages that go into the measured conversation (its unread count). */
  hotShare: number;
  /** Seconds of the closed-loop WebSocket burst per step, and sends in flight. */
  burstSec: number;
  burstInFlight: number;
  /** Sequential requests per latency figure. */
  samples: number;
  pageSize: number;
}

export const GROWTH_DEFAULTS: GrowthParams = {
  messages: [100_000, 1_000_000],
  conversations: 10_000,
  userConversations: 1_000,
  hotShare: 0.1,
  burstSec: 3,
  burstInFlight: 64,
  samples: 200,
  pageSize: 50,
};

const FLAGS: Record<string, { key: keyof GrowthParams; help: string }> = {
  '--growth-messages': { key: 'messages', help: 'messages stored at each step after 0, comma-separated' },
  '--growth-conversations': { key: 'conversations', help: 'conversations the messages are spread over' },
  '--growth-user-conversations': { key: 'userConversations', help: 'the measured user\'s conversations at the largest step' },
  '--growth-hot-share': { key: 'hotShare', help: 'share of the messages in the measured (unread) conversation' },
  '--growth-burst': { key: 'burstSec', help: 'seconds of the WebSocket append burst per step' },
  '--growth-in-flight': { key: 'burstInFlight', help: 'sends in flight in the burst' },
  '--growth-samples': { key: 'samples', help: 'sequential requests per latency figure' },
};

export function growthUsage(): string[] {
  return Object.entries(FLAGS).map(([flag, { key, help }]) => `  ${flag.padEnd(28)} growth: ${help} (default ${String(GROWTH_DEFAULTS[key])})`);
}

/** Takes the growth flags out of `argv` (the runner parses the rest). */
export function takeGrowthFlags(argv: string[]): { params: GrowthParams; rest: string[] } {
  const params: GrowthParams = { ...GROWTH_DEFAULTS, messages: [...GROWTH_DEFAULTS.messages] };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const spec = FLAGS[argv[i]!];
    if (!spec) {
      rest.push(argv[i]!);
      continue;
    }
    const raw = argv[++i];
    if (raw === undefined) throw new Error(`${argv[i - 1]} needs a value`);
    if (spec.key === 'messages') {
      const steps = raw.split(',').map((s) => Number(s.replace(/_/g, '')));
      if (steps.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error('--growth-messages takes positive integers, e.g. 100000,1000000');
      params.messages = [...new Set(steps)].sort((a, b) => a - b);
    } else {
      const n = Number(raw);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`${argv[i - 1]} must be a positive number`);
      if (spec.key === 'hotShare' && n > 1) throw new Error('--growth-hot-share is a share: at most 1');
      (params as unknown as Record<string, number>)[spec.key] = n;
    }
  }
  return { params, rest };
}

/** The figures of one step. Latencies are of single sequential requests, in milliseconds. */
export interface GrowthStep {
  /** Messages the fill has stored (the burst's and the measured user's conversations' come on top). */
  messages: number;
  /**
   * Every message in the file when the step's burst began: the fill's, the reader's conversations'
   * and all earlier bursts' (each step's two bursts add some 100,000 at 16,000 acks/s).
   */
  rowsBefore: number;
  /** Messages in the measured conversation when its pages were read. */
  hotMessages: number;
  userConversations: number;
  fillSec: number;
  /** From spawning the server to its listening line: includes the quick_check of the whole file at open. */
  startSec: number;
  databaseMb: number;
  acksPerSec: number;
  serverCpuUsPerAck: number;
  /**
   * Share of the burst the server's main thread spent runnable but waiting for a core
   * (/proc/<pid>/schedstat): high means other processes took the machine, not that GoChat slowed.
   */
  serverRunWaitShare: number;
  newestPageMs: Percentiles;
  middlePageMs: Percentiles;
  afterSeqPageMs: Percentiles;
  conversationListMs: Percentiles;
  /**
   * `GET /api/users/info` in the same rotation: the same client, auth and HTTP path with a
   * one-row read that the fill does not grow. When it moves with the pages, the machine moved.
   */
  controlMs: Percentiles;
  /** Conversations in the reader's whole list whose unreadCount differed from what was stored (or missing or extra). */
  unreadMismatches: number;
  /** The measured conversation's unread count, and what it should be. */
  hotUnread: number;
  hotUnreadExpected: number;
  errors: number;
}

export interface GrowthResult {
  title: string;
  params: GrowthParams;
  steps: GrowthStep[];
  verdicts: Verdict[];
  chart: string;
}

/**
 * The measured user (the reader); the peer whose stored messages make its large unread count
 * (the writer, in the hot conversation); and the peer whose WebSocket burst measures appends,
 * in a conversation of its own with the reader, so the burst does not grow the pages read.
 */
interface Cast {
  reader: BenchUser;
  writer: BenchUser & { name: string };
  burster: BenchUser;
  hotId: string;
  burstId: string;
  worldId: string | undefined;
}

interface Filler {
  userIds: string[];
  names: string[];
  /** Each fill conversation and its two members. */
  conversations: { id: string; a: number; b: number }[];
  /** The measured user's conversations with fillers, in creation order. */
  readerConversations: string[];
  nextConversation: number;
  nextTemp: number;
  stored: number;
  hotStored: number;
  /** Messages the bursts stored (unread for the reader), all steps so far. */
  burstAcked: number;
}

const BATCH = 5_000;

export function growthTitle(p: GrowthParams): string {
  return `growth: 0 -> ${p.messages.map((n) => n.toLocaleString('en-US')).join(' -> ')} messages over ${p.conversations.toLocaleString('en-US')} conversations; one reader with 3 -> ${(p.userConversations + 1).toLocaleString('en-US')} conversations`;
}

export async function runGrowth(params: GrowthParams, resultsDir: string, stamp: string): Promise<GrowthResult> {
  const title = growthTitle(params);
  console.log(`\n== ${title}`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-growth-'));
  const file = path.join(dataDir, 'gochat.db');
  const steps: GrowthStep[] = [];
  const expectedUnread = new Map<string, number>();
  try {
    // The first start creates the schema and the JWT secret; the three measured users come through the API.
    let server = await start(dataDir);
    let cast: Cast;
    try {
      cast = await castUsers(server);
    } finally {
      await server.stop();
    }
    // Every conversation the reader's list should hold but the burst's; the hot one's count is the writer's fill.
    expectedUnread.set(cast.hotId, 0);
    if (cast.worldId) expectedUnread.set(cast.worldId, 0);

    const filler = await openStore(file, (repo) => createFillers(repo, params));
    const largest = params.messages.at(-1)!;
    for (const target of [0, ...params.messages]) {
      const t0 = performance.now();
      const userConversations = target === 0 ? 1 : Math.max(1, Math.round((params.userConversations * target) / largest));
      await openStore(file, (repo) => fill(repo, params, cast, filler, target, userConversations, expectedUnread));
      const fillSec = (performance.now() - t0) / 1000;
      const t1 = performance.now();
      server = await start(dataDir);
      const startSec = (performance.now() - t1) / 1000;
      try {
        const step = { ...(await measure(server, params, cast, filler, expectedUnread, fillSec, file)), startSec };
        steps.push(step);
        console.log(
          `  ${target.toLocaleString('en-US').padStart(11)} msgs (${step.rowsBefore.toLocaleString('en-US')} in all)  fill ${fmt(fillSec, 1)} s, start ${fmt(startSec, 1)} s  ${fmt(step.acksPerSec)} acks/s (${fmt(step.serverCpuUsPerAck)} us/ack, ${fmt(step.serverRunWaitShare * 100)}% waiting for a core)  ` +
            `newest/middle/after p50 ${fmt(step.newestPageMs.p50, 2)}/${fmt(step.middlePageMs.p50, 2)}/${fmt(step.afterSeqPageMs.p50, 2)} ms  ` +
            `list(${step.userConversations}) p50 ${fmt(step.conversationListMs.p50, 2)} ms  control p50 ${fmt(step.controlMs.p50, 2)} ms  unread ${step.hotUnread}/${step.hotUnreadExpected}, ${step.unreadMismatches} wrong  ${fmt(step.databaseMb)} MB`,
        );
      } finally {
        await server.stop();
      }
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  const verdicts = growthVerdicts(steps);
  const chart = growthChart(title, steps);
  fs.writeFileSync(path.join(resultsDir, `growth-${stamp}.svg`), chart);
  fs.writeFileSync(path.join(resultsDir, 'growth-latest.svg'), chart);
  return { title, params, steps, verdicts, chart: `growth-${stamp}.svg` };
}

function start(dataDir: string): Promise<RunningServer> {
  return startTarget('gochat', { fds: 4096, dataDir });
}

async function openStore<T>(file: string, body: (repo: SqliteRepo) => Promise<T>): Promise<T> {
  // The bench process owns the file while the server is stopped; the check at open is the server's job.
  const repo = new SqliteRepo({ file, integrityCheck: false });
  try {
    return await body(repo);
  } finally {
    await repo.close();
  }
}

async function castUsers(server: RunningServer): Promise<Cast> {
  const target = new GoChatTarget(server.baseUrl, server.wsUrl, `g${Date.now().toString(36).slice(-5)}`);
  const [reader, writer, burster] = await target.users(3, 0);
  const hotId = await target.pair(writer!, reader!);
  const burstId = await target.pair(burster!, reader!);
  const me = await target.request<{ username: string }>('GET', '/api/users/info', undefined, writer!.token);
  const list = await target.request<{ conversationId: string; type: string }[]>('GET', '/api/conversations', undefined, reader!.token);
  return { reader: reader!, writer: { ...writer!, name: me.username }, burster: burster!, hotId, burstId, worldId: list.find((c) => c.type === 'world')?.conversationId };
}

/**
 * Filler users and the conversations the fill spreads over: every pair (i, j) of `users`
 * fillers in turn, so 10,000 conversations need 142 users; at least as many as the measured
 * user's conversations, since each of those is with a filler of its own.
 */
async function createFillers(repo: SqliteRepo, params: GrowthParams): Promise<Filler> {
  let users = params.userConversations;
  while ((users * (users - 1)) / 2 < params.conversations) users++;
  const tag = Date.now().toString(36).slice(-5);
  const userIds: string[] = [];
  const names: string[] = [];
  for (let i = 0; i < users; i++) {
    const name = `fill${tag}_${i}`;
    const user = await repo.createUser({ username: name, passwordHash: 'x', isGuest: false });
    userIds.push(user.userId);
    names.push(name);
  }
  const conversations: Filler['conversations'] = [];
  for (let a = 0; a < users && conversations.length < params.conversations; a++) {
    for (let b = a + 1; b < users && conversations.length < params.conversations; b++) {
      const { conversationId } = await repo.getOrCreateSingleConversation(userIds[a]!, userIds[b]!);
      conversations.push({ id: conversationId, a, b });
    }
  }
  return { userIds, names, conversations, readerConversations: [], nextConversation: 0, nextTemp: 0, stored: 0, hotStored: 0, burstAcked: 0 };
}

/**
 * Appends until `target` messages are stored: `hotShare` of them from the writer into the
 * measured conversation (the reader never reads it, so its unread count grows), the rest round
 * robin over the fill conversations. Then opens the reader's conversations up to
 * `userConversations`, each with one message from its filler (unread 1), newest last.
 */
async function fill(
  repo: SqliteRepo,
  params: GrowthParams,
  cast: Cast,
  filler: Filler,
  target: number,
  userConversations: number,
  expectedUnread: Map<string, number>,
): Promise<void> {
  const content = 'growth '.padEnd(64, 'x');
  const temp = () => `fill-${String(filler.nextTemp++).padStart(12, '0')}`;
  const hotTarget = Math.round(target * params.hotShare);
  let batch: NewMessage[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    await repo.appendMessages(batch);
    batch = [];
  };
  const now = Date.now();
  while (filler.stored < target) {
    // Interleave the two so the measured conversation's rows spread over the file like a live one's.
    if (filler.hotStored < hotTarget && filler.hotStored * target <= filler.stored * hotTarget) {
      batch.push({ conversationId: cast.hotId, senderId: cast.writer.userId, senderName: cast.writer.name, tempMessageId: temp(), content, messageType: 'text', sendTime: now });
      filler.hotStored++;
    } else {
      const c = filler.conversations[filler.nextConversation++ % filler.conversations.length]!;
      const sender = filler.stored % 2 === 0 ? c.a : c.b;
      batch.push({ conversationId: c.id, senderId: filler.userIds[sender]!, senderName: filler.names[sender]!, tempMessageId: temp(), content, messageType: 'text', sendTime: now });
    }
    filler.stored++;
    if (batch.length >= BATCH) await flush();
  }
  await flush();
  // The reader's own conversations: one each with the first fillers.
  while (filler.readerConversations.length + 2 < userConversations) {
    const peer = filler.readerConversations.length;
    const { conversationId } = await repo.getOrCreateSingleConversation(cast.reader.userId, filler.userIds[peer]!);
    filler.readerConversations.push(conversationId);
    batch.push({ conversationId, senderId: filler.userIds[peer]!, senderName: filler.names[peer]!, tempMessageId: temp(), content, messageType: 'text', sendTime: Date.now() });
    expectedUnread.set(conversationId, 1);
  }
  await flush();
}

async function measure(
  server: RunningServer,
  params: GrowthParams,
  cast: Cast,
  filler: Filler,
  expectedUnread: ReadonlyMap<string, number>,
  fillSec: number,
  file: string,
): Promise<Omit<GrowthStep, 'startSec'>> {
  let errors = 0;
  const rowsBefore = filler.stored + filler.readerConversations.length + filler.burstAcked;
  // Two bursts, the better one counts: another process taking the cores for a second should not
  // decide a step's figure. Both store their messages.
  const bursts = [await burst(server, params, cast), await burst(server, params, cast)];
  const best = bursts[0]!.acksPerSec >= bursts[1]!.acksPerSec ? bursts[0]! : bursts[1]!;
  const { cpuUsPerAck, acksPerSec, runWaitShare: serverRunWaitShare } = best;
  const acked = bursts[0]!.acked + bursts[1]!.acked;
  errors += bursts[0]!.failed + bursts[1]!.failed;
  // Every burst message is unread for the reader, like the writer's stored ones.
  filler.burstAcked += acked;
  const hotUnreadExpected = filler.hotStored;
  const hotMessages = filler.hotStored;

  const get = async (url: string, token: string): Promise<unknown> => {
    const res = await fetch(server.baseUrl + url, { headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json()) as { success: boolean; data: unknown };
    if (!res.ok || !body.success) {
      errors++;
      return undefined;
    }
    return body.data;
  };
  const size = params.pageSize;
  const history = `/api/conversations/${cast.hotId}/messages`;
  const token = cast.reader.token;
  const listUrl = '/api/conversations?limit=50';
  const urls = [
    `${history}?page=1&size=${size}`,
    `${history}?page=${Math.max(1, Math.ceil(hotMessages / size / 2))}&size=${size}`,
    `${history}?afterSeq=${Math.floor(hotMessages / 2)}&size=${size}`,
    listUrl,
    '/api/users/info',
  ];
  // The kinds take turns, so a stall of the shared machine or the server's warm-up falls on all
  // of them alike; the first rounds (connection, JIT, page cache) are not counted.
  const samples = urls.map(() => new Samples());
  for (let round = -Math.min(20, params.samples); round < params.samples; round++) {
    for (const [i, url] of urls.entries()) {
      const t0 = performance.now();
      await get(url, token);
      if (round >= 0) samples[i]!.add(performance.now() - t0);
    }
  }
  const [newestPageMs, middlePageMs, afterSeqPageMs, conversationListMs, controlMs] = samples.map((s) => s.percentiles()) as [Percentiles, Percentiles, Percentiles, Percentiles, Percentiles];

  // Every unread count (the whole list, unpaged) is exactly what was stored and never read.
  const page = ((await get('/api/conversations', token)) ?? []) as { conversationId: string; unreadCount: number }[];
  let unreadMismatches = 0;
  let hotUnread = -1;
  for (const c of page) {
    const expected =
      c.conversationId === cast.hotId ? hotUnreadExpected : c.conversationId === cast.burstId ? filler.burstAcked : expectedUnread.get(c.conversationId);
    if (c.conversationId === cast.hotId) hotUnread = c.unreadCount;
    if (expected === undefined || c.unreadCount !== expected) unreadMismatches++;
  }
  if (hotUnread === -1) unreadMismatches++;
  // The list holds the hot, world and filler conversations the map knows, and the burst's.
  unreadMismatches += Math.abs(page.length - (expectedUnread.size + 1));
  return {
    messages: filler.stored,
    rowsBefore,
    hotMessages,
    userConversations: page.length,
    fillSec,
    databaseMb: databaseBytes(file) / 2 ** 20,
    acksPerSec,
    serverCpuUsPerAck: cpuUsPerAck,
    serverRunWaitShare,
    newestPageMs,
    middlePageMs,
    afterSeqPageMs,
    conversationListMs,
    controlMs,
    unreadMismatches,
    hotUnread,
    hotUnreadExpected,
    errors,
  };
}

function databaseBytes(file: string): number {
  let total = 0;
  for (const f of [file, `${file}-wal`]) {
    try {
      total += fs.statSync(f).size;
    } catch {
      // no WAL right now
    }
  }
  return total;
}

/**
 * The burster's socket sends into its conversation with the reader, `burstInFlight` unanswered at a
 * time, for half a second of warm-up and then `burstSec` counted; then it waits for every answer.
 */
async function burst(server: RunningServer, params: GrowthParams, cast: Cast): Promise<{ acked: number; failed: number; acksPerSec: number; cpuUsPerAck: number; runWaitShare: number }> {
  const target = new GoChatTarget(server.baseUrl, server.wsUrl, 'burst');
  const socket = await target.connect(cast.burster);
  let sending = true;
  let outstanding = 0;
  let acked = 0;
  let failed = 0;
  let counted = 0;
  let counting = false;
  let settled: () => void = () => {};
  const content = 'burst '.padEnd(64, 'y');
  const sendOne = () => {
    if (!sending) return;
    outstanding++;
    socket.send(JSON.stringify({ type: 'send-message', data: { conversationId: cast.burstId, content, messageType: 'text', tempMessageId: createTempId() } }));
  };
  socket.onFrame = (frame: IncomingFrame) => {
    if (frame.type !== 'message-ack' && frame.type !== 'error') return;
    outstanding--;
    if (frame.type === 'message-ack') {
      acked++;
      if (counting) counted++;
    } else failed++;
    sendOne();
    if (!sending && outstanding === 0) settled();
  };
  for (let k = 0; k < params.burstInFlight; k++) sendOne();
  await sleep(500);
  counting = true;
  const before = sampleProc(server.pid);
  const waitBefore = runQueueWaitNs(server.pid);
  const t0 = performance.now();
  await sleep(params.burstSec * 1000);
  counting = false;
  const seconds = (performance.now() - t0) / 1000;
  const after = sampleProc(server.pid);
  const waited = runQueueWaitNs(server.pid) - waitBefore;
  sending = false;
  const done = new Promise<void>((resolve) => (settled = resolve));
  if (outstanding > 0) await Promise.race([done, sleep(10_000)]);
  failed += outstanding;
  socket.ws.close();
  await socket.closed;
  return {
    acked,
    failed,
    acksPerSec: counted / seconds,
    cpuUsPerAck: counted > 0 ? (after.cpuUs - before.cpuUs) / counted : Number.NaN,
    runWaitShare: waited / (seconds * 1e9),
  };
}

/** Nanoseconds the process's main thread has waited on a run queue (second field of schedstat); NaN where unreadable. */
function runQueueWaitNs(pid: number): number {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]);
  } catch {
    return Number.NaN;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Issue 12's bar: at the largest step, history pages take at most 1.5x and the append burst
 * keeps at least 1/1.5 of what they did at 100,000 messages (the smallest filled step when no
 * smaller step is 100,000); and every unread count is exact at every step.
 */
export function growthVerdicts(steps: readonly GrowthStep[]): Verdict[] {
  const verdicts: Verdict[] = [];
  const filled = steps.filter((s) => s.messages > 0);
  const last = filled.at(-1);
  const reference = filled.find((s) => s.messages === 100_000 && s !== last) ?? filled[0];
  if (reference && last && last !== reference) {
    const at = `${last.messages.toLocaleString('en-US')} vs ${reference.messages.toLocaleString('en-US')} messages`;
    // The control request's ratio is printed beside each bar: the bar itself is on the raw figure.
    const control = (last.controlMs.p50 / reference.controlMs.p50).toFixed(2);
    const latency = (name: string, pick: (s: GrowthStep) => Percentiles) => {
      const ratio = pick(last).p50 / pick(reference).p50;
      verdicts.push({ bar: `growth: ${name} p50 at ${at} <= 1.5x (${ratio.toFixed(2)}x; control request ${control}x)`, pass: ratio <= 1.5 });
    };
    latency('newest history page', (s) => s.newestPageMs);
    latency('middle history page', (s) => s.middlePageMs);
    latency('afterSeq catch-up page', (s) => s.afterSeqPageMs);
    const ratio = last.acksPerSec / reference.acksPerSec;
    verdicts.push({ bar: `growth: append acks/s at ${at} >= 1/1.5 (${ratio.toFixed(2)}x)`, pass: ratio >= 1 / 1.5 });
  }
  const wrong = steps.reduce((n, s) => n + s.unreadMismatches, 0);
  verdicts.push({ bar: `growth: unread counts exact at every step (${wrong} wrong)`, pass: wrong === 0 });
  const errors = steps.reduce((n, s) => n + s.errors, 0);
  verdicts.push({ bar: `growth: errors = 0 (${errors})`, pass: errors === 0 });
  return verdicts;
}
