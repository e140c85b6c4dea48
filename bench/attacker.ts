/**
 * The attacker of an attack scenario: a process of its own, forked by the load generator, so
 * its busy loops never delay the normal users' clocks. It talks to the server on loopback from
 * 127.0.0.1 only (the normal users come from other 127.0.0.x addresses), sets up when given
 * its job, attacks on `go`, and stops on `stop` or by itself `maxAttackMs` after `go`,
 * whichever comes first; it also leaves when the load generator goes away.
 *
 * Every count covers the attack only (from `go` to the stop), never the setup.
 */
import http from 'node:http';
import net from 'node:net';
import { mustJson, requestJson } from './http-client.js';
import { openSocket, UpgradeRefused, type BenchSocket, type IncomingFrame } from './target.js';
import type { AttackerFigures, AttackJob, FromAttacker, ToAttacker } from './types.js';

/** The attacker's source address; normal users connect from other loopback addresses. */
export const ATTACKER_ADDRESS = '127.0.0.1';
/** How long an attacking client waits before it tries again after a refused or closed connection. */
const RETRY_MS = 50;
/** HTTP requests of the attacker give up after this long (a timeout counts as a failure). */
const REQUEST_TIMEOUT_MS = 10_000;
/** disk-fill: sends kept outstanding on the attacker's socket (the server's own cap is 512). */
const DISK_FILL_IN_FLIGHT = 64;
/** disk-fill: characters per message, the server's default maximum. */
const DISK_FILL_CHARS = 4000;
/** slow-bodies: the Content-Length each slow request announces (never reached at 1 byte/s). */
const SLOW_BODY_LENGTH = 1024;
/**
 * ping-flood: a socket writes up to PING_BURST pings a turn while less than PING_QUEUE_BYTES
 * wait unsent. (Writes the kernel takes at once never queue, so the burst bounds the turn.)
 */
const PING_QUEUE_BYTES = 64 * 1024;
const PING_BURST = 500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts of one attack; `outcomes` says what the refusals and failures were. */
class Tally {
  attempts = 0;
  accepted = 0;
  refusals = 0;
  failures = 0;
  bytesAccepted = 0;
  readonly outcomes: Record<string, number> = {};

  refuse(kind: string): void {
    this.refusals++;
    this.note(kind);
  }

  fail(kind: string): void {
    this.failures++;
    this.note(kind);
  }

  note(kind: string): void {
    this.outcomes[kind] = (this.outcomes[kind] ?? 0) + 1;
  }

  /** An HTTP answer: `served` statuses were done as asked; 429 and 503 are a defence saying no. */
  http(status: number, served: (status: number) => boolean = (s) => s >= 200 && s < 300): void {
    if (served(status)) this.accepted++;
    else if (status === 429 || status === 503) this.refuse(`http ${status}`);
    else this.fail(`http ${status}`);
  }

  /** A request that got no answer at all. */
  lost(err: unknown): void {
    this.fail(networkKind(err));
  }

  /** A WebSocket that ended: a 4002 (too many frames) or 4503 (too many sockets) close is a refusal. */
  closed(code: number): void {
    if (code === 4002 || code === 4503 || code === 1013) this.refuse(`close ${code}`);
    else this.fail(`close ${code}`);
  }

  /** An upgrade that did not become a socket. */
  upgradeFailed(err: unknown): void {
    if (err instanceof UpgradeRefused && (err.status === 429 || err.status === 503)) this.refuse(`upgrade ${err.status}`);
    else if (err instanceof UpgradeRefused) this.fail(`upgrade ${err.status}`);
    else this.fail(networkKind(err));
  }

  figures(seconds: number): AttackerFigures {
    const out: AttackerFigures = {
      seconds,
      attempts: this.attempts,
      accepted: this.accepted,
      refusals: this.refusals,
      failures: this.failures,
      acceptedPerSec: seconds > 0 ? this.accepted / seconds : 0,
      outcomes: { ...this.outcomes },
    };
    if (this.bytesAccepted > 0) out.bytesAcceptedPerSec = this.bytesAccepted / seconds;
    return out;
  }
}

