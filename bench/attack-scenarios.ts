/**
 * The attack scenarios of issue 10, run by the load generator against a GoChat started with
 * its public default limits. Each measures the same thing: normal users (registered, logged
 * in, one socket each, in 1:1 pairs, sending `normalRate` messages per second) and their
 * send->ack latency, first in a quiet window and then, in the same run on the same server,
 * in a window with one attack running. The attacker is a separate process (attacker.ts) on
 * 127.0.0.1; every normal user has its own loopback address, as distinct users on the
 * internet would, so per-IP limits tell them apart from the attacker.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTempId } from '../sdk/index.js';
import { mustJson, requestJson } from './http-client.js';
import type { Context } from './scenarios.js';
import { withFileLimit } from './servers.js';
import { Samples } from './stats.js';
import { openSocket, pool, type BenchSocket } from './target.js';
import { MessageTracker, summary } from './tracker.js';
import type { AttackerFigures, AttackId, AttackJob, FromAttacker, LoadResult, ProbeFigures, ProbeWindow, ToAttacker } from './types.js';

const ATTACKER_MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'attacker.js');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Normal users connect from 127.0.0.10 on; login-probe accounts from 127.0.0.100 on. */
const normalAddress = (i: number) => `127.0.0.${10 + i}`;
const proberAddress = (i: number) => `127.0.0.${100 + i}`;
/** register-flood: accounts a real user logs in with, round robin, one login every PROBE_MS. */
const LOGIN_PROBE_ACCOUNTS = 8;
const PROBE_MS = 500;
/** A probe request slower than this counts as failed (a user would have given up). */
const PROBE_TIMEOUT_MS = 5000;

interface NormalUser {
  userId: string;
  username: string;
  password: string;
  token: string;
  address: string;
}

async function registered(baseUrl: string, username: string, address: string): Promise<NormalUser> {
  const password = 'normal-user-password';
  await mustJson(baseUrl, 'POST', '/api/auth/register', { body: { username, password }, localAddress: address });
  const auth = await mustJson<{ token: string; user: { userId: string } }>(baseUrl, 'POST', '/api/auth/login', {
    body: { username, password },
    localAddress: address,
  });
  return { userId: auth.user.userId, username, password, token: auth.token, address };
}

type Phase = 'warmup' | 'quiet' | 'ramp' | 'attack';

/** The windows a figure is kept for; sends and probes in warm-up and ramp are not counted. */
const MEASURED = ['quiet', 'attack'] as const;
type Measured = (typeof MEASURED)[number];

/** Per-window latency and outcome counts of one kind of probe request. */
class Probe {
  private readonly windows = { quiet: { samples: new Samples(), ok: 0, failed: 0 }, attack: { samples: new Samples(), ok: 0, failed: 0 } };

  constructor(readonly name: string) {}

  record(phase: Phase, ms: number, ok: boolean): void {
    if (phase !== 'quiet' && phase !== 'attack') return;
    const w = this.windows[phase];
    if (ok) {
      w.ok++;
      w.samples.add(ms);
    } else w.failed++;
  }

  figures(): ProbeFigures {
    const window = (m: Measured): ProbeWindow => ({ latencyMs: summary(this.windows[m].samples.percentiles()), ok: this.windows[m].ok, failed: this.windows[m].failed });
    const quiet = window('quiet');
    const attack = window('attack');
    return { name: this.name, quiet, attack, p99Ratio: attack.latencyMs.p99 / quiet.latencyMs.p99 };
  }
}

/** The attacker process: forked, set up, started, stopped; never outlives the run. */
class AttackerProcess {
  private readonly child: ChildProcess;
  private readonly waiters = new Map<FromAttacker['type'], (m: FromAttacker) => void>();
  private failure: string | undefined;

  constructor(job: AttackJob) {
    // Slow bodies hold one descriptor each; leave room for the rest.
    const { command, args } = withFileLimit([ATTACKER_MAIN], job.params.slowBodies + 1024);
    this.child =
      command === process.execPath
        ? fork(ATTACKER_MAIN, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
        : fork(args.at(-1)!, [], { execPath: command, execArgv: args.slice(0, -1), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: FromAttacker) => {
      if (m.type === 'failed') this.failure = m.error;
      this.waiters.get(m.type)?.(m);
      if (m.type === 'failed') for (const w of this.waiters.values()) w(m);
    });
    this.child.once('exit', () => {
      this.failure ??= 'attacker exited';
      for (const w of this.waiters.values()) w({ type: 'failed', error: this.failure });
    });
    this.send({ type: 'job', job });
  }

  send(message: ToAttacker): void {
    if (this.child.connected) this.child.send(message);
  }

  /** Resolves on the attacker's next `type` message; rejects if it fails, exits or takes longer than `timeoutMs`. */
  next<K extends FromAttacker['type']>(type: K, timeoutMs: number): Promise<Extract<FromAttacker, { type: K }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`attacker: no ${type} in ${timeoutMs} ms`)), timeoutMs);
      this.waiters.set(type, (m) => {
        clearTimeout(timer);
        this.waiters.delete(type);
        if (m.type === 'failed' && type !== 'failed') reject(new Error(`attacker failed: ${m.error}`));
        else resolve(m as Extract<FromAttacker, { type: K }>);
      });
    });
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/**
 * One attack scenario: set up the normal users, start their traffic, warm up, measure the quiet
 * window, start the attack, measure the attack window, stop everything, compare.
 */
