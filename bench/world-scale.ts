/**
 * Micro-benchmark of the world room at scale (issue 10, item 7): with N members in the store and a
 * handful of connected sockets, what does a world send cost, and what does a join cost the first
 * world send after it? In-process (SQLite in memory, MemoryBus, the real WsGateway on loopback), so
 * the figures are the server's own CPU, not network or fsync time. It prints; it asserts nothing.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/world-scale.js [--members 20000] [--sockets 20] [--sends 200] [--joins 20]
 */
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pino from 'pino';
import WebSocket from 'ws';
import { SqliteRepo } from '../src/repo/sqlite/sqlite-repo.js';
import { MemoryBus } from '../src/bus/memory-bus.js';
import { Logic } from '../src/logic/logic.js';
import { WsGateway } from '../src/gateway/ws/ws-gateway.js';
import type { Session } from '../src/logic/api.js';
import { unlimitedLogicConfig } from '../test/helpers/logic-config.js';

const { values } = parseArgs({
  options: {
    members: { type: 'string', default: '20000' },
    sockets: { type: 'string', default: '20' },
    sends: { type: 'string', default: '200' },
    joins: { type: 'string', default: '20' },
  },
});
const MEMBERS = Number(values.members);
const SOCKETS = Number(values.sockets);
const SENDS = Number(values.sends);
const JOINS = Number(values.joins);

const log = pino({ level: 'silent' });
const repo = new SqliteRepo({ file: ':memory:' });
const bus = new MemoryBus();
const logic = new Logic(
  unlimitedLogicConfig({ maxGroupMembers: 2000 }),
  repo,
  bus,
  log,
);
const gateway = new WsGateway(
  {
    maxFrameBytes: 64 * 1024,
    idleTimeoutMs: 600_000,
    pingIntervalMs: 0,
    maxBufferedBytes: 64 * 1024 * 1024,
    maxSocketsPerUser: 100,
    frameRate: { limit: 0, windowMs: 1000 },
    framesPerUser: { limit: 0, windowMs: 1000 },
    framesPerIp: { limit: 0, windowMs: 1000 },
    maxSocketsPerIp: 0,
    trustProxy: false,
    refusalDelayMs: 0,
    maxInFlightSends: 512,
    instanceId: 'bench',
  },
  logic,
  bus,
  log,
);

/** CPU milliseconds (user + system) spent by this process while `work` runs. */
async function cpuMs(work: () => Promise<unknown>): Promise<number> {
  const start = process.cpuUsage();
  await work();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function main(): Promise<void> {
  const server = http.createServer();
  await gateway.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  process.stdout.write(`populating ${MEMBERS} world members... `);
  let worldId = '';
  for (let i = 0; i < MEMBERS; i++) {
    const user = await repo.createUser({ username: `member${i}`, passwordHash: 'x', isGuest: true });
    worldId = await repo.joinWorld(user.userId);
  }
  console.log('done');

  // Connected listeners: guests, so they are members of the world as well.
  let received = 0;
  const sockets: WebSocket[] = [];
  for (let i = 0; i < SOCKETS; i++) {
    const { token } = await logic.guest({ guestName: `listener${i}` }, { ip: '127.0.0.1' });
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${token}`);
    socket.on('message', () => received++);
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    sockets.push(socket);
  }
  const sender = await logic.guest({ guestName: 'sender' }, { ip: '127.0.0.1' });
  const session: Session = await logic.authenticate(sender.token);
  let temp = 0;
  const send = (as: Session) => logic.sendMessage(as, { conversationId: worldId, content: 'hello world', tempMessageId: `t${++temp}` });
  await send(session); // warm the caches

  const delay = monitorEventLoopDelay({ resolution: 1 });
  const expected = received + SENDS * SOCKETS;
  delay.enable();
  const sendCpu = await cpuMs(async () => {
    for (let i = 0; i < SENDS; i++) await send(session);
    while (received < expected) await new Promise((resolve) => setImmediate(resolve));
  });
  delay.disable();
  const sendLoopMaxMs = delay.max / 1e6;

  const joinCpu: number[] = [];
  const firstSendCpu: number[] = [];
  for (let i = 0; i < JOINS; i++) {
    let joined: Session | null = null;
    joinCpu.push(await cpuMs(async () => (joined = await logic.authenticate((await logic.guest({}, { ip: '127.0.0.1' })).token))));
    // An existing member's send right after the join: today it pays for reloading every member.
    firstSendCpu.push(await cpuMs(() => send(session)));
    await send(joined!);
  }

  console.log(
    JSON.stringify(
      {
        members: MEMBERS,
        connectedSockets: SOCKETS,
        worldSendCpuMs: +(sendCpu / SENDS).toFixed(3),
        worldSendLoopMaxMs: +sendLoopMaxMs.toFixed(1),
        joinCpuMsMedian: +median(joinCpu).toFixed(3),
        sendAfterJoinCpuMsMedian: +median(firstSendCpu).toFixed(3),
      },
      null,
      2,
    ),
  );
  for (const socket of sockets) socket.close();
  await logic.drain();
  await gateway.close();
  server.close();
  await bus.close();
  await repo.close();
}

await main();
