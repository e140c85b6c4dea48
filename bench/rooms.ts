/**
 * Large rooms (issue 12): (g) one group of `roomMembers` members, all connected, and (h) the world
 * room with `worldConnections` online connections; in both a few members (`roomSenders`,
 * `worldSenders`) send `roomRate` messages per second each. Every other connection must receive
 * every message exactly once and in seqId order; the latency that counts is from the send to the
 * LAST member's delivery.
 *
 * The relay enters the same room with `join` frames (`g1`, `world`). Sockets spread over a few
 * loopback source addresses, so no one source address runs short of ephemeral ports when other
 * benches share the machine. (`bench/world-scale.ts` measures the world send in-process against
 * a large stored membership; this is the end-to-end view with every member online.)
 */
import { randomUUID } from 'node:crypto';
import { createTempId } from '../sdk/index.js';
import type { Context } from './scenarios.js';
import { Samples } from './stats.js';
import { BenchSocket, GoChatTarget, openSocket, pool, type BenchUser, type IncomingFrame } from './target.js';
import { summary } from './tracker.js';
import type { BenchParams, LoadResult, RunFigures } from './types.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const CONNECT_CONCURRENCY = 128;
/** Loopback source addresses the members' sockets take in turn. */
export const SOURCE_ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];

interface RoomMessage {
  at: number;
  sender: number;
  seq: number;
  /** Distinct connections that received it. */
  delivered: number;
  state: 'pending' | 'acked' | 'error';
}

/**
 * Starts `senders` senders each calling `sendOne(s)` `ratePerSec` times a second, at evenly spread
 * phases (sender 0 at once); clear the timers returned (clearTimeout) to stop them.
 */
export function paceSenders(senders: number, ratePerSec: number, sendOne: (s: number) => void): NodeJS.Timeout[] {
  const timers: NodeJS.Timeout[] = [];
  const period = 1000 / ratePerSec;
  for (let s = 0; s < senders; s++) {
    timers.push(
      setTimeout(() => {
        sendOne(s);
        timers.push(setInterval(() => sendOne(s), period));
      }, (s / senders) * period),
    );
  }
  return timers;
}

/** What one member's connection has seen of the room, by seqId. */
export class MemberView {
  private seen = new Uint8Array(256);
  maxSeq = 0;
  duplicates = 0;
  outOfOrder = 0;

  /** Records a delivery; false when it is a duplicate. */
  receive(seq: number): boolean {
    if (seq >= this.seen.length) {
      const bigger = new Uint8Array(Math.max(seq + 1, this.seen.length * 2));
      bigger.set(this.seen);
      this.seen = bigger;
    }
    if (this.seen[seq]) {
      this.duplicates++;
      return false;
    }
    if (seq < this.maxSeq) this.outOfOrder++;
    this.seen[seq] = 1;
    this.maxSeq = Math.max(this.maxSeq, seq);
    return true;
  }

  has(seq: number): boolean {
    return seq < this.seen.length && this.seen[seq] === 1;
  }
}

/** A user's socket, entered into `roomId` (the relay's `join`; GoChat's membership is the server's). */
async function connectMember(ctx: Context, user: BenchUser, roomId: string, i: number): Promise<BenchSocket> {
  const address = SOURCE_ADDRESSES[i % SOURCE_ADDRESSES.length];
  if (ctx.target instanceof GoChatTarget) return openSocket(`${ctx.job.wsUrl}?token=${encodeURIComponent(user.token)}`, address);
  const socket = await openSocket(`${ctx.job.wsUrl}?userId=${user.userId}`, address);
  await new Promise<void>((resolve) => {
    socket.onFrame = (frame) => frame.type === 'joined' && resolve();
    socket.send(JSON.stringify({ type: 'join', data: { conversationId: roomId } }));
  });
  socket.onFrame = () => {};
  return socket;
}

/** The world room's id as a GoChat member sees it in its conversation list. */
async function worldId(target: GoChatTarget, user: BenchUser): Promise<string> {
  const list = await target.request<Array<{ conversationId: string; type: string }>>('GET', '/api/conversations', undefined, user.token);
  const world = list.find((c) => c.type === 'world');
  if (!world) throw new Error('no world conversation: is GOCHAT_WORLD_ROOM off?');
  return world.conversationId;
}

