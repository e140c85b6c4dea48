/**
 * `npm run bench`: for each scenario and run, starts a fresh baseline relay and a fresh GoChat
 * (embedded, temp data dir), drives each with a forked load generator, samples the server's
 * CPU and RSS from /proc at the load generator's marks, and prints medians with ratios.
 * `--help` lists the flags.
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuBetween, openFileLimits, sampleGroup, sampleProc, type GroupSample, type ProcSample } from './proc.js';
import { LOADGEN_MAIN, startCluster, startTarget, withFileLimit, type RunningCluster, type RunningServer } from './servers.js';
import { fmt, medianOf } from './stats.js';
import { ROOM_TITLES, roomBrief, roomRows } from './rooms.js';
import { REACTION_TITLES, reactionBrief, reactionRows } from './reactions.js';
import { growthUsage, runGrowth, takeGrowthFlags, type GrowthParams } from './growth.js';
import { attackRows, attackSummaryLine, printAttackSummary, printAttackTable, type AttackRow, type AttackSummary } from './attack-report.js';
import { ATTACK_IDS, REACTION_IDS, ROOM_IDS, isAttack, isReaction, isRoom, type BenchParams, type Verdict, type CapacityId, type ReactionId, type RoomId, type Job, type LoadResult, type RunFigures, type ScenarioId, type TargetKind, type ToLoadgen, type ToRunner } from './types.js';

const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/results');

const DEFAULTS: BenchParams = {
  warmupSec: 2,
  durationSec: 10,
  contentChars: 64,
  tempIds: 'v7',
  pairConnections: 200,
  inFlight: 8,
  groupConnections: 1000,
  groupSize: 50,
  groupRate: 1,
  latencyRateDivisor: 5,
  idleConnections: 10_000,
  idlePingSec: 5,
  historyMessages: 100_000,
  pageSize: 50,
  historyReaders: 32,
  stormClients: 2000,
  stormMissed: 20,
  roomMembers: 5000,
  worldConnections: 10_000,
  roomSenders: 5,
  // 2, not 5: at 5 x 10,000 deliveries/s the relay (one write per frame) needs most of a core here and falls seconds behind.
  worldSenders: 2,
  roomRate: 1,
  reactionMembers: 1000,
  reactionSpreadSec: 3,
  reactionConcurrency: 16,
  // 5 senders x 10 msg/s x 999 members: ~50,000 deliveries/s, enough CPU in 3 s for a steady per-delivery figure.
  reactionMessageRate: 10,
  reactionMessageSec: 3,
  // 10 users at 5/s in 20 s windows: 1,000 acks per window, so p99 is the 10th-worst sample. With
  // 10 s windows one or two 10-15 ms stalls decided it, and identical windows differed 0.5-5x.
  attackWindowSec: 20,
  normalUsers: 10,
  normalRate: 5,
  attackFds: 1024,
  pingSockets: 10,
  slowBodies: 1100,
  attackConcurrency: 8,
};

/** --quick: every scenario once, shorter and smaller; figures are indicative only. */
const QUICK: Partial<BenchParams> = {
  warmupSec: 1,
  durationSec: 4,
  attackWindowSec: 4,
  idleConnections: 2000,
  historyMessages: 20_000,
  stormClients: 500,
  roomMembers: 1000,
  worldConnections: 2000,
  reactionMembers: 500,
};

type NumericParam = { [K in keyof BenchParams]: BenchParams[K] extends number ? K : never }[keyof BenchParams];

const FLAGS: Record<string, { key: NumericParam; help: string }> = {
  '--warmup': { key: 'warmupSec', help: 'seconds of traffic before each measured window' },
  '--duration': { key: 'durationSec', help: 'seconds in each measured window (and (d) hold time)' },
  '--content': { key: 'contentChars', help: 'characters per message' },
  '--pairs': { key: 'pairConnections', help: '(a) connections, in 1:1 pairs' },
  '--in-flight': { key: 'inFlight', help: '(a) sends in flight per connection' },
  '--group-connections': { key: 'groupConnections', help: '(b)(c) connections' },
  '--group-size': { key: 'groupSize', help: '(b)(c)(f) members per group' },
  '--rate': { key: 'groupRate', help: '(b) messages per second per connection' },
  '--latency-divisor': { key: 'latencyRateDivisor', help: '(c) runs (b) at rate / this' },
  '--idle': { key: 'idleConnections', help: '(d) idle connections' },
  '--ping': { key: 'idlePingSec', help: '(d) seconds between pings per connection' },
  '--history': { key: 'historyMessages', help: '(e) messages in the conversation' },
  '--page-size': { key: 'pageSize', help: '(e) messages per page' },
  '--readers': { key: 'historyReaders', help: '(e) concurrent HTTP readers' },
  '--storm': { key: 'stormClients', help: '(f) clients that drop and reconnect' },
  '--missed': { key: 'stormMissed', help: '(f) messages per group while they are away' },
  '--room-members': { key: 'roomMembers', help: '(g) members of the one group, all connected' },
  '--world-connections': { key: 'worldConnections', help: '(h) connections in the world room' },
  '--room-senders': { key: 'roomSenders', help: '(g) members that send' },
  '--world-senders': { key: 'worldSenders', help: '(h) connections that send' },
  '--room-rate': { key: 'roomRate', help: '(g)(h) messages per second per sender' },
  '--reaction-members': { key: 'reactionMembers', help: 'reaction-storm: members of the one group, all connected, each reacting once' },
  '--reaction-spread': { key: 'reactionSpreadSec', help: 'reaction-storm: seconds the reactions are spread over' },
  '--reaction-concurrency': { key: 'reactionConcurrency', help: 'reaction-storm: reaction PUTs in flight at most' },
  '--reaction-msg-rate': { key: 'reactionMessageRate', help: 'reaction-storm: messages per second per sender (--room-senders of them) before the storm' },
  '--reaction-msg-window': { key: 'reactionMessageSec', help: 'reaction-storm: seconds of the measured message window before the storm' },
  '--attack-window': { key: 'attackWindowSec', help: 'attacks: seconds in each window (quiet, then attack)' },
  '--normal-users': { key: 'normalUsers', help: 'attacks: registered users in 1:1 pairs, measured' },
  '--normal-rate': { key: 'normalRate', help: 'attacks: messages per second per normal user' },
  '--attack-fds': { key: 'attackFds', help: 'attacks: the server\'s open-file limit, soft and hard (0: the runner\'s)' },
  '--ping-sockets': { key: 'pingSockets', help: 'ping-flood: sockets of the attacking guest' },
  '--slow-bodies': { key: 'slowBodies', help: 'slow-bodies: connections dribbling a body at 1 byte/s' },
  '--attack-concurrency': { key: 'attackConcurrency', help: 'register-flood, world-room, group-spam: requests in flight' },
};

