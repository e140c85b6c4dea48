/**
 * The reaction storm: one group of `reactionMembers` members, every one connected over WebSocket.
 *
 * 1. Messages: `roomSenders` members send `reactionMessageRate` messages per second each for
 *    `warmupSec` + `reactionMessageSec`; the window's server CPU per delivery is the yardstick.
 * 2. The storm: every member reacts once to ONE message (the run's first), with one of a few
 *    emojis in turn, by `PUT /api/messages/{id}/reactions/{emoji}` with its own token, spread
 *    evenly over `reactionSpreadSec`, at most `reactionConcurrency` requests in flight. Each
 *    reaction is one `conversation-update` frame to every member's socket, the reactor's own
 *    included: N reactions make N x N frames.
 * 3. It completes when every socket has every accepted reaction's frame, tracked by changeSeq per
 *    socket (no gaps, no duplicates, none below one already seen), and then checks convergence:
 *    the message's `reactions` summary in history equals the counts sent, and the conversation's
 *    changeSeq moved by exactly the number of reactions.
 *
 * GoChat only: the baseline relay has no reactions (nor any change cursor), so there is no relay
 * row. The storm's frames are read without a JSON.parse each (the changeSeq is picked out of the
 * frame's fixed head), so the load generator keeps up with the fan-out on a small machine; a few
 * auditor sockets parse every frame whole and check it is the change the bench made.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { createTempId } from '../sdk/index.js';
import { requestJson } from './http-client.js';
import { CONNECT_CONCURRENCY, MemberView, paceSenders, SOURCE_ADDRESSES } from './rooms.js';
import type { Context } from './scenarios.js';
import { Samples } from './stats.js';
import { GoChatTarget, openSocket, pool, type BenchSocket, type BenchUser, type IncomingFrame } from './target.js';
import { summary } from './tracker.js';
import type { BenchParams, LoadResult, RunFigures } from './types.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Member i reacts with EMOJIS[i % 4]; `❤️` is the form the server stores and answers (with U+FE0F). */
export const EMOJIS = ['👍', '❤️', '😂', '🎉'] as const;
/** Every AUDIT_EVERY-th socket (socket 0 first) parses each reaction frame whole and checks it. */
const AUDIT_EVERY = 100;
/** How long the storm may take to converge after its last answer before the run gives up waiting. */
const CONVERGE_TIMEOUT_MS = 60_000;

interface ReactionMessage {
  at: number;
  sender: number;
  seq: number;
  messageId: string;
  /** Distinct connections that received it. */
  delivered: number;
  state: 'pending' | 'acked' | 'error';
}

interface WireMessage {
  messageId: string;
  seqId: number;
  reactions?: Array<{ emoji: string; count: number }>;
  myReactions?: string[];
}

interface ChangeFrame {
  type: string;
  data: {
    conversationId: string;
    fromChangeSeq: number;
    changeSeq: number;
    items: Array<{ changeSeq: number; kind: string; seqId: number; message: WireMessage; reaction?: { userId: string; emoji: string; added: boolean } }>;
  };
}

/** Reads the decimal integer at `at` in `raw`; `end` is the index after its last digit (-1: none there). */
function digitsAt(raw: Buffer, at: number): { value: number; end: number } {
  let value = 0;
  let k = at;
  for (; k < raw.length; k++) {
    const b = raw[k]!;
    if (b < 0x30 || b > 0x39) break;
    value = value * 10 + (b - 0x30);
  }
  return { value, end: k > at ? k : -1 };
}

/**
 * The changeSeq of a `conversation-update` frame of `head`'s conversation, or undefined when the
 * frame is not one (another type, another conversation); `wrong` when it is one whose
 * `fromChangeSeq` differs from its `changeSeq` (a message action's frame carries one change).
 * The server writes the frame as JSON.stringify of {type, data: {conversationId, fromChangeSeq,
 * changeSeq, items}}, so the head is fixed bytes.
 */
export function changeSeqOf(raw: Buffer, head: Buffer, middle: Buffer): number | 'wrong' | undefined {
  if (raw.length <= head.length || raw.compare(head, 0, head.length, 0, head.length) !== 0) return undefined;
  const from = digitsAt(raw, head.length);
  if (from.end < 0 || raw.compare(middle, 0, middle.length, from.end, from.end + middle.length) !== 0) return 'wrong';
  const to = digitsAt(raw, from.end + middle.length);
  if (to.end < 0 || to.value !== from.value) return 'wrong';
  return to.value;
}

