/** What the runner and the load generator say to each other over the fork IPC channel. */

/** The throughput and capacity scenarios of issue 5, relay against GoChat. */
export type CapacityId = 'a' | 'b' | 'c' | 'd' | 'e' | 'f';
/** The attack scenarios of issue 10: a normal user's ack latency without, then with, one attack (GoChat only). */
export type AttackId = 'no-attack' | 'ping-flood' | 'slow-bodies' | 'register-flood' | 'world-room' | 'disk-fill' | 'group-spam';
/** The large rooms of issue 12: one big group, the world room; relay against GoChat. */
export type RoomId = 'g' | 'h';
/** The reaction storm: every member of one big group reacts to one message (GoChat only: the relay has no reactions). */
export type ReactionId = 'reaction-storm';
export type ScenarioId = CapacityId | RoomId | ReactionId | AttackId;

export const ROOM_IDS: readonly RoomId[] = ['g', 'h'];

export function isRoom(id: ScenarioId): id is RoomId {
  return (ROOM_IDS as readonly string[]).includes(id);
}

export const REACTION_IDS: readonly ReactionId[] = ['reaction-storm'];

export function isReaction(id: ScenarioId): id is ReactionId {
  return (REACTION_IDS as readonly string[]).includes(id);
}

export const ATTACK_IDS: readonly AttackId[] = ['no-attack', 'ping-flood', 'slow-bodies', 'register-flood', 'world-room', 'disk-fill', 'group-spam'];

export function isAttack(id: ScenarioId): id is AttackId {
  return (ATTACK_IDS as readonly string[]).includes(id);
}
/** `gochat` is the embedded server; `cluster` is GoChat's distributed roles (run.ts --topology cluster). */
export type TargetKind = 'baseline' | 'gochat' | 'cluster';

/** Scenario sizes; every one can be changed from the command line (see run.ts --help). */
export interface BenchParams {
  /** Seconds of traffic before the measured window (not counted). */
  warmupSec: number;
  /** Seconds in the measured window. */
  durationSec: number;
  /** Characters of message content (the key and send time are embedded in it). */
  contentChars: number;
  /** tempMessageId style: the SDK's time-ordered UUIDv7 (default), random v4 UUIDs, or sequential `<connection>-<n>`. */
  tempIds: 'uuid' | 'v7' | 'seq';
  /** (a) connections in 1:1 pairs, and sends in flight per connection (closed loop). */
  pairConnections: number;
  inFlight: number;
  /** (b)/(c) connections in groups of `groupSize`, each sending `groupRate` messages per second. */
  groupConnections: number;
  groupSize: number;
  groupRate: number;
  /** (c) runs (b) at `groupRate / latencyRateDivisor`. */
  latencyRateDivisor: number;
  /** (d) idle authenticated connections held with pings. */
  idleConnections: number;
  idlePingSec: number;
  /** (e) messages stored in the conversation read, page size, concurrent HTTP readers. */
  historyMessages: number;
  pageSize: number;
  historyReaders: number;
  /** (f) clients that drop and reconnect at once, in groups of `groupSize`. */
  stormClients: number;
  /** (f) messages each group receives while its members are away. */
  stormMissed: number;
  /** (g) members of the one group, every one connected. */
  roomMembers: number;
  /** (h) connections in the world room, one guest each. */
  worldConnections: number;
  /** (g) members that send; (h) connections that send; messages per second from each. */
  roomSenders: number;
  worldSenders: number;
  roomRate: number;
  /** reaction-storm: members of the one group, all connected; each reacts once to one message. */
  reactionMembers: number;
  /** reaction-storm: seconds the members' reactions are spread over (evenly, in member order). */
  reactionSpreadSec: number;
  /** reaction-storm: reaction requests (HTTP PUT) in flight at most. */
  reactionConcurrency: number;
  /** reaction-storm: the message phase before the storm; `roomSenders` send this many messages per second each. */
  reactionMessageRate: number;
  /** reaction-storm: seconds in the message phase's measured window (after `warmupSec`). */
  reactionMessageSec: number;
  /** Seconds in each window (quiet, then attack) of an attack scenario. */
  attackWindowSec: number;
  /** Attacks: registered users in 1:1 pairs, each sending `normalRate` messages per second. */
  normalUsers: number;
  normalRate: number;
  /** Attacks: the server's open-file limit, soft and hard (a `LimitNOFILE=1024` service); 0 keeps the runner's. */
  attackFds: number;
  /** ping-flood: sockets of the one attacking guest. */
  pingSockets: number;
  /** slow-bodies: connections each dribbling a request body at 1 byte/s. */
  slowBodies: number;
  /** register-flood, world-room, group-spam: the attacker's concurrent requests. */
  attackConcurrency: number;
}