const TITLES: Record<ScenarioId, (p: BenchParams) => string> = {
  a: (p) => `(a) 1:1, ${p.pairConnections} connections, closed loop, ${p.inFlight} in flight each`,
  b: (p) => `(b) groups of ${p.groupSize}, ${p.groupConnections} connections, ${p.groupRate} msg/s each`,
  c: (p) => `(c) unsaturated latency: (b) at ${p.groupRate / p.latencyRateDivisor} msg/s each`,
  d: (p) => `(d) ${p.idleConnections} idle authenticated connections, ping every ${p.idlePingSec} s`,
  e: (p) => `(e) history: pages of ${p.pageSize} from a conversation of ${p.historyMessages} messages, ${p.historyReaders} readers`,
  f: (p) => `(f) reconnect storm: ${p.stormClients} clients drop, ${p.stormMissed} messages each group missed, reconnect + catch up`,
  ...ROOM_TITLES,
  ...REACTION_TITLES,
  'no-attack': () => 'no-attack: the control; the attacker process runs and sends nothing (what two windows differ by alone)',
  'ping-flood': (p) => `ping-flood: ${p.pingSockets} sockets of one guest send pings as fast as they can`,
  'slow-bodies': (p) => `slow-bodies: ${p.slowBodies} connections dribble a POST body at 1 byte/s`,
  'register-flood': (p) => `register-flood: ${p.attackConcurrency} loops of register + wrong-password login from one IP`,
  'world-room': (p) => `world-room: ${p.attackConcurrency} loops of new guest + one world message`,
  'disk-fill': () => 'disk-fill: one guest sends 4,000-character world messages as fast as allowed',
  'group-spam': (p) => `group-spam: one user creates groups containing the victim, ${p.attackConcurrency} at a time`,
};

const CAPACITY_IDS: readonly CapacityId[] = ['a', 'b', 'c', 'd', 'e', 'f'];

/** Scenarios the relay cannot run: it stores nothing (no history to read or catch up from), and it has no defences to attack. */
const GOCHAT_ONLY: ReadonlySet<ScenarioId> = new Set<ScenarioId>(['e', 'f', ...REACTION_IDS, ...ATTACK_IDS]);

/** Attacks prove the embedded server's public defaults: the cluster does not run them. */
const NOT_ON_CLUSTER: ReadonlySet<ScenarioId> = new Set<ScenarioId>(ATTACK_IDS);

type Topology = 'embedded' | 'cluster';

interface Options {
  scenarios: ScenarioId[];
  runs: number;
  targets: TargetKind[];
  /** Which GoChat the `gochat` target means: the embedded server, the cluster, or both. */
  topologies: Topology[];
  params: BenchParams;
  profile: boolean;
  /** `--scenarios growth` (its own module, never in the default set) and its flags. */
  growth: GrowthParams | undefined;
}

function usage(): string {
  const lines = [
    'usage: npm run bench -- [--quick] [--scenarios a,b,c,d,e,f|rooms|reaction-storm|attack|all|<names>] [--runs 3] [--targets baseline,gochat] [--profile] [sizes]',
    '  --quick        every scenario once, 4 s windows, smaller (d)(e)(f); indicative only',
    `  --scenarios    default a-f; "rooms" runs the large rooms ${ROOM_IDS.join(', ')}; "attack" runs ${ATTACK_IDS.join(', ')}; "all" runs every one; or any list of them`,
    '                 reaction-storm (opt-in, GoChat only): one group, every member reacts to one message; CPU per reaction frame beside CPU per message delivery',
    '  --profile      run GoChat with --cpu-prof; profiles land in bench/results/profiles/',
    '  --topology     embedded (default: one process, SQLite), cluster (2 gateways, 2 logic, 1 task on PostgreSQL + Redis) or embedded,cluster',
    '  --temp-ids     v7 (default: the SDK\'s createTempId, time-ordered UUIDv7), uuid (random v4) or seq (<connection>-<n>)',
    ...Object.entries(FLAGS).map(([flag, { key, help }]) => `  ${flag.padEnd(20)} ${help} (default ${DEFAULTS[key]})`),
    '  --scenarios growth: cost as the store fills (bench/growth.ts), with:',
    ...growthUsage(),
  ];
  return lines.join('\n');
}