function networkKind(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code.toLowerCase();
  return err instanceof Error && err.message === 'timeout' ? 'timeout' : 'network error';
}

interface AttackContext {
  job: AttackJob;
  tally: Tally;
  running(): boolean;
  /** Keep-alive connections from the attacker's address, at most `attackConcurrency` of them. */
  agent: http.Agent;
}

interface Attack {
  /** Starts the attack once the load generator says go; resolves when it is at full strength. */
  start(): Promise<void>;
  /** Resolves when every loop has ended and every socket is closed. */
  stop(): Promise<void>;
}

type AttackSetup = (ctx: AttackContext) => Promise<Attack>;

/** An attack that is `attackConcurrency` copies of one loop, started together and awaited at stop. */
function loopingAttack(ctx: AttackContext, loop: () => Promise<void>): Attack {
  let all: Promise<void[]> = Promise.resolve([]);
  return {
    start: async () => {
      all = loops(ctx.job.params.attackConcurrency, loop);
    },
    stop: async () => {
      await all;
    },
  };
}

function post<T>(ctx: AttackContext, path: string, body: unknown, token?: string) {
  return requestJson<T>(ctx.job.baseUrl, 'POST', path, {
    body,
    ...(token ? { token } : {}),
    localAddress: ATTACKER_ADDRESS,
    agent: ctx.agent,
    timeoutMs: REQUEST_TIMEOUT_MS,
  });
}

async function guest(ctx: AttackContext, name: string): Promise<string> {
  const auth = await mustJson<{ token: string }>(ctx.job.baseUrl, 'POST', '/api/auth/guest', { body: { guestName: name }, localAddress: ATTACKER_ADDRESS });
  return auth.token;
}

async function worldConversationId(ctx: AttackContext, token: string): Promise<string | undefined> {
  const list = await requestJson<Array<{ conversationId: string; type: string }>>(ctx.job.baseUrl, 'GET', '/api/conversations', {
    token,
    localAddress: ATTACKER_ADDRESS,
    agent: ctx.agent,
    timeoutMs: REQUEST_TIMEOUT_MS,
  });
  return list.data?.find((c) => c.type === 'world')?.conversationId;
}

function socketUrl(ctx: AttackContext, token: string): string {
  return `${ctx.job.wsUrl}?token=${encodeURIComponent(token)}`;
}

/** Runs `count` copies of `loop` until the attack stops. */
function loops(count: number, loop: (slot: number) => Promise<void>): Promise<void[]> {
  return Promise.all(Array.from({ length: count }, (_, slot) => loop(slot)));
}

/**
 * ping-flood: `pingSockets` sockets of one guest write `{"type":"ping"}` as fast as their
 * socket takes it; a closed socket reconnects (after RETRY_MS) with the same token.
 */
const pingFlood: AttackSetup = async (ctx) => {
  const token = await guest(ctx, `p${ctx.job.runTag}`);
  const sockets = new Set<BenchSocket>();
  let all: Promise<void[]> = Promise.resolve([]);
  let connectedOnce = 0;
  let resolveStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => (resolveStarted = resolve));
  const flood = async () => {
    let first = true;
    while (ctx.running()) {
      let socket: BenchSocket;
      try {
        socket = await openSocket(socketUrl(ctx, token), ATTACKER_ADDRESS);
      } catch (err) {
        ctx.tally.upgradeFailed(err);
        await sleep(RETRY_MS);
        continue;
      } finally {
        if (first && ++connectedOnce === ctx.job.params.pingSockets) resolveStarted();
        first = false;
      }
      sockets.add(socket);
      socket.onFrame = (frame: IncomingFrame) => {
        if (frame.type === 'pong') ctx.tally.accepted++;
        else if (frame.type === 'error') ctx.tally.refuse(`frame ${String(frame.data?.code)}`);
      };
      const pump = () => {
        if (!socket.isOpen || !ctx.running()) return;
        for (let i = 0; i < PING_BURST && socket.ws.bufferedAmount < PING_QUEUE_BYTES && socket.isOpen; i++) {
          socket.ws.send('{"type":"ping"}');
          ctx.tally.attempts++;
        }
        setImmediate(pump);
      };
      pump();
      const code = await socket.closed;
      sockets.delete(socket);
      if (ctx.running()) {
        ctx.tally.closed(code);
        await sleep(RETRY_MS);
      }
    }
  };
  return {
    start: async () => {
      all = loops(ctx.job.params.pingSockets, flood);
      await started;
    },
    stop: async () => {
      for (const s of sockets) s.terminate();
      await all;
    },
  };
};