/** See the module comment. */
async function reactionStorm(ctx: Context): Promise<LoadResult> {
  if (!(ctx.target instanceof GoChatTarget)) throw new Error('reaction-storm runs on GoChat only: the relay has no reactions');
  const target = ctx.target;
  const { params } = ctx.job;
  const baseUrls = ctx.job.gateways?.baseUrls.length ? ctx.job.gateways.baseUrls : [ctx.job.baseUrl];
  const wsUrls = ctx.job.gateways?.wsUrls.length ? ctx.job.gateways.wsUrls : [ctx.job.wsUrl];

  // ---- setup: the members, the group, every member's socket ----
  const setupStart = performance.now();
  const [owner] = await target.users(1, 1);
  const others = await target.users(params.reactionMembers - 1, 0);
  const roomId = await target.group(owner!, others);
  const users: BenchUser[] = [owner!, ...others];
  users.forEach((u, i) => (u.index = i));
  ctx.log(`${users.length} users and the group after ${((performance.now() - setupStart) / 1000).toFixed(1)} s`);
  // Member i connects to gateway i % n (the cluster): each frame then leaves from every gateway.
  const sockets = await pool(users, CONNECT_CONCURRENCY, (u, i) =>
    openSocket(`${wsUrls[i % wsUrls.length]}?token=${encodeURIComponent(u.token)}`, SOURCE_ADDRESSES[i % SOURCE_ADDRESSES.length]),
  );
  // One frame each after the last connect: the first sockets must not reach the idle timeout during a long setup.
  for (const socket of sockets) socket.send('{"type":"ping"}');
  const setupSec = (performance.now() - setupStart) / 1000;
  const n = sockets.length;
  ctx.log(`${n} connections in the room after ${setupSec.toFixed(1)} s`);
  const userIndex = new Map(users.map((u) => [u.userId, u.index]));

  // ---- what every socket receives ----
  const messages = new Map<string, ReactionMessage>();
  const messageViews = sockets.map(() => new MemberView());
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

  /**
   * Set as the storm begins: `base` is the conversation's changeSeq before it (unset: no reaction
   * frame is due yet), `target` the message reacted to; `expectedChanges` once the last request
   * has its answer (convergence is then checked on each frame).
   */
  const storm: { base?: number; target?: { messageId: string; seqId: number }; expectedChanges?: number } = {};
  const reactionViews = sockets.map(() => new MemberView());
  /** Per change (changeSeq - base): sockets that have its frame, when the last of them got it, whose reaction it was. */
  const socketsWithChange = new Uint32Array(n + 1);
  const lastFrameAt = new Float64Array(n + 1);
  const reactorOf = new Int32Array(n + 1).fill(-1);
  let framesDistinct = 0;
  let framesWrong = 0;
  let highestChange = 0;
  let converged: ((at: number) => void) | undefined;
  const isConverged = () => storm.expectedChanges !== undefined && framesDistinct >= Math.max(storm.expectedChanges, highestChange) * n;

  const head = Buffer.from(`{"type":"conversation-update","data":{"conversationId":${JSON.stringify(roomId)},"fromChangeSeq":`);
  const middle = Buffer.from(',"changeSeq":');

  /** An auditor's whole-frame check: the change is one reaction, added, to the target, by a member, with counts that add up. */
  const audit = (raw: Buffer, offset: number): boolean => {
    const frame = JSON.parse(raw.toString()) as ChangeFrame;
    const item = frame.data.items.length === 1 ? frame.data.items[0] : undefined;
    const reactor = item?.reaction ? userIndex.get(item.reaction.userId) : undefined;
    const targetMessage = storm.target;
    if (!item || !item.reaction || reactor === undefined || !targetMessage) return false;
    const total = (item.message.reactions ?? []).reduce((sum, r) => sum + r.count, 0);
    const ok =
      item.kind === 'message' &&
      item.changeSeq === frame.data.changeSeq &&
      item.seqId === targetMessage.seqId &&
      item.message.messageId === targetMessage.messageId &&
      item.reaction.added &&
      item.reaction.emoji === EMOJIS[reactor % EMOJIS.length] &&
      item.message.myReactions === undefined &&
      // Changes commit one at a time under the conversation's lock: the k-th carries k reactions.
      total === offset;
    if (!ok) return false;
    if (reactorOf[offset]! >= 0 && reactorOf[offset] !== reactor) return false;
    reactorOf[offset] = reactor;
    return true;
  };

  const onReactionFrame = (c: number, raw: Buffer, changeSeq: number | 'wrong', now: number) => {
    const offset = changeSeq === 'wrong' || storm.base === undefined ? -1 : changeSeq - storm.base;
    if (offset < 1 || offset > n) {
      framesWrong++;
      return;
    }
    if (c % AUDIT_EVERY === 0 && !audit(raw, offset)) framesWrong++;
    if (!reactionViews[c]!.receive(offset)) return;
    framesDistinct++;
    highestChange = Math.max(highestChange, offset);
    if (++socketsWithChange[offset]! === n) lastFrameAt[offset] = now;
    if (converged && isConverged()) converged(now);
  };

  const onOtherFrame = (c: number, frame: IncomingFrame, now: number) => {
    const data = (frame.data ?? {}) as Record<string, string | number>;
    if (frame.type === 'new-message') {
      const content = String(data.content);
      const message = data.conversationId === roomId ? messages.get(content.slice(0, content.indexOf('|'))) : undefined;
      if (!message || message.sender === c) {
        unexpected++;
        return;
      }
      if (!messageViews[c]!.receive(Number(data.seqId))) return;
      delivered++;
      if (inWindow(now)) deliveriesInWindow++;
      if (++message.delivered === n - 1 && inWindow(message.at)) lastDelivery.add(now - message.at);
    } else if (frame.type === 'message-ack' || frame.type === 'error') {
      const message = messages.get(String(data.tempMessageId));
      if (!message || message.state !== 'pending') return;
      if (frame.type === 'error') {
        message.state = 'error';
        errors++;
        return;
      }
      message.state = 'acked';
      message.seq = Number(data.seqId);
      message.messageId = String(data.messageId);
      acked++;
      if (inWindow(message.at)) ackLatency.add(now - message.at);
    } else if (frame.type === 'conversation-update') {
      // Another conversation's change, or one whose head is not what the server writes.
      framesWrong++;
    }
  };

  sockets.forEach((socket, c) => {
    socket.onRaw = (raw) => {
      const now = performance.now();
      const changeSeq = changeSeqOf(raw, head, middle);
      if (changeSeq !== undefined) onReactionFrame(c, raw, changeSeq, now);
      else onOtherFrame(c, JSON.parse(raw.toString()) as IncomingFrame, now);
    };
  });

  // ---- phase 1: messages ----
  const senders = Math.min(params.roomSenders, n);
  const padding = 'x'.repeat(params.contentChars);
  let sending = true;
  let firstKey = '';
  const counters = new Array<number>(senders).fill(0);
  const sendOne = (s: number) => {
    if (!sending) return;
    const key = params.tempIds === 'uuid' ? randomUUID() : params.tempIds === 'v7' ? createTempId() : `${s}-${counters[s]!++}`;
    const now = performance.now();
    messages.set(key, { at: now, sender: s, seq: 0, messageId: '', delivered: 0, state: 'pending' });
    firstKey ||= key;
    sent++;
    const text = `${key}|${now.toFixed(3)}|`;
    const content = text + padding.slice(text.length);
    sockets[s]!.send(JSON.stringify({ type: 'send-message', data: { conversationId: roomId, content, messageType: 'text', tempMessageId: key } }));
  };
  // Sender 0 (the owner) sends first, at once: that message is the one everybody reacts to.
  const timers = paceSenders(senders, params.reactionMessageRate, sendOne);
  await sleep(params.warmupSec * 1000);
  windowStart = performance.now();
  await ctx.mark('messages-start');
  await sleep(params.reactionMessageSec * 1000);
  windowEnd = performance.now();
  await ctx.mark('messages-end');
  sending = false;
  timers.forEach((t) => clearTimeout(t));
  await waitFor(() => acked + errors === sent && delivered >= acked * (n - 1), 10_000);

  const first = messages.get(firstKey);
  if (!first || first.state !== 'acked') throw new Error('the message to react to was not acked');
  const targetMessage = { messageId: first.messageId, seqId: first.seq };
  const conversationBefore = await target.request<{ changeSeq: number }>('GET', `/api/conversations/${roomId}`, undefined, owner!.token);
  const base = conversationBefore.changeSeq;
  Object.assign(storm, { base, target: targetMessage });

  // ---- phase 2: the storm ----
  const agent = new http.Agent({ keepAlive: true, maxSockets: params.reactionConcurrency });
  const sentAt = new Float64Array(n);
  const answerAt = new Float64Array(n);
  const accepted = new Uint8Array(n);
  const answerLatency = new Samples();
  let reactionsSent = 0;
  let reactionErrors = 0;
  const errorKinds = new Map<string, number>();
  const gapMs = (params.reactionSpreadSec * 1000) / n;
  await ctx.mark('storm-start');
  const stormStart = performance.now();
  const convergedAt = new Promise<number>((resolve) => (converged = resolve));
  let next = 0;
  const react = async () => {
    while (next < n) {
      const i = next++;
      const wait = stormStart + i * gapMs - performance.now();
      if (wait >= 1) await sleep(wait);
      const emoji = EMOJIS[i % EMOJIS.length]!;
      const path = `/api/messages/${targetMessage.messageId}/reactions/${encodeURIComponent(emoji)}`;
      sentAt[i] = performance.now();
      reactionsSent++;
      let kind: string | undefined;
      try {
        const answer = await requestJson<WireMessage>(baseUrls[i % baseUrls.length]!, 'PUT', path, { token: users[i]!.token, agent, timeoutMs: 30_000 });
        answerAt[i] = performance.now();
        if (answer.status !== 200) kind = `http ${answer.status} ${answer.code ?? ''}`.trim();
        else if (!answer.data?.myReactions?.includes(emoji)) kind = 'answer without the reaction';
      } catch (err) {
        answerAt[i] = performance.now();
        kind = err instanceof Error ? err.message : String(err);
      }
      if (kind === undefined) {
        accepted[i] = 1;
        answerLatency.add(answerAt[i]! - sentAt[i]!);
      } else {
        reactionErrors++;
        errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(params.reactionConcurrency, n) }, react));
  agent.destroy();
  const acceptedCount = accepted.reduce((sum, a) => sum + a, 0);
  let lastAnswer = Number.NEGATIVE_INFINITY;
  let firstAccepted = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    if (!accepted[i]) continue;
    lastAnswer = Math.max(lastAnswer, answerAt[i]!);
    firstAccepted = Math.min(firstAccepted, sentAt[i]!);
  }
  storm.expectedChanges = acceptedCount;
  ctx.log(`${acceptedCount}/${n} reactions accepted in ${((performance.now() - stormStart) / 1000).toFixed(1)} s; ${framesDistinct}/${acceptedCount * n} frames in`);
  if (errorKinds.size > 0) ctx.log(`reaction errors: ${[...errorKinds].map(([k, v]) => `${k} x${v}`).join(', ')}`);
  let convergeAt: number | undefined;
  if (isConverged()) convergeAt = Math.max(...lastFrameAt.subarray(1, Math.max(acceptedCount, highestChange) + 1));
  else {
    const timer = setTimeout(() => converged?.(Number.NaN), CONVERGE_TIMEOUT_MS);
    convergeAt = await convergedAt;
    clearTimeout(timer);
  }
  await ctx.mark('storm-end');
  if (Number.isNaN(convergeAt)) ctx.log(`not converged ${CONVERGE_TIMEOUT_MS / 1000} s after the last answer: ${framesDistinct}/${acceptedCount * n} frames`);

  // ---- convergence: history and the change cursor ----
  const expectedCounts = new Map<string, number>();
  for (let i = 0; i < n; i++) if (accepted[i]) expectedCounts.set(EMOJIS[i % EMOJIS.length]!, (expectedCounts.get(EMOJIS[i % EMOJIS.length]!) ?? 0) + 1);
  const page = await target.request<WireMessage[]>('GET', `/api/conversations/${roomId}/messages?afterSeq=${targetMessage.seqId - 1}&size=1`, undefined, owner!.token);
  const stored = page.find((m) => m.messageId === targetMessage.messageId);
  const summaryOk =
    stored !== undefined &&
    (stored.reactions ?? []).length === expectedCounts.size &&
    (stored.reactions ?? []).every((r) => expectedCounts.get(r.emoji) === r.count);
  if (!summaryOk) ctx.log(`history's summary ${JSON.stringify(stored?.reactions)} != sent ${JSON.stringify([...expectedCounts])}`);
  const conversationAfter = await target.request<{ changeSeq: number }>('GET', `/api/conversations/${roomId}`, undefined, owner!.token);
  const changeSeqDelta = conversationAfter.changeSeq - base;

  // ---- the accounts ----
  const changes = Math.max(acceptedCount, highestChange);
  let framesLost = 0;
  let framesDuplicated = 0;
  let framesOutOfOrder = 0;
  let socketsWhole = 0;
  reactionViews.forEach((view) => {
    let gaps = 0;
    for (let k = 1; k <= changes; k++) if (!view.has(k)) gaps++;
    framesLost += gaps;
    framesDuplicated += view.duplicates;
    framesOutOfOrder += view.outOfOrder;
    if (gaps === 0 && view.duplicates === 0 && view.outOfOrder === 0) socketsWhole++;
  });
  const lastFrame = new Samples();
  for (let k = 1; k <= changes; k++) {
    const reactor = reactorOf[k]!;
    if (socketsWithChange[k] === n && reactor >= 0 && accepted[reactor]) lastFrame.add(lastFrameAt[k]! - answerAt[reactor]!);
  }
  let lostUnacked = 0;
  let lostUndelivered = 0;
  for (const m of messages.values()) {
    if (m.state === 'pending') lostUnacked++;
    else if (m.state === 'acked' && m.delivered < n - 1) lostUndelivered++;
  }
  let duplicateDeliveries = 0;
  let outOfOrder = 0;
  for (const view of messageViews) {
    duplicateDeliveries += view.duplicates;
    outOfOrder += view.outOfOrder;
  }
  const stillConnected = sockets.filter((s: BenchSocket) => s.isOpen).length;
  sockets.forEach((s) => s.terminate());
  if (unexpected > 0) ctx.log(`${unexpected} unexpected deliveries`);

  const figures: RunFigures = {
    members: n,
    stillConnected,
    socketsWhole,
    deliveriesPerSec: deliveriesInWindow / ((windowEnd - windowStart) / 1000),
    ackLatencyMs: summary(ackLatency.percentiles()),
    lastDeliveryLatencyMs: summary(lastDelivery.percentiles()),
    sent,
    acked,
    delivered,
    errors,
    lostUnacked,
    lostUndelivered: lostUndelivered + unexpected,
    duplicateDeliveries,
    outOfOrder,
    reactionsSent,
    reactionsAccepted: acceptedCount,
    reactionErrors,
    reactionsPerSec: acceptedCount > 0 ? acceptedCount / ((lastAnswer - firstAccepted) / 1000) : 0,
    reactionAnswerMs: summary(answerLatency.percentiles()),
    reactionLastFrameMs: summary(lastFrame.percentiles()),
    convergeMs: convergeAt - lastAnswer,
    reactionFrames: framesDistinct,
    reactionFramesLost: framesLost,
    reactionFramesDuplicated: framesDuplicated,
    reactionFramesOutOfOrder: framesOutOfOrder,
    reactionFramesWrong: framesWrong,
    summaryConverged: summaryOk ? 1 : 0,
    changeSeqDelta,
    setupSec,
  };
  return {
    figures,
    window: ['messages-start', 'messages-end'],
    perDelivery: deliveriesInWindow,
    reactionWindow: ['storm-start', 'storm-end'],
    perReaction: acceptedCount,
    perReactionFrame: framesDistinct,
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

export const REACTION_SCENARIOS = { 'reaction-storm': reactionStorm } as const;

export const REACTION_TITLES = {
  'reaction-storm': (p: BenchParams) =>
    `reaction-storm: one group of ${p.reactionMembers}, all connected; ${p.roomSenders} senders at ${p.reactionMessageRate} msg/s for ${p.reactionMessageSec} s, then every member reacts to one message over ${p.reactionSpreadSec} s (${p.reactionConcurrency} PUTs in flight); GoChat only (the relay has no reactions)`,
} as const;

type Bar = { text: string; test: (g: number, ratio: number | undefined) => boolean };
type RowFn = (metric: string, pick: (f: RunFigures) => number | undefined, bar?: Bar, clusterBar?: Bar) => void;

/** The rows of the reaction storm; `row` is run.ts's row builder. The correctness bars hold for the cluster too. */
export function reactionRows(p: BenchParams, addRow: RowFn): void {
  const row = (metric: string, pick: (f: RunFigures) => number | undefined, bar?: Bar) => addRow(metric, pick, bar, bar);
  const zero = { text: '= 0', test: (g: number) => g === 0 };
  row('members connected', (f) => f.members);
  row('still connected at end', (f) => f.stillConnected);
  row('msg deliveries/s', (f) => f.deliveriesPerSec);
  row('msg ->last member p99 ms', (f) => f.lastDeliveryLatencyMs?.p99);
  row('server CPU us/msg delivery', (f) => f.serverCpuUsPerDelivery);
  row('reactions accepted', (f) => f.reactionsAccepted, { text: `= ${p.reactionMembers}`, test: (g) => g === p.reactionMembers });
  row('reactions/s accepted', (f) => f.reactionsPerSec);
  row('PUT->answer p50 ms', (f) => f.reactionAnswerMs?.p50);
  row('PUT->answer p99 ms', (f) => f.reactionAnswerMs?.p99);
  row('answer->last member p50 ms', (f) => f.reactionLastFrameMs?.p50);
  row('answer->last member p99 ms', (f) => f.reactionLastFrameMs?.p99);
  row('answer->last member max ms', (f) => f.reactionLastFrameMs?.max);
  row('converge ms after last', (f) => f.convergeMs);
  row('reaction frames', (f) => f.reactionFrames);
  row('sockets with every frame', (f) => f.socketsWhole);
  row('server CPU us/reaction', (f) => f.serverCpuUsPerReaction);
  row('server CPU us/reactn frame', (f) => f.serverCpuUsPerReactionFrame);
  row('  ratio frame/msg delivery', (f) => f.reactionFrameToDeliveryCpu);
  for (const kind of ['gateway', 'logic', 'task', 'postgres', 'redis']) row(`  ${kind} us/react frame`, (f) => f.reactionCpuByProcess?.[kind]?.usPerReactionFrame);
  row('server CPU kernel share', (f) => f.serverSysShareReactions);
  row('load generator CPU ms', (f) => f.loadgenCpuMsReactions);
  row('server RSS MB', (f) => f.serverRssMb);
  row('setup s', (f) => f.setupSec);
  row('history summary right', (f) => f.summaryConverged, { text: '= 1', test: (g) => g === 1 });
  row('changeSeq moved by', (f) => f.changeSeqDelta, { text: `= ${p.reactionMembers}`, test: (g) => g === p.reactionMembers });
  row('reaction errors (worst)', (f) => f.reactionErrors, zero);
  row('frames lost (worst run)', (f) => f.reactionFramesLost, zero);
  row('frames duplicated (worst)', (f) => f.reactionFramesDuplicated, zero);
  row('frames reordered (worst)', (f) => f.reactionFramesOutOfOrder, zero);
  row('frames wrong (worst run)', (f) => f.reactionFramesWrong, zero);
  row('msg errors (worst run)', (f) => f.errors, zero);
  row('msgs lost (worst run)', (f) => (f.lostUnacked ?? 0) + (f.lostUndelivered ?? 0), zero);
  row('msgs dup/out of order', (f) => (f.duplicateDeliveries ?? 0) + (f.outOfOrder ?? 0), zero);
}

export function reactionBrief(f: RunFigures): string {
  const fmt = (v: number | undefined, d = 1) => (typeof v === 'number' ? v.toFixed(d) : '-');
  return `${f.reactionsAccepted}/${f.reactionsSent} reactions, ${fmt(f.reactionsPerSec, 0)}/s, converged ${fmt(f.convergeMs, 0)} ms after the last, answer->last member p50 ${fmt(
    f.reactionLastFrameMs?.p50,
  )} p99 ${fmt(f.reactionLastFrameMs?.p99)} ms, ${fmt(f.serverCpuUsPerReactionFrame, 2)} us/reaction frame vs ${fmt(f.serverCpuUsPerDelivery, 2)} us/msg delivery (${fmt(
    f.reactionFrameToDeliveryCpu,
    2,
  )}x), frames lost ${f.reactionFramesLost} dup ${f.reactionFramesDuplicated} out of order ${f.reactionFramesOutOfOrder} wrong ${f.reactionFramesWrong}, summary ${f.summaryConverged ? 'right' : 'WRONG'}, changeSeq +${f.changeSeqDelta}`;
}