/** Senders talk, every connection checks what it receives; see the module comment. */
async function roomTraffic(ctx: Context, users: readonly BenchUser[], roomId: string, senders: number, setupStart: number): Promise<LoadResult> {
  const { params } = ctx.job;
  const sockets = await pool(users, CONNECT_CONCURRENCY, (u, i) => connectMember(ctx, u, roomId, i));
  // One frame each after the last connect: the first sockets must not reach the idle timeout during a long setup.
  for (const socket of sockets) socket.send('{"type":"ping"}');
  const setupSec = (performance.now() - setupStart) / 1000;
  ctx.log(`${sockets.length} connections in the room after ${setupSec.toFixed(1)} s`);

  const views = sockets.map(() => new MemberView());
  const messages = new Map<string, RoomMessage>();
  const expected = sockets.length - 1;
  const lastDelivery = new Samples();
  const ackLatency = new Samples();
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;
  const inWindow = (t: number) => t >= windowStart && t < windowEnd;
  let sent = 0;
  let acked = 0;
  let errors = 0;
  let delivered = 0;
  let deliveriesInWindow = 0;
  let unexpected = 0;
  /** Acks and deliveries still owed; the drain ends when it reaches 0. */
  let outstanding = 0;
  let settle: (() => void) | undefined;
  const settled = (n: number) => {
    outstanding -= n;
    if (outstanding <= 0) settle?.();
  };
  const padding = 'x'.repeat(params.contentChars);

  sockets.forEach((socket, c) => {
    socket.onFrame = (frame: IncomingFrame) => {
      const now = performance.now();
      const data = frame.data as Record<string, string | number>;
      if (frame.type === 'new-message') {
        const content = String(data.content);
        const message = data.conversationId === roomId ? messages.get(content.slice(0, content.indexOf('|'))) : undefined;
        if (!message || message.sender === c) {
          unexpected++;
          return;
        }
        if (!views[c]!.receive(Number(data.seqId))) return;
        delivered++;
        if (inWindow(now)) deliveriesInWindow++;
        if (++message.delivered === expected && inWindow(message.at)) lastDelivery.add(now - message.at);
        if (message.state === 'acked') settled(1);
      } else if (frame.type === 'message-ack' || frame.type === 'error') {
        const message = messages.get(String(data.tempMessageId));
        if (!message || message.state !== 'pending') return;
        if (frame.type === 'error') {
          message.state = 'error';
          errors++;
          settled(1 + expected);
          return;
        }
        message.state = 'acked';
        message.seq = Number(data.seqId);
        acked++;
        if (inWindow(message.at)) ackLatency.add(now - message.at);
        // Deliveries may overtake the ack: those already in are settled now.
        settled(1 + Math.min(message.delivered, expected));
      }
    };
  });

  let sending = true;
  const counters = new Array<number>(senders).fill(0);
  const sendOne = (s: number) => {
    if (!sending) return;
    const key = params.tempIds === 'uuid' ? randomUUID() : params.tempIds === 'v7' ? createTempId() : `${s}-${counters[s]!++}`;
    const now = performance.now();
    messages.set(key, { at: now, sender: s, seq: 0, delivered: 0, state: 'pending' });
    sent++;
    outstanding += 1 + expected;
    const head = `${key}|${now.toFixed(3)}|`;
    const content = head + padding.slice(head.length);
    sockets[s]!.send(JSON.stringify({ type: 'send-message', data: { conversationId: roomId, content, messageType: 'text', tempMessageId: key } }));
  };
  const timers = paceSenders(senders, params.roomRate, sendOne);

  await sleep(params.warmupSec * 1000);
  windowStart = performance.now();
  await ctx.mark('window-start');
  await sleep(params.durationSec * 1000);
  windowEnd = performance.now();
  await ctx.mark('window-end');
  sending = false;
  timers.forEach((t) => clearTimeout(t));
  // A delivery counted before its ack was settled with the ack; anything still owed waits here.
  if (outstanding > 0) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      settle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  let missing = 0;
  let membersWhole = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let lostUnacked = 0;
  let lostUndelivered = 0;
  const ackedMessages = [...messages.values()].filter((m) => m.state === 'acked');
  for (const m of messages.values()) {
    if (m.state === 'pending') lostUnacked++;
    else if (m.state === 'acked' && m.delivered < expected) lostUndelivered++;
  }
  views.forEach((view, c) => {
    let gaps = 0;
    for (const m of ackedMessages) if (m.sender !== c && !view.has(m.seq)) gaps++;
    missing += gaps;
    duplicates += view.duplicates;
    outOfOrder += view.outOfOrder;
    if (gaps === 0 && view.duplicates === 0 && view.outOfOrder === 0) membersWhole++;
  });
  const stillConnected = sockets.filter((s) => s.isOpen).length;
  sockets.forEach((s) => s.terminate());
  if (unexpected > 0) ctx.log(`${unexpected} unexpected deliveries`);
  const windowSec = (windowEnd - windowStart) / 1000;
  const figures: RunFigures = {
    members: sockets.length,
    membersWhole,
    stillConnected,
    deliveriesPerSec: deliveriesInWindow / windowSec,
    ackLatencyMs: summary(ackLatency.percentiles()),
    lastDeliveryLatencyMs: summary(lastDelivery.percentiles()),
    sent,
    acked,
    delivered,
    errors,
    lostUnacked,
    lostUndelivered: lostUndelivered + unexpected,
    missing,
    duplicates,
    outOfOrder,
    setupSec,
  };
  return { figures, window: ['window-start', 'window-end'], perDelivery: deliveriesInWindow };
}