function parseArgs(allArgs: string[]): Options {
  const { params: growth, rest: argv } = takeGrowthFlags(allArgs);
  const options: Options = { scenarios: [...CAPACITY_IDS], runs: 3, targets: ['baseline', 'gochat'], topologies: ['embedded'], params: { ...DEFAULTS }, profile: false, growth: undefined };
  if (argv.includes('--quick')) {
    Object.assign(options.params, QUICK);
    options.runs = 1;
  }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--quick') continue;
    if (flag === '--help' || flag === '-h') {
      console.log(usage());
      process.exit(0);
    } else if (flag === '--profile') options.profile = true;
    else if (flag === '--runs') options.runs = Math.max(1, Number(value()));
    else if (flag === '--scenarios') {
      options.scenarios = value()
        .split(',')
        .map((s) => s.trim())
        .flatMap((s): ScenarioId[] => {
          if (s === 'attack') return [...ATTACK_IDS];
          if (s === 'rooms') return [...ROOM_IDS];
          if (s === 'all') return [...CAPACITY_IDS, ...ROOM_IDS, ...REACTION_IDS, ...ATTACK_IDS];
          if (s === 'growth') {
            options.growth = growth;
            return [];
          }
          if (!(s in TITLES)) throw new Error(`unknown scenario "${s}"`);
          return [s as ScenarioId];
        });
    } else if (flag === '--targets') options.targets = value().split(',') as TargetKind[];
    else if (flag === '--topology') {
      const list = value().split(',').map((t) => t.trim());
      if (list.length === 0 || list.some((t) => t !== 'embedded' && t !== 'cluster')) throw new Error('--topology is embedded, cluster or embedded,cluster');
      options.topologies = [...new Set(list as Topology[])];
    }
    else if (flag === '--temp-ids') {
      const style = value();
      if (style !== 'uuid' && style !== 'v7' && style !== 'seq') throw new Error('--temp-ids is uuid, v7 or seq');
      options.params.tempIds = style;
    }
    else if (FLAGS[flag]) {
      const n = Number(value());
      // --attack-fds 0 means "the runner's limit"; every other size must be positive.
      const zeroAllowed = FLAGS[flag].key === 'attackFds';
      if (!Number.isFinite(n) || n < 0 || (n === 0 && !zeroAllowed)) throw new Error(`${flag} must be a positive number`);
      options.params[FLAGS[flag].key] = n;
    } else throw new Error(`unknown flag ${flag}\n${usage()}`);
  }
  return options;
}

function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: os.availableParallelism(),
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: os.release(),
  };
}

/** One scenario on one target: fresh server, forked load generator, /proc samples at its marks. */
async function runOnce(scenario: ScenarioId, kind: TargetKind, options: Options, runTag: string): Promise<RunFigures> {
  const attack = isAttack(scenario);
  const fds = attack ? 1024 : Math.max(options.params.idleConnections, options.params.stormClients * 2, options.params.groupConnections, options.params.roomMembers, options.params.worldConnections, options.params.reactionMembers) + 1024;
  const profileDir = options.profile ? path.join(RESULTS_DIR, 'profiles') : undefined;
  // Attack scenarios prove the public defaults: no raised limits, the usual open-file limit.
  const cluster: RunningCluster | undefined = kind === 'cluster' ? await startCluster({ fds, ...(profileDir ? { profileDir } : {}) }) : undefined;
  if (cluster) runningClusters.add(cluster);
  let server: RunningServer | undefined;
  try {
    if (!cluster) {
      server = await startTarget(kind, {
        fds,
        ...(profileDir ? { profileDir } : {}),
        ...(attack ? { publicDefaults: true, openFileCap: options.params.attackFds } : {}),
      });
    }
  } catch (err) {
    await cluster?.stop();
    throw err;
  }
  const { command, args } = withFileLimit([LOADGEN_MAIN], fds);
  const loadgen =
    command === process.execPath
      ? fork(LOADGEN_MAIN, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      : fork(args.at(-1)!, [], { execPath: command, execArgv: args.slice(0, -1), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const samples = new Map<string, Sample>();
  const job: Job = cluster
    ? { scenario, target: kind, baseUrl: cluster.baseUrls[0]!, wsUrl: cluster.wsUrls[0]!, gateways: { baseUrls: cluster.baseUrls, wsUrls: cluster.wsUrls }, params: options.params, runTag }
    : { scenario, target: kind, baseUrl: server!.baseUrl, wsUrl: server!.wsUrl, params: options.params, runTag };
  try {
    const loaded = new Promise<LoadResult>((resolve, reject) => {
      const timeout = setTimeout(() => reject(new Error('load generator timed out')), 10 * 60_000);
      loadgen.on('message', (message: ToRunner) => {
        if (message.type === 'mark') {
          const sample: Sample = cluster
            ? clusterSample(cluster, loadgen.pid!)
            : { server: sampleProc(server!.pid), loadgen: sampleProc(loadgen.pid!), dataBytes: directoryBytes(server!.dataDir) };
          samples.set(message.name, sample);
          // The scrape comes after the /proc reading, so its own cost falls outside the window's CPU.
          const scrape = cluster ? commitCountsOf(cluster.logicMetricsUrls) : kind === 'gochat' ? commitCounts(server!.baseUrl) : Promise.resolve(undefined);
          void scrape.then((commits) => {
            if (commits) samples.set(message.name, { ...sample, commits });
            loadgen.send({ type: 'marked', name: message.name } satisfies ToLoadgen);
          });
        } else if (message.type === 'log') console.log(`    [${kind}] ${message.text}`);
        else if (message.type === 'result') {
          clearTimeout(timeout);
          resolve(message.result);
        } else if (message.type === 'failed') {
          clearTimeout(timeout);
          reject(new Error(message.error));
        }
      });
      loadgen.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)));
      loadgen.send({ type: 'job', job } satisfies ToLoadgen);
    });
    // A cluster process that dies fails the run at once; the finally still stops the rest.
    const result = await (cluster ? Promise.race([loaded, cluster.failed]) : loaded);
    return withServerFigures(result, samples);
  } finally {
    if (loadgen.exitCode === null) loadgen.kill('SIGKILL');
    await (cluster ?? server!).stop();
    if (cluster) runningClusters.delete(cluster);
  }
}