export interface Job {
  scenario: ScenarioId;
  target: TargetKind;
  baseUrl: string;
  wsUrl: string;
  /** The cluster: every gateway, in order (`baseUrl`/`wsUrl` are the first); connections alternate between them. */
  gateways?: { baseUrls: string[]; wsUrls: string[] };
  params: BenchParams;
  /** Unique per run: keeps usernames distinct. */
  runTag: string;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Figures of one run on one target; absent fields do not apply to the scenario. */
export interface RunFigures {
  acksPerSec?: number;
  deliveriesPerSec?: number;
  ackLatencyMs?: LatencySummary;
  deliveryLatencyMs?: LatencySummary;
  sent?: number;
  acked?: number;
  delivered?: number;
  errors: number;
  /** Sent but never acked (nor answered with an error). */
  lostUnacked?: number;
  /** Acked but not delivered to every other member's connection. */
  lostUndelivered?: number;
  /** Server CPU over the measured window. */
  serverCpuMs?: number;
  /** Share of the server CPU spent in the kernel (socket writes, fsync, WAL writes). */
  serverSysShare?: number;
  serverCpuUsPerAck?: number;
  serverCpuUsPerDelivery?: number;
  serverRssMb?: number;
  loadgenCpuMs?: number;
  /** GoChat only, from its /metrics over the window: messages stored per transaction (group commit). */
  messagesPerCommit?: number;
  /** (a)(b)(c): a connection received a message it already had. */
  duplicateDeliveries?: number;
  /** (a)(b)(c)(g)(h): deliveries that came after a higher seqId on the same connection. */
  outOfOrder?: number;
  /** Cluster: CPU over the window of each kind of process on the path (gateway, logic, task, postgres, redis). */
  cpuByProcess?: Record<string, { cpuMs: number; processes: number; usPerAck?: number; usPerDelivery?: number }>;
  /** (d) */
  connections?: number;
  stillConnected?: number;
  /** RSS growth from no connections to all, per connection. */
  rssPerConnectionKb?: number;
  /** RSS growth of the second half of the connections, per connection. */
  rssMarginalPerConnectionKb?: number;
  /** (e) */
  pagesPerSec?: number;
  pageLatencyMs?: LatencySummary;
  messagesPerPage?: number;
  serverCpuUsPerPage?: number;
  fillSec?: number;
  /** (f) */
  clients?: number;
  stormMs?: number;
  caughtUp?: number;
  missing?: number;
  duplicates?: number;
  catchUpPages?: number;
  setupSec?: number;
  /** (g)(h): connections in the room, and those that got every message once, in order. */
  members?: number;
  membersWhole?: number;
  /** (g)(h): from the send to the delivery to the last member's connection, per message. */
  lastDeliveryLatencyMs?: LatencySummary;
  /** reaction-storm: reaction requests sent, answered 2xx, and answered otherwise (or not at all). */
  reactionsSent?: number;
  reactionsAccepted?: number;
  reactionErrors?: number;
  /** reaction-storm: accepted reactions per second, from the first request to the last 2xx answer. */
  reactionsPerSec?: number;
  /** reaction-storm: a reaction's PUT, from the request to its answer. */
  reactionAnswerMs?: LatencySummary;
  /** reaction-storm: from a reaction's HTTP answer to its frame on the LAST member's socket (negative: the frames came first). */
  reactionLastFrameMs?: LatencySummary;
  /** reaction-storm: from the last reaction's answer to the moment every socket had every reaction's frame. */
  convergeMs?: number;
  /** reaction-storm: distinct reaction frames received over all sockets (every socket gets every reaction's frame). */
  reactionFrames?: number;
  /** reaction-storm: per socket, changeSeqs of accepted reactions never received; received twice; below one already seen. */
  reactionFramesLost?: number;
  reactionFramesDuplicated?: number;
  reactionFramesOutOfOrder?: number;
  /** reaction-storm: frames that were not the change the bench made (wrong message, emoji, user or counts), or not for the room. */
  reactionFramesWrong?: number;
  /** reaction-storm: sockets that got every accepted reaction's frame once, in changeSeq order. */
  socketsWhole?: number;
  /** reaction-storm: 1 when the history's `reactions` summary of the message equals the counts sent, else 0. */
  summaryConverged?: number;
  /** reaction-storm: the conversation's changeSeq after the storm minus before it (must equal `reactionsAccepted`). */
  changeSeqDelta?: number;
  /** reaction-storm: server CPU from the storm's first request to convergence; per reaction; per reaction frame delivered. */
  serverCpuMsReactions?: number;
  serverCpuUsPerReaction?: number;
  serverCpuUsPerReactionFrame?: number;
  /** reaction-storm: us per reaction frame over us per message delivery, both measured in the same run. */
  reactionFrameToDeliveryCpu?: number;
  serverSysShareReactions?: number;
  loadgenCpuMsReactions?: number;
  /** Cluster, reaction-storm: the storm's CPU per kind of process on the path. */
  reactionCpuByProcess?: Record<string, { cpuMs: number; processes: number; usPerReactionFrame: number }>;
  /** Attacks: the normal users' send->ack latency in the quiet window, then in the attack window. */
  quietAckMs?: LatencySummary;
  attackAckMs?: LatencySummary;
  /** p99 under attack over p99 quiet, within this run: the bar is <= 2. */
  ackP99Ratio?: number;
  /** Attacks: the scenario's second measure of a normal user (a login, /healthz, the conversation list). */
  probe?: ProbeFigures;
  attacker?: AttackerFigures;
  /** Server CPU in each window, as a share of one core. */
  serverCoreQuiet?: number;
  serverCoreAttack?: number;
  /** disk-fill: growth of the server's data directory per second of the attack window. */
  dataDirBytesPerSec?: number;
  /** group-spam: the victim's unpaged GET /api/conversations after the attack. */
  conversationsAtEnd?: { entries: number; bytes: number; ms: number };
}

/** One bar of the bench and whether this bench held it. */
export interface Verdict {
  bar: string;
  pass: boolean;
}

/** One kind of request a normal user makes besides sending, timed in both windows. */
export interface ProbeFigures {
  name: string;
  quiet: ProbeWindow;
  attack: ProbeWindow;
  /** p99 under attack over p99 quiet. */
  p99Ratio: number;
}

export interface ProbeWindow {
  latencyMs: LatencySummary;
  ok: number;
  failed: number;
}

/**
 * What the attacker saw over its attack. A refusal is the server saying no the way a defence
 * should (429, a RATE_LIMITED frame, a 4002 close, 503, a refused upgrade, a closed slow body);
 * a failure is anything else that was not served (a reset, a timeout, a 500).
 */
export interface AttackerFigures {
  seconds: number;
  attempts: number;
  accepted: number;
  refusals: number;
  failures: number;
  acceptedPerSec: number;
  /** disk-fill: content bytes the server acked, per second. */
  bytesAcceptedPerSec?: number;
  /** Refusals and failures by what they were, e.g. `http 429`, `close 4002`, `reset`. */
  outcomes: Record<string, number>;
}

/** Raw result of the load generator: counts plus the names of marks it asked the runner to sample. */
export interface LoadResult {
  figures: RunFigures;
  /** Pairs of mark names whose server CPU difference is the measured window. */
  window?: [string, string];
  /** For (d): the marks before connecting, with `halfConnections` connected, and with all connected. */
  rssMarks?: [string, string, string];
  halfConnections?: number;
  /** Which count the CPU is divided by. */
  perAck?: number;
  perDelivery?: number;
  perPage?: number;
  /** reaction-storm: the storm's marks (from the first request to convergence), and the reactions and frames its CPU is divided by. */
  reactionWindow?: [string, string];
  perReaction?: number;
  perReactionFrame?: number;
  /** Attacks: the marks of the quiet and attack windows. */
  phases?: { quiet: [string, string]; attack: [string, string] };
}

export type ToRunner =
  | { type: 'mark'; name: string }
  | { type: 'result'; result: LoadResult }
  | { type: 'failed'; error: string }
  | { type: 'log'; text: string };

export type ToLoadgen = { type: 'job'; job: Job } | { type: 'marked'; name: string };

/** What the load generator tells the attacker process it forks for an attack scenario. */
export interface AttackJob {
  attack: AttackId;
  baseUrl: string;
  wsUrl: string;
  params: BenchParams;
  runTag: string;
  /** group-spam: the normal user every spam group contains. */
  victimUserId: string;
  /** The attacker stops by itself this long after `go`, whatever the load generator does. */
  maxAttackMs: number;
}

export type ToAttacker = { type: 'job'; job: AttackJob } | { type: 'go' } | { type: 'stop' };

export type FromAttacker =
  | { type: 'ready' }
  | { type: 'attacking' }
  | { type: 'report'; figures: AttackerFigures }
  | { type: 'failed'; error: string };