/** (g) one group of `roomMembers` (a registered owner and guests), every member connected. */
async function scenarioG(ctx: Context): Promise<LoadResult> {
  const { params } = ctx.job;
  const setupStart = performance.now();
  const [owner] = await ctx.target.users(1, 1);
  const members = await ctx.target.users(params.roomMembers - 1, 0);
  const roomId = await ctx.target.group(owner!, members);
  ctx.log(`${params.roomMembers} users and the group after ${((performance.now() - setupStart) / 1000).toFixed(1)} s`);
  const users = [owner!, ...members];
  return roomTraffic(ctx, users, roomId, Math.min(params.roomSenders, users.length), setupStart);
}

/** (h) the world room with `worldConnections` guests online, each its own connection. */
async function scenarioH(ctx: Context): Promise<LoadResult> {
  const { params } = ctx.job;
  const setupStart = performance.now();
  const users = await ctx.target.users(params.worldConnections, 0);
  ctx.log(`${users.length} users after ${((performance.now() - setupStart) / 1000).toFixed(1)} s`);
  const roomId = ctx.target instanceof GoChatTarget ? await worldId(ctx.target, users[0]!) : 'world';
  return roomTraffic(ctx, users, roomId, Math.min(params.worldSenders, users.length), setupStart);
}

export const ROOM_SCENARIOS = { g: scenarioG, h: scenarioH } as const;

export const ROOM_TITLES = {
  g: (p: BenchParams) => `(g) one group of ${p.roomMembers}, all connected, ${p.roomSenders} senders at ${p.roomRate} msg/s each`,
  h: (p: BenchParams) => `(h) world room, ${p.worldConnections} connections, ${p.worldSenders} senders at ${p.roomRate} msg/s each`,
} as const;

type RowFn = (metric: string, pick: (f: RunFigures) => number | undefined, bar?: { text: string; test: (g: number, ratio: number | undefined) => boolean }) => void;

/** The rows of (g) and (h); `row` is run.ts's row builder. The CPU bar of issue 12 is on (g), embedded. */
export function roomRows(scenario: 'g' | 'h', row: RowFn): void {
  const zero = { text: '= 0', test: (g: number) => g === 0 };
  row('members connected', (f) => f.members);
  row('still connected at end', (f) => f.stillConnected);
  row('members with every msg', (f) => f.membersWhole);
  row('deliveries/s', (f) => f.deliveriesPerSec);
  row('send->ack p99 ms', (f) => f.ackLatencyMs?.p99);
  row('send->last member p50 ms', (f) => f.lastDeliveryLatencyMs?.p50);
  row('send->last member p99 ms', (f) => f.lastDeliveryLatencyMs?.p99);
  row('send->last member max ms', (f) => f.lastDeliveryLatencyMs?.max);
  row('server CPU us/delivery', (f) => f.serverCpuUsPerDelivery, scenario === 'g' ? { text: '<= 1.5x', test: (_g, r) => r !== undefined && r <= 1.5 } : undefined);
  row('server CPU kernel share', (f) => f.serverSysShare);
  row('server RSS MB', (f) => f.serverRssMb);
  row('load generator CPU ms', (f) => f.loadgenCpuMs);
  row('setup s', (f) => f.setupSec);
  row('errors (worst run)', (f) => f.errors, zero);
  row('lost (worst run)', (f) => (f.lostUnacked ?? 0) + (f.lostUndelivered ?? 0), zero);
  row('missing (worst run)', (f) => f.missing, zero);
  row('duplicates (worst run)', (f) => f.duplicates, zero);
  row('out of order (worst run)', (f) => f.outOfOrder, zero);
}

export function roomBrief(f: RunFigures): string {
  const fmt = (n: number | undefined, d = 1) => (typeof n === 'number' ? n.toFixed(d) : '-');
  return `${f.membersWhole}/${f.members} members whole, ${fmt(f.deliveriesPerSec, 0)} deliveries/s, last-member p99 ${fmt(f.lastDeliveryLatencyMs?.p99)} ms, ${fmt(
    f.serverCpuUsPerDelivery,
    2,
  )} us/delivery, missing ${f.missing}, dup ${f.duplicates}, out of order ${f.outOfOrder}, lost ${(f.lostUnacked ?? 0) + (f.lostUndelivered ?? 0)}, setup ${fmt(f.setupSec)} s`;
}