/** Clusters between start and stop: an interrupted bench still stops them and drops their databases. */
const runningClusters = new Set<RunningCluster>();

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`\n${signal}: stopping ${runningClusters.size} cluster(s) and dropping their databases`);
    void Promise.allSettled([...runningClusters].map((c) => c.stop())).then(() => process.exit(130));
  });
}

/**
 * The cluster at a mark: every process on the path read at once (see RunningCluster.pathProcesses),
 * and as `server` the GoChat processes summed, so the single-process figures (RSS) still apply.
 */
function clusterSample(cluster: RunningCluster, loadgenPid: number): Sample {
  const group = sampleGroup(cluster.pathProcesses());
  const own = [...group.parts.values()].filter((p) => p.kind !== 'postgres' && p.kind !== 'redis');
  const cpuUs = own.reduce((sum, p) => sum + p.cpuUs, 0);
  const sysUs = own.reduce((sum, p) => sum + p.sysUs, 0);
  const server: ProcSample = { at: group.at, cpuUs, sysUs, userUs: cpuUs - sysUs, rssKb: own.reduce((sum, p) => sum + p.rssKb, 0) };
  return { server, group, loadgen: sampleProc(loadgenPid), dataBytes: 0 };
}

/** `commitCounts` summed over the logic processes: each counts the sends it committed. */
async function commitCountsOf(urls: readonly string[]): Promise<CommitCounts | undefined> {
  const counts = await Promise.all(urls.map((url) => commitCounts(url.replace(/\/metrics$/, ''))));
  if (counts.length === 0 || counts.some((c) => c === undefined)) return undefined;
  return counts.reduce((sum, c) => ({ acked: sum!.acked + c!.acked, commits: sum!.commits + c!.commits }), { acked: 0, commits: 0 });
}

interface CommitCounts {
  acked: number;
  commits: number;
}

interface Sample {
  server: ProcSample;
  /** The cluster: every process on the path (GoChat's, PostgreSQL's, Redis), read at the same mark. */
  group?: GroupSample;
  loadgen: ProcSample;
  /** Bytes of the server's data directory (0 for the relay). */
  dataBytes: number;
  commits?: CommitCounts;
}

/** Total size of the files under `dir` (the SQLite database, its WAL and shared memory). */
function directoryBytes(dir: string): number {
  if (!dir) return 0;
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    try {
      total += fs.statSync(path.join(entry.parentPath, entry.name)).size;
    } catch {
      // removed between the listing and the stat (a WAL reset): it holds nothing now
    }
  }
  return total;
}

/** GoChat's acked-message and message-transaction counters, from its Prometheus text. */
async function commitCounts(baseUrl: string): Promise<CommitCounts | undefined> {
  try {
    const text = await (await fetch(`${baseUrl}/metrics`)).text();
    const value = (pattern: RegExp): number | undefined => {
      const match = pattern.exec(text);
      return match ? Number(match[1]) : undefined;
    };
    const acked = value(/^gochat_messages_acked_total(?:\{[^}]*\})? (\S+)$/m);
    const commits = value(/^gochat_db_duration_seconds_count\{[^}]*operation="appendMessages"[^}]*\} (\S+)$/m);
    return acked === undefined || commits === undefined ? undefined : { acked, commits };
  } catch {
    return undefined;
  }
}

