/**
 * The scenarios of issue 5, run by the load generator against one target. Setup (users,
 * conversations, connections) happens before the clock starts; the measured window is
 * bracketed by marks at which the runner samples the server's /proc figures.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { createTempId } from '../sdk/index.js';
import { BenchSocket, GoChatTarget, pool, type BenchUser, type IncomingFrame, type Target } from './target.js';
import { REACTION_SCENARIOS } from './reactions.js';
import { ROOM_SCENARIOS } from './rooms.js';
import { MessageTracker, summary } from './tracker.js';
import { Samples } from './stats.js';
import type { Job, LoadResult } from './types.js';

export interface Context {
  job: Job;
  target: Target;
  /** Asks the runner to sample the server now; resolves once it has. */
  mark(name: string): Promise<void>;
  log(text: string): void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const CONNECT_CONCURRENCY = 64;

interface Conversation {
  id: string;
  members: BenchUser[];
}

interface Layout {
  users: BenchUser[];
  conversations: Conversation[];
  /** Conversation of each user (each user is in exactly one here). */
  conversationOf: Conversation[];
}

async function pairLayout(target: Target, connections: number): Promise<Layout> {
  const users = await target.users(connections - (connections % 2), 0);
  const conversations: Conversation[] = [];
  for (let i = 0; i + 1 < users.length; i += 2) conversations.push({ id: '', members: [users[i]!, users[i + 1]!] });
  await pool(conversations, 16, async (c) => (c.id = await target.pair(c.members[0]!, c.members[1]!)));
  return finishLayout(users, conversations);
}

async function groupLayout(target: Target, connections: number, groupSize: number): Promise<Layout> {
  const groups = Math.ceil(connections / groupSize);
  const plain = await target.users(connections, 0);
  // Owners first: only registered users may create groups. They are the first member of each group.
  const owners = await target.users(groups, groups);
  const conversations: Conversation[] = [];
  for (let g = 0; g < groups; g++) {
    const rest = plain.slice(g * groupSize, (g + 1) * groupSize - 1);
    conversations.push({ id: '', members: [owners[g]!, ...rest] });
  }
  await pool(conversations, 4, async (c) => (c.id = await target.group(c.members[0]!, c.members.slice(1))));
  const users = conversations.flatMap((c) => c.members);
  users.forEach((u, i) => (u.index = i));
  return finishLayout(users, conversations);
}

function finishLayout(users: BenchUser[], conversations: Conversation[]): Layout {
  const conversationOf: Conversation[] = [];
  for (const c of conversations) for (const m of c.members) conversationOf[m.index] = c;
  return { users, conversations, conversationOf };
}

function connectAll(target: Target, layout: Layout): Promise<BenchSocket[]> {
  return pool(layout.users, CONNECT_CONCURRENCY, (u) => target.connect(u, [layout.conversationOf[u.index]!.id]));
}

function sendFrame(conversationId: string, content: string, tempMessageId: string): string {
  return JSON.stringify({ type: 'send-message', data: { conversationId, content, messageType: 'text', tempMessageId } });
}

/**
 * (a), (b), (c): every connection sends into its conversation, either closed-loop with
 * `inFlight` outstanding sends, or open-loop at `rate` messages per second.
 */