/**
 * slow-bodies: `slowBodies` connections each send a POST's headers with a Content-Length and
 * then one byte of body per second. A connection the server ends (with an answer or without)
 * is a refusal; the attacker opens another in its place a second later, keeping the count up.
 */
const slowBodies: AttackSetup = async (ctx) => {
  const { host, port } = new URL(ctx.job.baseUrl);
  const open = new Set<net.Socket>();
  const head =
    `POST /api/auth/login HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${SLOW_BODY_LENGTH}\r\n\r\n{`;
  const connectOnce = () =>
    new Promise<boolean>((resolve) => {
      ctx.tally.attempts++;
      const socket = net.connect({ host: '127.0.0.1', port: Number(port), localAddress: ATTACKER_ADDRESS });
      let connected = false;
      let answered = false;
      socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
      socket.once('connect', () => {
        connected = true;
        socket.setTimeout(0);
        open.add(socket);
        socket.write(head);
        resolve(true);
      });
      socket.on('data', (chunk: Buffer) => {
        if (answered) return;
        answered = true;
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(chunk.toString('latin1'))?.[1];
        ctx.tally.refuse(`answered ${status ?? '?'}`);
      });
      socket.on('error', (err) => {
        if (!connected) ctx.tally.fail(`connect ${networkKind(err)}`);
        else if (!answered && ctx.running()) {
          answered = true;
          ctx.tally.refuse(`dropped (${networkKind(err)})`);
        }
      });
      socket.on('close', () => {
        const wasOpen = open.delete(socket);
        if (!connected) return resolve(false);
        if (wasOpen && !answered && ctx.running()) ctx.tally.refuse('closed by server');
        // Keep the count up: another slow body in its place.
        if (ctx.running()) setTimeout(() => void connectOnce(), 1000);
      });
    });
  const dribble = setInterval(() => {
    for (const socket of open) socket.write(' ');
  }, 1000);
  dribble.unref();
  return {
    start: async () => {
      const slots = Array.from({ length: ctx.job.params.slowBodies }, (_, i) => i);
      let next = 0;
      // Open them 64 at a time, the way a script with a connection pool would.
      await loops(64, async () => {
        while (next < slots.length && ctx.running()) {
          next++;
          await connectOnce();
        }
      });
    },
    stop: async () => {
      clearInterval(dribble);
      ctx.tally.outcomes['held open at the end'] = open.size;
      for (const socket of open) socket.destroy();
    },
  };
};

/**
 * register-flood: `attackConcurrency` loops, each registering a new account and then logging
 * in to it with a wrong password (a second password hash), as fast as the answers come.
 */
const registerFlood: AttackSetup = async (ctx) => {
  let n = 0;
  const loop = async () => {
    while (ctx.running()) {
      const username = `r${ctx.job.runTag}${n++}`;
      ctx.tally.attempts++;
      await post(ctx, '/api/auth/register', { username, password: 'attack-password' }).then(
        (a) => ctx.tally.http(a.status),
        (err: unknown) => ctx.tally.lost(err),
      );
      if (!ctx.running()) break;
      ctx.tally.attempts++;
      // A wrong password is answered 401 after a full hash: served, as far as the server's cost goes.
      await post(ctx, '/api/auth/login', { username, password: 'wrong-password' }).then(
        (a) => ctx.tally.http(a.status, (s) => s === 401),
        (err: unknown) => ctx.tally.lost(err),
      );
    }
  };
  return loopingAttack(ctx, loop);
};