function withServerFigures(result: LoadResult, samples: Map<string, Sample>): RunFigures {
  const figures = { ...result.figures };
  if (result.phases) {
    // Server CPU as a share of one core, per window; the data directory's growth under attack.
    const core = (window: [string, string]) => {
      const [start, end] = window.map((name) => samples.get(name));
      return start && end && end.server.at > start.server.at ? (end.server.cpuUs - start.server.cpuUs) / ((end.server.at - start.server.at) * 1000) : undefined;
    };
    const quiet = core(result.phases.quiet);
    const attacked = core(result.phases.attack);
    if (quiet !== undefined) figures.serverCoreQuiet = quiet;
    if (attacked !== undefined) figures.serverCoreAttack = attacked;
    const [start, end] = result.phases.attack.map((name) => samples.get(name));
    if (start && end) {
      figures.dataDirBytesPerSec = (end.dataBytes - start.dataBytes) / ((end.server.at - start.server.at) / 1000);
      figures.serverRssMb = end.server.rssKb / 1024;
    }
  }
  if (result.window) {
    const start = samples.get(result.window[0]);
    const end = samples.get(result.window[1]);
    if (start && end) {
      // The cluster's CPU is every process on the path, summed; per kind in cpuByProcess.
      const summed = start.group && end.group ? cpuBetween(start.group, end.group) : undefined;
      const cpuUs = summed ? summed.cpuUs : end.server.cpuUs - start.server.cpuUs;
      const sysUs = summed ? summed.sysUs : end.server.sysUs - start.server.sysUs;
      figures.serverCpuMs = cpuUs / 1000;
      figures.serverSysShare = cpuUs > 0 ? sysUs / cpuUs : 0;
      if (summed) {
        figures.cpuByProcess = {};
        for (const [kind, part] of Object.entries(summed.byKind)) {
          figures.cpuByProcess[kind] = {
            cpuMs: part.cpuUs / 1000,
            processes: part.processes,
            ...(result.perAck ? { usPerAck: part.cpuUs / result.perAck } : {}),
            ...(result.perDelivery ? { usPerDelivery: part.cpuUs / result.perDelivery } : {}),
          };
        }
      }
      figures.loadgenCpuMs = (end.loadgen.cpuUs - start.loadgen.cpuUs) / 1000;
      figures.serverRssMb = end.server.rssKb / 1024;
      if (result.perAck) figures.serverCpuUsPerAck = cpuUs / result.perAck;
      if (result.perDelivery) figures.serverCpuUsPerDelivery = cpuUs / result.perDelivery;
      if (result.perPage) figures.serverCpuUsPerPage = cpuUs / result.perPage;
      if (start.commits && end.commits && end.commits.commits > start.commits.commits) {
        figures.messagesPerCommit = (end.commits.acked - start.commits.acked) / (end.commits.commits - start.commits.commits);
      }
    }
  }
  if (result.reactionWindow) {
    const start = samples.get(result.reactionWindow[0]);
    const end = samples.get(result.reactionWindow[1]);
    if (start && end) {
      const summed = start.group && end.group ? cpuBetween(start.group, end.group) : undefined;
      const cpuUs = summed ? summed.cpuUs : end.server.cpuUs - start.server.cpuUs;
      const sysUs = summed ? summed.sysUs : end.server.sysUs - start.server.sysUs;
      figures.serverCpuMsReactions = cpuUs / 1000;
      figures.serverSysShareReactions = cpuUs > 0 ? sysUs / cpuUs : 0;
      figures.loadgenCpuMsReactions = (end.loadgen.cpuUs - start.loadgen.cpuUs) / 1000;
      figures.serverRssMb = end.server.rssKb / 1024;
      if (result.perReaction) figures.serverCpuUsPerReaction = cpuUs / result.perReaction;
      if (result.perReactionFrame) {
        figures.serverCpuUsPerReactionFrame = cpuUs / result.perReactionFrame;
        if (figures.serverCpuUsPerDelivery) figures.reactionFrameToDeliveryCpu = figures.serverCpuUsPerReactionFrame / figures.serverCpuUsPerDelivery;
        if (summed) {
          figures.reactionCpuByProcess = {};
          for (const [kind, part] of Object.entries(summed.byKind)) {
            figures.reactionCpuByProcess[kind] = { cpuMs: part.cpuUs / 1000, processes: part.processes, usPerReactionFrame: part.cpuUs / result.perReactionFrame };
          }
        }
      }
    }
  }
  if (result.rssMarks) {
    const [before, half, after] = result.rssMarks.map((name) => samples.get(name));
    const halfCount = result.halfConnections ?? 0;
    if (before && half && after && figures.connections) {
      figures.rssPerConnectionKb = (after.server.rssKb - before.server.rssKb) / figures.connections;
      figures.rssMarginalPerConnectionKb = (after.server.rssKb - half.server.rssKb) / (figures.connections - halfCount);
      figures.serverRssMb = after.server.rssKb / 1024;
    }
  }
  return figures;
}

/** Counters where any run's loss is a failure: report the worst run, not the median. */
const WORST_OF: ReadonlyArray<keyof RunFigures> = [
  'errors',
  'lostUnacked',
  'lostUndelivered',
  'missing',
  'duplicates',
  'duplicateDeliveries',
  'outOfOrder',
  'reactionErrors',
  'reactionFramesLost',
  'reactionFramesDuplicated',
  'reactionFramesOutOfOrder',
  'reactionFramesWrong',
];

function summarize(runs: readonly RunFigures[]): RunFigures {
  const out = medianOf(runs);
  for (const key of WORST_OF) {
    const values = runs.map((r) => r[key]).filter((v): v is number => typeof v === 'number');
    if (values.length > 0) (out as unknown as Record<string, number>)[key] = Math.max(...values);
  }
  if (runs.some((r) => typeof r.stillConnected === 'number')) out.stillConnected = Math.min(...runs.map((r) => r.stillConnected ?? 0));
  if (runs.some((r) => typeof r.caughtUp === 'number')) out.caughtUp = Math.min(...runs.map((r) => r.caughtUp ?? 0));
  if (runs.some((r) => typeof r.membersWhole === 'number')) out.membersWhole = Math.min(...runs.map((r) => r.membersWhole ?? 0));
  if (runs.some((r) => typeof r.socketsWhole === 'number')) out.socketsWhole = Math.min(...runs.map((r) => r.socketsWhole ?? 0));
  if (runs.some((r) => typeof r.summaryConverged === 'number')) out.summaryConverged = Math.min(...runs.map((r) => r.summaryConverged ?? 0));
  return out;
}