async function messaging(ctx: Context, layout: Layout, mode: { closed: true; inFlight: number } | { closed: false; rate: number }): Promise<LoadResult> {
  const { params } = ctx.job;
  const sockets = await connectAll(ctx.target, layout);
  const tracker = new MessageTracker(params.contentChars);
  let sending = true;
  const counters = new Array<number>(sockets.length).fill(0);

  const sendOne = (i: number) => {
    if (!sending) return;
    const conversation = layout.conversationOf[i]!;
    // By default the ids real clients send: the SDK's createTempId (time-ordered UUIDv7).
    // Random v4 UUIDs land on random pages of the idempotency index and cost the server more.
    const key = params.tempIds === 'uuid' ? randomUUID() : params.tempIds === 'v7' ? createTempId() : `${i}-${counters[i]!++}`;
    const content = tracker.content(key, conversation.members.length - 1, performance.now());
    sockets[i]!.send(sendFrame(conversation.id, content, key));
  };

  // Each connection is in one conversation: its seqIds must arrive once each and rising (a
  // cluster delivers through two gateways and Redis, where a reorder or a redelivery could hide).
  const seen = sockets.map(() => new Set<number>());
  const lastSeq = new Array<number>(sockets.length).fill(0);
  let duplicateDeliveries = 0;
  let outOfOrder = 0;
  sockets.forEach((socket, i) => {
    socket.onFrame = (frame: IncomingFrame) => {
      const data = frame.data as Record<string, string>;
      if (frame.type === 'new-message') {
        const seq = Number(data.seqId);
        if (Number.isFinite(seq)) {
          if (seen[i]!.has(seq)) duplicateDeliveries++;
          else {
            seen[i]!.add(seq);
            if (seq < lastSeq[i]!) outOfOrder++;
            else lastSeq[i] = seq;
          }
        }
        tracker.delivery(data.content!, performance.now());
      } else if (frame.type === 'message-ack') {
        tracker.ack(data.tempMessageId!, performance.now());
        if (mode.closed) sendOne(i);
      } else if (frame.type === 'error') {
        tracker.error(data.tempMessageId ?? '');
        if (mode.closed) sendOne(i);
      }
    };
  });

  const timers: NodeJS.Timeout[] = [];
  if (mode.closed) {
    sockets.forEach((_, i) => {
      for (let k = 0; k < mode.inFlight; k++) sendOne(i);
    });
  } else {
    const period = 1000 / mode.rate;
    sockets.forEach((_, i) => {
      const start = setTimeout(() => {
        sendOne(i);
        timers.push(setInterval(() => sendOne(i), period));
      }, Math.random() * period);
      timers.push(start);
    });
  }

  await sleep(params.warmupSec * 1000);
  tracker.windowStart = performance.now();
  await ctx.mark('window-start');
  await sleep(params.durationSec * 1000);
  tracker.windowEnd = performance.now();
  await ctx.mark('window-end');
  sending = false;
  timers.forEach((t) => clearTimeout(t));
  await tracker.settled(10_000);
  const windowSec = (tracker.windowEnd - tracker.windowStart) / 1000;
  const losses = tracker.losses();
  sockets.forEach((s) => s.terminate());
  if (tracker.unexpectedDeliveries > 0) ctx.log(`${tracker.unexpectedDeliveries} unexpected deliveries`);
  return {
    figures: {
      acksPerSec: tracker.acksInWindow / windowSec,
      deliveriesPerSec: tracker.deliveriesInWindow / windowSec,
      ackLatencyMs: summary(tracker.ackLatency.percentiles()),
      deliveryLatencyMs: summary(tracker.deliveryLatency.percentiles()),
      sent: tracker.sentCount,
      acked: tracker.ackedCount,
      delivered: tracker.deliveredCount,
      errors: tracker.errorCount,
      lostUnacked: losses.unacked,
      lostUndelivered: losses.undelivered + tracker.unexpectedDeliveries,
      duplicateDeliveries,
      outOfOrder,
    },
    window: ['window-start', 'window-end'],
    perAck: tracker.acksInWindow,
    perDelivery: tracker.deliveriesInWindow,
  };
}

async function scenarioA(ctx: Context): Promise<LoadResult> {
  const layout = await pairLayout(ctx.target, ctx.job.params.pairConnections);
  return messaging(ctx, layout, { closed: true, inFlight: ctx.job.params.inFlight });
}

async function scenarioB(ctx: Context): Promise<LoadResult> {
  const { params } = ctx.job;
  const layout = await groupLayout(ctx.target, params.groupConnections, params.groupSize);
  return messaging(ctx, layout, { closed: false, rate: params.groupRate });
}