/** Sends one message and resolves with the answer's frame type and code (or a close). */
function sendAndWait(socket: BenchSocket, conversationId: string, content: string, tempMessageId: string, timeoutMs: number) {
  return new Promise<{ type: string; code?: string }>((resolve) => {
    const timer = setTimeout(() => resolve({ type: 'timeout' }), timeoutMs);
    socket.onFrame = (frame) => {
      if (frame.type !== 'message-ack' && frame.type !== 'error') return;
      clearTimeout(timer);
      resolve({ type: frame.type, code: String(frame.data?.code) });
    };
    void socket.closed.then((code) => {
      clearTimeout(timer);
      resolve({ type: 'close', code: String(code) });
    });
    socket.send(JSON.stringify({ type: 'send-message', data: { conversationId, content, messageType: 'text', tempMessageId } }));
  });
}

/**
 * world-room: `attackConcurrency` loops of "a new guest, its conversation list (for the world
 * room's id), a socket, one world message, wait for its ack, close".
 */
const worldRoom: AttackSetup = async (ctx) => {
  let n = 0;
  const loop = async () => {
    while (ctx.running()) {
      ctx.tally.attempts++;
      const auth = await post<{ token: string }>(ctx, '/api/auth/guest', { guestName: `w${ctx.job.runTag}${n++}` }).catch((err: unknown) => {
        ctx.tally.lost(err);
        return undefined;
      });
      if (!auth?.data) {
        if (auth) ctx.tally.http(auth.status);
        continue;
      }
      const worldId = await worldConversationId(ctx, auth.data.token).catch(() => undefined);
      if (!worldId) {
        ctx.tally.fail('no world room in the list');
        continue;
      }
      let socket: BenchSocket;
      try {
        socket = await openSocket(socketUrl(ctx, auth.data.token), ATTACKER_ADDRESS);
      } catch (err) {
        ctx.tally.upgradeFailed(err);
        continue;
      }
      const answer = await sendAndWait(socket, worldId, `hello world ${n}`, `w${n}`, REQUEST_TIMEOUT_MS);
      socket.terminate();
      if (answer.type === 'message-ack') ctx.tally.accepted++;
      else if (answer.type === 'error' && answer.code === 'RATE_LIMITED') ctx.tally.refuse('frame RATE_LIMITED');
      else if (answer.type === 'close') ctx.tally.closed(Number(answer.code));
      else ctx.tally.fail(answer.type === 'error' ? `frame ${answer.code}` : answer.type);
    }
  };
  return loopingAttack(ctx, loop);
};

/**
 * disk-fill: one guest keeps DISK_FILL_IN_FLIGHT sends of DISK_FILL_CHARS characters
 * outstanding into the world room, sending the next the moment any answer comes; a closed
 * socket reconnects (after RETRY_MS) with the same token.
 */
const diskFill: AttackSetup = async (ctx) => {
  const token = await guest(ctx, `d${ctx.job.runTag}`);
  const worldId = await worldConversationId(ctx, token);
  if (!worldId) throw new Error('disk-fill: the guest has no world room (GOCHAT_WORLD_ROOM off?)');
  const content = 'x'.repeat(DISK_FILL_CHARS);
  let current: BenchSocket | undefined;
  let n = 0;
  const fill = async () => {
    while (ctx.running()) {
      let socket: BenchSocket;
      try {
        socket = await openSocket(socketUrl(ctx, token), ATTACKER_ADDRESS);
      } catch (err) {
        ctx.tally.upgradeFailed(err);
        await sleep(RETRY_MS);
        continue;
      }
      current = socket;
      let outstanding = 0;
      let lastAnswer = performance.now();
      const top = () => {
        while (outstanding < DISK_FILL_IN_FLIGHT && socket.isOpen && ctx.running()) {
          outstanding++;
          ctx.tally.attempts++;
          socket.send(JSON.stringify({ type: 'send-message', data: { conversationId: worldId, content, messageType: 'text', tempMessageId: `d${n++}` } }));
        }
      };
      socket.onFrame = (frame) => {
        if (frame.type !== 'message-ack' && frame.type !== 'error') return;
        outstanding--;
        lastAnswer = performance.now();
        if (frame.type === 'message-ack') {
          ctx.tally.accepted++;
          ctx.tally.bytesAccepted += DISK_FILL_CHARS;
        } else if (frame.data?.code === 'RATE_LIMITED') ctx.tally.refuse('frame RATE_LIMITED');
        else ctx.tally.fail(`frame ${String(frame.data?.code)}`);
        top();
      };
      // A server that drops sends without answering must not stall the attacker for good.
      const unstick = setInterval(() => {
        if (outstanding > 0 && performance.now() - lastAnswer > 1000) {
          ctx.tally.fail('unanswered sends');
          outstanding = 0;
          lastAnswer = performance.now();
          top();
        }
      }, 250);
      top();
      const code = await socket.closed;
      clearInterval(unstick);
      if (ctx.running()) {
        ctx.tally.closed(code);
        await sleep(RETRY_MS);
      }
    }
  };
  let all: Promise<void> = Promise.resolve();
  return {
    start: async () => {
      all = fill();
    },
    stop: async () => {
      current?.terminate();
      await all;
    },
  };
};