interface Row {
  metric: string;
  baseline?: number;
  gochat?: number;
  /** GoChat / baseline, when both exist. */
  ratio?: number;
  bar?: string;
  pass?: boolean;
  /** --topology cluster: the cluster's figure (CPU summed over every process on the path), cluster / embedded GoChat, and its own bar. */
  cluster?: number;
  clusterRatio?: number;
  clusterBar?: string;
  clusterPass?: boolean;
}

type Bar = { text: string; test: (g: number, ratio: number | undefined) => boolean };

function rowsFor(
  scenario: CapacityId | RoomId | ReactionId,
  base: RunFigures | undefined,
  go: RunFigures | undefined,
  p: BenchParams,
  cluster?: RunFigures,
): { rows: Row[]; verdicts: Verdict[] } {
  const rows: Row[] = [];
  const verdicts: Verdict[] = [];
  /** `clusterBar` tests the cluster's figure and its ratio to the embedded server's. */
  const row = (metric: string, pick: (f: RunFigures) => number | undefined, bar?: Bar, clusterBar?: Bar) => {
    const b = base ? pick(base) : undefined;
    const g = go ? pick(go) : undefined;
    const c = cluster ? pick(cluster) : undefined;
    const ratio = b !== undefined && g !== undefined && b !== 0 ? g / b : undefined;
    const r: Row = { metric };
    if (b !== undefined) r.baseline = b;
    if (g !== undefined) r.gochat = g;
    if (ratio !== undefined) r.ratio = ratio;
    if (bar && g !== undefined) {
      r.bar = bar.text;
      r.pass = bar.test(g, ratio);
      verdicts.push({ bar: `${scenario}: ${metric} ${bar.text}`, pass: r.pass });
    }
    if (c !== undefined) {
      r.cluster = c;
      if (g !== undefined && g !== 0) r.clusterRatio = c / g;
      if (clusterBar) {
        r.clusterBar = clusterBar.text;
        r.clusterPass = clusterBar.test(c, r.clusterRatio);
        verdicts.push({ bar: `${scenario}: cluster ${metric} ${clusterBar.text}`, pass: r.clusterPass });
      }
    }
    rows.push(r);
  };
  const withinOfEmbedded = (x: number): Bar => ({ text: `<= ${x}x emb`, test: (_c, r) => r !== undefined && r <= x });
  const lost = (f: RunFigures) => (f.lostUnacked ?? 0) + (f.lostUndelivered ?? 0);
  const zero = { text: '= 0', test: (g: number) => g === 0 };
  if (isRoom(scenario)) {
    roomRows(scenario, row);
  } else if (isReaction(scenario)) {
    reactionRows(p, row);
  } else if (scenario === 'a' || scenario === 'b' || scenario === 'c') {
    row('acks/s', (f) => f.acksPerSec, scenario === 'a' ? { text: '>= 0.8x', test: (_g, r) => r !== undefined && r >= 0.8 } : undefined);
    row('deliveries/s', (f) => f.deliveriesPerSec);
    row('send->ack p50 ms', (f) => f.ackLatencyMs?.p50);
    row('send->ack p99 ms', (f) => f.ackLatencyMs?.p99);
    row('send->delivery p50 ms', (f) => f.deliveryLatencyMs?.p50);
    row('send->delivery p90 ms', (f) => f.deliveryLatencyMs?.p90);
    row('send->delivery p99 ms', (f) => f.deliveryLatencyMs?.p99, scenario === 'c' ? { text: '<= 10 ms', test: (g) => g <= 10 } : undefined);
    row('send->delivery max ms', (f) => f.deliveryLatencyMs?.max);
    row(
      'server CPU us/ack',
      (f) => f.serverCpuUsPerAck,
      scenario === 'a' ? { text: '<= 1.3x', test: (_g, r) => r !== undefined && r <= 1.3 } : undefined,
      scenario === 'a' && go ? withinOfEmbedded(3) : undefined,
    );
    row(
      'server CPU us/delivery',
      (f) => f.serverCpuUsPerDelivery,
      scenario === 'b' ? { text: '<= 1.3x', test: (_g, r) => r !== undefined && r <= 1.3 } : undefined,
      scenario === 'b' && go ? withinOfEmbedded(2) : undefined,
    );
    // The cluster's CPU per message, split by the kind of process that spent it.
    for (const kind of ['gateway', 'logic', 'task', 'postgres', 'redis']) {
      if (cluster?.cpuByProcess?.[kind] === undefined) continue;
      row(`  ${kind} CPU us/ack`, (f) => f.cpuByProcess?.[kind]?.usPerAck);
      row(`  ${kind} CPU us/delivery`, (f) => f.cpuByProcess?.[kind]?.usPerDelivery);
    }
    row('server CPU kernel share', (f) => f.serverSysShare);
    row('server RSS MB', (f) => f.serverRssMb);
    row('messages per commit', (f) => f.messagesPerCommit);
    row('load generator CPU ms', (f) => f.loadgenCpuMs);
    row('errors (worst run)', (f) => f.errors, zero, zero);
    row('lost (worst run)', lost, zero, zero);
    row('duplicated (worst run)', (f) => f.duplicateDeliveries, undefined, zero);
    row('out of order (worst run)', (f) => f.outOfOrder, undefined, zero);
  } else if (scenario === 'd') {
    row('connections held', (f) => f.stillConnected, { text: `= ${p.idleConnections}`, test: (g) => g === p.idleConnections });
    row('RSS per connection KB', (f) => f.rssPerConnectionKb);
    row('RSS 2nd half, per conn KB', (f) => f.rssMarginalPerConnectionKb);
    row('RSS per conn KB, worse', (f) => Math.max(f.rssPerConnectionKb ?? 0, f.rssMarginalPerConnectionKb ?? 0), {
      text: '<= 16 KB',
      test: (g) => g <= 16,
    });
    row('server RSS MB', (f) => f.serverRssMb);
  } else if (scenario === 'e') {
    row('pages/s', (f) => f.pagesPerSec, { text: '>= 5000', test: (g) => g >= 5000 });
    row('messages per page', (f) => f.messagesPerPage, { text: `= ${p.pageSize}`, test: (g) => g === p.pageSize });
    row('page latency p50 ms', (f) => f.pageLatencyMs?.p50);
    row('page latency p99 ms', (f) => f.pageLatencyMs?.p99);
    row('server CPU us/page', (f) => f.serverCpuUsPerPage);
    row('load generator CPU ms', (f) => f.loadgenCpuMs);
    row('errors (worst run)', (f) => f.errors, zero);
    row('fill s (100k via WS)', (f) => f.fillSec);
  } else {
    row('storm ms', (f) => f.stormMs);
    row('clients caught up', (f) => f.caughtUp, { text: `= ${p.stormClients}`, test: (g) => g === p.stormClients });
    row('missing (worst run)', (f) => f.missing, zero);
    row('duplicates (worst run)', (f) => f.duplicates, zero);
    row('catch-up pages', (f) => f.catchUpPages);
    row('server CPU ms', (f) => f.serverCpuMs);
    row('retries (worst run)', (f) => f.errors);
  }
  return { rows: rows.filter((r) => r.baseline !== undefined || r.gochat !== undefined || r.cluster !== undefined), verdicts };
}