async function scenarioC(ctx: Context): Promise<LoadResult> {
  const { params } = ctx.job;
  const layout = await groupLayout(ctx.target, params.groupConnections, params.groupSize);
  return messaging(ctx, layout, { closed: false, rate: params.groupRate / params.latencyRateDivisor });
}

/**
 * (d) idle authenticated connections, each pinging at its own phase. RSS is sampled before
 * connecting, with half connected and with all connected: the second half's growth is the
 * marginal cost, which a heap already grown by setup cannot hide.
 */
async function scenarioD(ctx: Context): Promise<LoadResult> {
  const { params } = ctx.job;
  const users = await ctx.target.users(params.idleConnections, 0);
  await sleep(500);
  let pongs = 0;
  const timers: NodeJS.Timeout[] = [];
  const periodMs = params.idlePingSec * 1000;
  const connect = async (group: BenchUser[]) => {
    const sockets = await pool(group, 200, (u) => ctx.target.connect(u, []));
    for (const socket of sockets) {
      socket.onFrame = (frame) => {
        if (frame.type === 'pong') pongs++;
      };
      timers.push(
        setTimeout(() => {
          socket.send('{"type":"ping"}');
          timers.push(setInterval(() => socket.send('{"type":"ping"}'), periodMs));
        }, Math.random() * periodMs),
      );
    }
    return sockets;
  };
  const half = Math.floor(users.length / 2);
  await ctx.mark('before-connect');
  const first = await connect(users.slice(0, half));
  await sleep((params.durationSec * 1000) / 2);
  await ctx.mark('half-connected');
  const second = await connect(users.slice(half));
  await sleep((params.durationSec * 1000) / 2);
  await ctx.mark('held');
  timers.forEach((t) => clearTimeout(t));
  const sockets = [...first, ...second];
  const stillConnected = sockets.filter((s) => s.isOpen).length;
  sockets.forEach((s) => s.terminate());
  ctx.log(`${pongs} pongs`);
  return {
    figures: { connections: users.length, stillConnected, errors: users.length - stillConnected },
    rssMarks: ['before-connect', 'half-connected', 'held'],
    halfConnections: half,
  };
}

/** Fills a 1:1 conversation with `count` messages over one socket, `inFlight` at a time. */
async function fill(socket: BenchSocket, conversationId: string, count: number, inFlight: number, tag: string): Promise<void> {
  let sent = 0;
  let acked = 0;
  await new Promise<void>((resolve, reject) => {
    const next = () => {
      if (sent < count) socket.send(sendFrame(conversationId, `history ${sent}`, `${tag}-${sent++}`));
    };
    socket.onFrame = (frame) => {
      if (frame.type === 'error') reject(new Error(`fill refused: ${JSON.stringify(frame.data)}`));
      if (frame.type !== 'message-ack') return;
      if (++acked === count) resolve();
      else next();
    };
    for (let i = 0; i < inFlight; i++) next();
  });
}

interface HttpAnswer {
  status: number;
  body: string;
}