async function attackScenario(ctx: Context, attack: AttackId): Promise<LoadResult> {
  const { params, baseUrl, wsUrl, runTag } = ctx.job;
  const userCount = Math.max(2, params.normalUsers - (params.normalUsers % 2));
  const users = await pool(
    Array.from({ length: userCount }, (_, i) => i),
    4,
    (i) => registered(baseUrl, `n${runTag}_${i}`, normalAddress(i)),
  );
  const conversations = await pool(
    users.filter((_, i) => i % 2 === 0),
    4,
    (u, k) => mustJson<{ conversationId: string }>(baseUrl, 'POST', '/api/conversations', { body: { targetUserId: users[2 * k + 1]!.userId }, token: u.token, localAddress: u.address }),
  );
  const conversationOf = (i: number) => conversations[i >> 1]!.conversationId;
  const sockets = await pool(users, 4, (u) => openSocket(`${wsUrl}?token=${encodeURIComponent(u.token)}`, u.address));

  const probeAccounts =
    attack === 'register-flood'
      ? await pool(
          Array.from({ length: LOGIN_PROBE_ACCOUNTS }, (_, i) => i),
          4,
          (i) => registered(baseUrl, `l${runTag}_${i}`, proberAddress(i)),
        )
      : [];

  const attacker = new AttackerProcess({
    attack,
    baseUrl,
    wsUrl,
    params,
    runTag,
    victimUserId: users[0]!.userId,
    maxAttackMs: (params.attackWindowSec + 30) * 1000,
  });
  try {
    await attacker.next('ready', 60_000);
    return await measure(ctx, attack, { users, sockets, conversationOf, probeAccounts, attacker });
  } finally {
    attacker.kill();
    sockets.forEach((s) => s.terminate());
  }
}

interface Setup {
  users: NormalUser[];
  sockets: BenchSocket[];
  conversationOf: (i: number) => string;
  probeAccounts: NormalUser[];
  attacker: AttackerProcess;
}