function printTable(title: string, rows: readonly Row[], runs: number): void {
  console.log(`\n${title}  [median of ${runs} run${runs > 1 ? 's' : ''}]`);
  // The cluster's columns only when it ran: the embedded-only table keeps its shape.
  const withCluster = rows.some((r) => r.cluster !== undefined);
  const clusterHead = withCluster ? `${'cluster'.padStart(12)}${'cl/emb'.padStart(8)}   cluster bar` : '';
  console.log(`  ${'metric'.padEnd(26)}${'baseline'.padStart(12)}${'GoChat'.padStart(12)}${'ratio'.padStart(8)}   ${withCluster ? 'bar'.padEnd(15) : 'bar'}${clusterHead}`);
  for (const r of rows) {
    const ratio = r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}x`;
    const bar = r.bar ? `${r.bar.padEnd(10)} ${r.pass ? 'PASS' : 'MISS'}` : '';
    const clusterRatio = r.clusterRatio === undefined ? '' : `${r.clusterRatio.toFixed(2)}x`;
    const clusterBar = r.clusterBar ? `${r.clusterBar.padEnd(11)} ${r.clusterPass ? 'PASS' : 'MISS'}` : '';
    const clusterCols = withCluster ? `${fmt(r.cluster).padStart(12)}${clusterRatio.padStart(8)}   ${clusterBar}` : '';
    console.log(`  ${r.metric.padEnd(26)}${fmt(r.baseline).padStart(12)}${fmt(r.gochat).padStart(12)}${ratio.padStart(8)}   ${withCluster ? bar.padEnd(15) : bar}${clusterCols}`.trimEnd());
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const info = machine();
  const limits = openFileLimits();
  console.log(`GoChat bench on ${info.nproc} x ${info.cpu}, ${info.memoryGb} GB, node ${info.node}; open files ${limits.soft}/${limits.hard}`);
  if (limits.hard < options.params.idleConnections + 1024) {
    console.log(`  warning: the hard open-file limit (${limits.hard}) is below what (d) needs; raise it with ulimit -Hn`);
  }
  if (options.topologies.includes('cluster') && !options.topologies.includes('embedded')) {
    console.log('  note: the cluster\'s CPU bars compare with the embedded server; judge them with --topology embedded,cluster');
  }
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const report: Record<string, unknown> = { startedAt: new Date(started).toISOString(), machine: info, params: options.params, runs: options.runs, scenarios: {} };
  const allVerdicts: Verdict[] = [];
  const attackSummaries: AttackSummary[] = [];

  for (const scenario of options.scenarios) {
    const title = TITLES[scenario](options.params);
    console.log(`\n== ${title}`);
    // --topology picks what the gochat target means: the embedded server, the cluster, or both.
    const kinds = options.targets
      .flatMap((k): TargetKind[] => (k === 'gochat' ? options.topologies.map((t) => (t === 'embedded' ? 'gochat' : 'cluster')) : [k]))
      .filter((k) => !(k === 'baseline' && GOCHAT_ONLY.has(scenario)) && !(k === 'cluster' && NOT_ON_CLUSTER.has(scenario)));
    const perTarget: Record<string, RunFigures[]> = {};
    const failures: Verdict[] = [];
    for (let run = 0; run < options.runs; run++) {
      // Alternate which target goes first so slow drift of the machine does not favour one.
      const order = run % 2 === 0 ? kinds : [...kinds].reverse();
      for (const kind of order) {
        const t0 = Date.now();
        const runTag = `${scenario}${run}${Date.now().toString(36).slice(-5)}`;
        try {
          const figures = await runOnce(scenario, kind, options, runTag);
          (perTarget[kind] ??= []).push(figures);
          console.log(`  run ${run + 1} ${kind.padEnd(8)} ${((Date.now() - t0) / 1000).toFixed(1)} s  ${brief(scenario, figures)}`);
        } catch (err) {
          // A failed run is a result too: report it and go on with the others.
          const message = err instanceof Error ? err.message : String(err);
          failures.push({ bar: `${scenario}: run ${run + 1} on ${kind} failed: ${message.split('\n')[0]}`, pass: false });
          console.log(`  run ${run + 1} ${kind.padEnd(8)} FAILED: ${message}`);
        }
      }
    }
    const base = perTarget.baseline ? summarize(perTarget.baseline) : undefined;
    const go = perTarget.gochat ? summarize(perTarget.gochat) : undefined;
    const clustered = perTarget.cluster ? summarize(perTarget.cluster) : undefined;
    let rows: Row[] | AttackRow[];
    let verdicts: Verdict[];
    if (isAttack(scenario)) {
      ({ rows, verdicts } = attackRows(scenario, go));
      printAttackTable(title, rows, options.runs);
      attackSummaries.push(attackSummaryLine(scenario, go, verdicts, failures.length));
    } else {
      ({ rows, verdicts } = rowsFor(scenario, base, go, options.params, clustered));
      printTable(title, rows, options.runs);
    }
    allVerdicts.push(...verdicts, ...failures.splice(0));
    (report.scenarios as Record<string, unknown>)[scenario] = { title, runs: perTarget, median: { baseline: base, gochat: go, ...(clustered ? { cluster: clustered } : {}) }, rows, verdicts };
  }
  if (options.growth) {
    try {
      const growth = await runGrowth(options.growth, RESULTS_DIR, new Date(started).toISOString().replace(/[:.]/g, '-'));
      for (const v of growth.verdicts) console.log(`  ${v.pass ? 'PASS' : 'MISS'} ${v.bar}`);
      console.log(`  chart: ${path.relative(process.cwd(), path.join(RESULTS_DIR, growth.chart))}`);
      (report.scenarios as Record<string, unknown>).growth = growth;
      allVerdicts.push(...growth.verdicts);
    } catch (err) {
      // Like a failed run: reported, and the other scenarios' figures are still written.
      const message = err instanceof Error ? err.message : String(err);
      console.log(`  growth FAILED: ${message}`);
      allVerdicts.push({ bar: `growth failed: ${message.split('\n')[0]}`, pass: false });
    }
  }
  if (attackSummaries.length > 0) {
    printAttackSummary(attackSummaries);
    report.attackSummary = attackSummaries;
  }

  const elapsed = (Date.now() - started) / 1000;
  report.elapsedSec = elapsed;
  report.verdicts = allVerdicts;
  const file = path.join(RESULTS_DIR, `bench-${new Date(started).toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(report, null, 2));
  fs.writeFileSync(path.join(RESULTS_DIR, 'latest.json'), JSON.stringify(report, null, 2));
  const missed = allVerdicts.filter((v) => !v.pass);
  console.log(`\nbars: ${allVerdicts.length - missed.length}/${allVerdicts.length} hold${missed.length ? `; missed: ${missed.map((v) => v.bar).join('; ')}` : ''}`);
  console.log(`took ${Math.round(elapsed)} s; JSON in ${path.relative(process.cwd(), file)}`);
}