/** A GET over a keep-alive agent; with `keepBody` false the body is read and dropped (the reader stays cheap). */
function get(agent: http.Agent, url: URL, token: string, keepBody = true): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => keepBody && chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: keepBody ? Buffer.concat(chunks).toString() : '' }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** (e) history pages per second from a conversation holding `historyMessages` messages. */
async function scenarioE(ctx: Context): Promise<LoadResult> {
  const { params } = ctx.job;
  const target = ctx.target as GoChatTarget;
  const [writer, reader] = await target.users(2, 0);
  const conversationId = await target.pair(writer!, reader!);
  const socket = await target.connect(writer!);
  const fillStart = performance.now();
  // 256 in flight stays under the server's default cap on unanswered sends per connection.
  await fill(socket, conversationId, params.historyMessages, 256, 'h');
  const fillSec = (performance.now() - fillStart) / 1000;
  socket.terminate();

  const agent = new http.Agent({ keepAlive: true, maxSockets: params.historyReaders });
  const pages = Math.max(1, Math.floor(params.historyMessages / params.pageSize));
  const latency = new Samples();
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;
  let inWindow = 0;
  let errors = 0;
  let checked = 0;
  let messagesSeen = 0;
  let running = true;
  const readerLoop = async (r: number) => {
    for (let n = 0; running; n++) {
      const page = 1 + Math.floor(Math.random() * pages);
      const url = new URL(`/api/conversations/${conversationId}/messages?page=${page}&size=${params.pageSize}`, target.baseUrl);
      // Parsing every page would make the reader the bottleneck; check a sample fully.
      const check = (n + r) % 32 === 0;
      const t0 = performance.now();
      const answer = await get(agent, url, reader!.token, check).catch(() => ({ status: 0, body: '' }));
      const t1 = performance.now();
      if (answer.status !== 200) {
        errors++;
        continue;
      }
      if (check) {
        const parsed = JSON.parse(answer.body) as { data: unknown[] };
        checked++;
        messagesSeen += parsed.data.length;
      }
      if (t0 >= windowStart && t1 < windowEnd) {
        inWindow++;
        latency.add(t1 - t0);
      }
    }
  };
  const readers = Array.from({ length: params.historyReaders }, (_, r) => readerLoop(r));
  await sleep(params.warmupSec * 1000);
  windowStart = performance.now();
  await ctx.mark('window-start');
  await sleep(params.durationSec * 1000);
  windowEnd = performance.now();
  await ctx.mark('window-end');
  running = false;
  await Promise.all(readers);
  agent.destroy();
  return {
    figures: {
      pagesPerSec: inWindow / ((windowEnd - windowStart) / 1000),
      pageLatencyMs: summary(latency.percentiles()),
      messagesPerPage: checked === 0 ? 0 : messagesSeen / checked,
      errors,
      fillSec,
    },
    window: ['window-start', 'window-end'],
    perPage: inWindow,
  };
}

/** One storm client: what it has seen of its group, by seqId, and how often a seqId came twice. */
class StormClient {
  readonly live = new Set<number>();
  readonly fetched = new Set<number>();
  duplicates = 0;
  socket: BenchSocket | null = null;
  doneAt = 0;

  constructor(
    readonly user: BenchUser,
    readonly conversationId: string,
  ) {}

  get lastSeq(): number {
    let last = 0;
    for (const s of this.live) if (s > last) last = s;
    for (const s of this.fetched) if (s > last) last = s;
    return last;
  }

  seen(seq: number): boolean {
    return this.live.has(seq) || this.fetched.has(seq);
  }

  attach(socket: BenchSocket): void {
    this.socket = socket;
    socket.onFrame = (frame) => {
      if (frame.type !== 'new-message') return;
      const seq = (frame.data as { seqId: number }).seqId;
      if (this.live.has(seq)) this.duplicates++;
      this.live.add(seq);
    };
  }
}

/**
 * (f) `stormClients` clients in groups drop at once; while they are away each group receives
 * `stormMissed` messages; then all reconnect at once and catch up with `afterSeq` reads while
 * the groups keep talking. Every client must end with every seqId exactly once.
 */