/**
 * group-spam: one registered user, `attackConcurrency` loops each creating a group that
 * contains the victim, as fast as the answers come.
 */
const groupSpam: AttackSetup = async (ctx) => {
  const credentials = { username: `g${ctx.job.runTag}`, password: 'attack-password' };
  await mustJson(ctx.job.baseUrl, 'POST', '/api/auth/register', { body: credentials, localAddress: ATTACKER_ADDRESS });
  const { token } = await mustJson<{ token: string }>(ctx.job.baseUrl, 'POST', '/api/auth/login', { body: credentials, localAddress: ATTACKER_ADDRESS });
  let n = 0;
  const loop = async () => {
    while (ctx.running()) {
      ctx.tally.attempts++;
      await post(ctx, '/api/groups', { groupName: `spam ${n++}`, members: [ctx.job.victimUserId] }, token).then(
        (a) => ctx.tally.http(a.status),
        (err: unknown) => ctx.tally.lost(err),
      );
    }
  };
  return loopingAttack(ctx, loop);
};

/** The control: the same process, windows and normal users, and no attack at all. */
const noAttack: AttackSetup = async () => ({ start: async () => {}, stop: async () => {} });

const ATTACKS: Record<AttackJob['attack'], AttackSetup> = {
  'no-attack': noAttack,
  'ping-flood': pingFlood,
  'slow-bodies': slowBodies,
  'register-flood': registerFlood,
  'world-room': worldRoom,
  'disk-fill': diskFill,
  'group-spam': groupSpam,
};

function send(message: FromAttacker): void {
  process.send!(message);
}

let job: AttackJob | undefined;
let attack: Attack | undefined;
let stopped = false;
let goAt = 0;
const tally = new Tally();
const agentOptions = { keepAlive: true, maxSockets: 64 };
const agent = new http.Agent(agentOptions);

async function finish(): Promise<void> {
  if (stopped) return;
  stopped = true;
  const seconds = goAt === 0 ? 0 : (performance.now() - goAt) / 1000;
  // Bounded: an attack whose loops hang on a dead server still reports.
  await Promise.race([attack?.stop(), sleep(5000)]);
  agent.destroy();
  send({ type: 'report', figures: tally.figures(seconds) });
  setTimeout(() => process.exit(0), 200);
}

process.on('disconnect', () => process.exit(0));
process.on('message', (message: ToAttacker) => {
  if (message.type === 'job') {
    job = message.job;
    const ctx: AttackContext = { job, tally, running: () => !stopped && goAt > 0, agent };
    agent.maxSockets = Math.max(job.params.attackConcurrency, 1);
    ATTACKS[job.attack](ctx).then(
      (a) => {
        attack = a;
        send({ type: 'ready' });
      },
      (err: unknown) => {
        send({ type: 'failed', error: err instanceof Error ? err.message : String(err) });
        setTimeout(() => process.exit(1), 200);
      },
    );
  } else if (message.type === 'go' && attack && job) {
    goAt = performance.now();
    // The attacker's own bound: it stops even if the load generator never says so.
    setTimeout(() => void finish(), job.maxAttackMs).unref();
    void attack.start().then(() => send({ type: 'attacking' }));
  } else if (message.type === 'stop') void finish();
});