function brief(scenario: ScenarioId, f: RunFigures): string {
  if (isAttack(scenario)) {
    const a = f.attacker;
    return `ack p99 ${fmt(f.quietAckMs?.p99, 1)} -> ${fmt(f.attackAckMs?.p99, 1)} ms (${fmt(f.ackP99Ratio, 2)}x), server ${fmt((f.serverCoreQuiet ?? 0) * 100)}% -> ${fmt(
      (f.serverCoreAttack ?? 0) * 100,
    )}% of a core; attacker ${a ? `${a.accepted} served, ${a.refusals} refused, ${a.failures} failed` : 'no report'}`;
  }
  if (scenario === 'd') {
    return `held ${f.stillConnected}/${f.connections}, ${fmt(f.rssPerConnectionKb, 1)} KB/conn (2nd half ${fmt(f.rssMarginalPerConnectionKb, 1)})`;
  }
  if (scenario === 'e') return `${fmt(f.pagesPerSec)} pages/s, ${fmt(f.serverCpuUsPerPage)} us/page, fill ${fmt(f.fillSec, 1)} s`;
  if (isRoom(scenario)) return roomBrief(f);
  if (isReaction(scenario)) return reactionBrief(f);
  if (scenario === 'f') return `storm ${fmt(f.stormMs)} ms, caught up ${f.caughtUp}/${f.clients}, missing ${f.missing}, dup ${f.duplicates}`;
  return `${fmt(f.acksPerSec)} acks/s, ${fmt(f.deliveriesPerSec)} deliveries/s, p99 delivery ${fmt(f.deliveryLatencyMs?.p99, 1)} ms, ${fmt(
    f.serverCpuUsPerAck,
  )} us/ack, ${fmt(f.serverCpuUsPerDelivery, 1)} us/delivery, lost ${(f.lostUnacked ?? 0) + (f.lostUndelivered ?? 0)}, dup ${f.duplicateDeliveries ?? 0}, out of order ${f.outOfOrder ?? 0}${
    f.messagesPerCommit === undefined ? '' : `, ${fmt(f.messagesPerCommit, 1)} msgs/commit`
  }`;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