async function scenarioF(ctx: Context): Promise<LoadResult> {
  const { params } = ctx.job;
  const target = ctx.target as GoChatTarget;
  const setupStart = performance.now();
  const layout = await groupLayout(target, params.stormClients, params.groupSize);
  const clients = layout.users.map((u) => new StormClient(u, layout.conversationOf[u.index]!.id));
  const sockets = await pool(clients, CONNECT_CONCURRENCY, (c) => target.connect(c.user));
  clients.forEach((c, i) => c.attach(sockets[i]!));
  // Each group's owner talks from a second device that never drops.
  const writers = await pool(layout.conversations, 16, (c) => target.connect(c.members[0]!));
  const lastAcked = new Map<string, number>();
  let writeCounter = 0;
  const write = (w: number, count: number) =>
    new Promise<void>((resolve, reject) => {
      const conversation = layout.conversations[w]!;
      const socket = writers[w]!;
      let acked = 0;
      socket.onFrame = (frame) => {
        if (frame.type === 'error') reject(new Error(`storm write refused: ${JSON.stringify(frame.data)}`));
        if (frame.type !== 'message-ack') return;
        const seq = (frame.data as { seqId: number }).seqId;
        lastAcked.set(conversation.id, Math.max(seq, lastAcked.get(conversation.id) ?? 0));
        if (++acked === count) resolve();
      };
      for (let i = 0; i < count; i++) socket.send(sendFrame(conversation.id, `storm ${i}`, `w${w}-${writeCounter++}`));
    });
  const writeAll = (count: number) => Promise.all(writers.map((_, w) => write(w, count)));
  const setupSec = (performance.now() - setupStart) / 1000;

  await writeAll(5);
  await waitFor(() => clients.every((c) => c.lastSeq === lastAcked.get(c.conversationId)), 10_000);
  clients.forEach((c) => c.socket!.terminate());
  await Promise.all(clients.map((c) => c.socket!.closed));
  await writeAll(params.stormMissed);

  // Live traffic continues during the storm: one message per group every 100 ms.
  let talking = true;
  const talk = (async () => {
    while (talking) {
      await Promise.all([writeAll(1), sleep(100)]);
    }
  })();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  let catchUpPages = 0;
  let errors = 0;
  await ctx.mark('storm-start');
  const stormStart = performance.now();
  await Promise.all(
    clients.map(async (c) => {
      const from = c.lastSeq;
      for (let attempt = 0; ; attempt++) {
        try {
          c.attach(await target.connect(c.user));
          break;
        } catch (err) {
          errors++;
          if (attempt > 20) throw err;
          await sleep(50 * 2 ** Math.min(attempt, 5) * Math.random());
        }
      }
      let after = from;
      for (;;) {
        const url = new URL(`/api/conversations/${c.conversationId}/messages?afterSeq=${after}&size=100`, target.baseUrl);
        const answer = await get(agent, url, c.user.token);
        if (answer.status !== 200) {
          errors++;
          await sleep(50);
          continue;
        }
        catchUpPages++;
        const page = JSON.parse(answer.body) as { data: Array<{ seqId: number }>; pagination: { hasMore: boolean } };
        for (const m of page.data) {
          if (c.fetched.has(m.seqId)) c.duplicates++;
          c.fetched.add(m.seqId);
          after = Math.max(after, m.seqId);
        }
        if (!page.pagination.hasMore) break;
      }
      c.doneAt = performance.now();
    }),
  );
  const stormMs = Math.max(...clients.map((c) => c.doneAt)) - stormStart;
  await ctx.mark('storm-end');
  talking = false;
  await talk;
  await waitFor(() => clients.every((c) => c.lastSeq === lastAcked.get(c.conversationId)), 10_000);
  agent.destroy();

  let missing = 0;
  let duplicates = 0;
  let caughtUp = 0;
  for (const c of clients) {
    const last = lastAcked.get(c.conversationId) ?? 0;
    let gaps = 0;
    for (let s = 1; s <= last; s++) if (!c.seen(s)) gaps++;
    missing += gaps;
    duplicates += c.duplicates;
    if (gaps === 0) caughtUp++;
    c.socket?.terminate();
  }
  writers.forEach((w) => w.terminate());
  return {
    figures: { clients: clients.length, stormMs, caughtUp, missing, duplicates, catchUpPages, errors, setupSec },
    window: ['storm-start', 'storm-end'],
  };
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

export const SCENARIOS = { a: scenarioA, b: scenarioB, c: scenarioC, d: scenarioD, e: scenarioE, f: scenarioF, ...ROOM_SCENARIOS, ...REACTION_SCENARIOS } as const;