async function measure(ctx: Context, attack: AttackId, setup: Setup): Promise<LoadResult> {
  const { params, baseUrl } = ctx.job;
  const { users, sockets, conversationOf, probeAccounts, attacker } = setup;
  let phase: Phase = 'warmup';
  // One tracker per window; a send's tempMessageId starts with its window's letter, so its ack
  // and delivery reach the tracker that knows it, whenever they arrive.
  const trackers: Record<Phase, MessageTracker> = {
    warmup: new MessageTracker(params.contentChars),
    quiet: new MessageTracker(params.contentChars),
    ramp: new MessageTracker(params.contentChars),
    attack: new MessageTracker(params.contentChars),
  };
  for (const t of Object.values(trackers)) t.windowStart = 0;
  const trackerOf = (key: string): MessageTracker | undefined =>
    ({ w: trackers.warmup, q: trackers.quiet, r: trackers.ramp, a: trackers.attack })[key[0] as 'w' | 'q' | 'r' | 'a'];
  let sending = true;

  sockets.forEach((socket) => {
    socket.onFrame = (frame) => {
      const data = frame.data as Record<string, string> | undefined;
      if (frame.type === 'new-message') {
        // The world room's traffic (disk-fill, world-room) reaches normal users too: not ours.
        const content = data?.content ?? '';
        const tracker = content.includes('|') ? trackerOf(content) : undefined;
        tracker?.delivery(content, performance.now());
      } else if (frame.type === 'message-ack') trackerOf(data?.tempMessageId ?? '')?.ack(data!.tempMessageId!, performance.now());
      else if (frame.type === 'error') trackerOf(data?.tempMessageId ?? '')?.error(data?.tempMessageId ?? '');
    };
  });
  const sendOne = (i: number) => {
    if (!sending) return;
    const tracker = trackers[phase];
    const key = `${phase[0]}${createTempId()}`;
    const content = tracker.content(key, 1, performance.now());
    sockets[i]!.send(JSON.stringify({ type: 'send-message', data: { conversationId: conversationOf(i), content, messageType: 'text', tempMessageId: key } }));
  };
  const timers: NodeJS.Timeout[] = [];
  const period = 1000 / params.normalRate;
  sockets.forEach((_, i) => {
    timers.push(
      setTimeout(() => {
        sendOne(i);
        timers.push(setInterval(() => sendOne(i), period));
      }, Math.random() * period),
    );
  });

  const probe = probeFor(attack, baseUrl, users[0]!, probeAccounts);
  let probing = true;
  const probeLoop = (async () => {
    if (!probe) return;
    for (let n = 0; probing; n++) {
      const asked = phase;
      const t0 = performance.now();
      const ok = await probe.once(n).catch(() => false);
      probe.probe.record(asked === phase ? asked : 'ramp', performance.now() - t0, ok);
      await sleep(PROBE_MS);
    }
  })();

  await sleep(params.warmupSec * 1000);
  phase = 'quiet';
  await ctx.mark('quiet-start');
  await sleep(params.attackWindowSec * 1000);
  phase = 'ramp';
  await ctx.mark('quiet-end');
  attacker.send({ type: 'go' });
  await attacker.next('attacking', 60_000);
  phase = 'attack';
  await ctx.mark('attack-start');
  await sleep(params.attackWindowSec * 1000);
  await ctx.mark('attack-end');
  phase = 'ramp';
  sending = false;
  probing = false;
  timers.forEach((t) => clearTimeout(t));
  attacker.send({ type: 'stop' });
  const attackerFigures: AttackerFigures | undefined = await attacker
    .next('report', 15_000)
    .then((m) => m.figures)
    .catch((err: unknown) => {
      ctx.log(`no attacker report: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    });
  await Promise.all(MEASURED.map((m) => trackers[m].settled(10_000)));
  await probeLoop;

  const conversationsAtEnd = attack === 'group-spam' ? await conversationList(baseUrl, users[0]!) : undefined;
  const quiet = trackers.quiet;
  const attacked = trackers.attack;
  const quietAck = summary(quiet.ackLatency.percentiles());
  const attackAck = summary(attacked.ackLatency.percentiles());
  const lossOf = (t: MessageTracker) => {
    const l = t.losses();
    return { unacked: l.unacked, undelivered: l.undelivered + t.unexpectedDeliveries };
  };
  const [lq, la] = [lossOf(quiet), lossOf(attacked)];
  return {
    figures: {
      quietAckMs: quietAck,
      attackAckMs: attackAck,
      ackP99Ratio: attackAck.p99 / quietAck.p99,
      sent: quiet.sentCount + attacked.sentCount,
      acked: quiet.ackedCount + attacked.ackedCount,
      errors: quiet.errorCount + attacked.errorCount,
      lostUnacked: lq.unacked + la.unacked,
      lostUndelivered: lq.undelivered + la.undelivered,
      ...(probe ? { probe: probe.probe.figures() } : {}),
      ...(attackerFigures ? { attacker: attackerFigures } : {}),
      ...(conversationsAtEnd ? { conversationsAtEnd } : {}),
    },
    phases: { quiet: ['quiet-start', 'quiet-end'], attack: ['attack-start', 'attack-end'] },
  };
}

/** The victim's unpaged conversation list: how long it took, how many entries, how many bytes. */
async function conversationList(baseUrl: string, user: NormalUser): Promise<{ entries: number; bytes: number; ms: number }> {
  const t0 = performance.now();
  const answer = await requestJson<unknown[]>(baseUrl, 'GET', '/api/conversations', { token: user.token, localAddress: user.address, timeoutMs: 30_000 });
  return { entries: answer.data?.length ?? 0, bytes: answer.bytes, ms: performance.now() - t0 };
}

/** The second thing a normal user does in a scenario, if any, and whether one try of it succeeded. */
function probeFor(attack: AttackId, baseUrl: string, victim: NormalUser, accounts: readonly NormalUser[]): { probe: Probe; once(n: number): Promise<boolean> } | undefined {
  if (attack === 'slow-bodies') {
    // A load balancer's health check: does a fresh connection still get an answer?
    return {
      probe: new Probe('GET /healthz'),
      once: async () => (await requestJson(baseUrl, 'GET', '/healthz', { localAddress: victim.address, timeoutMs: PROBE_TIMEOUT_MS })).status === 200,
    };
  }
  if (attack === 'register-flood') {
    return {
      probe: new Probe('real login'),
      once: async (n) => {
        const account = accounts[n % accounts.length]!;
        const answer = await requestJson(baseUrl, 'POST', '/api/auth/login', {
          body: { username: account.username, password: account.password },
          localAddress: account.address,
          timeoutMs: PROBE_TIMEOUT_MS,
        });
        return answer.status === 200;
      },
    };
  }
  if (attack === 'group-spam') {
    return {
      probe: new Probe('victim conversation list'),
      once: async () => (await requestJson(baseUrl, 'GET', '/api/conversations', { token: victim.token, localAddress: victim.address, timeoutMs: PROBE_TIMEOUT_MS })).status === 200,
    };
  }
  return undefined;
}

export const ATTACK_SCENARIOS: Record<AttackId, (ctx: Context) => Promise<LoadResult>> = {
  'no-attack': (ctx) => attackScenario(ctx, 'no-attack'),
  'ping-flood': (ctx) => attackScenario(ctx, 'ping-flood'),
  'slow-bodies': (ctx) => attackScenario(ctx, 'slow-bodies'),
  'register-flood': (ctx) => attackScenario(ctx, 'register-flood'),
  'world-room': (ctx) => attackScenario(ctx, 'world-room'),
  'disk-fill': (ctx) => attackScenario(ctx, 'disk-fill'),
  'group-spam': (ctx) => attackScenario(ctx, 'group-spam'),
};
