/** What the runner and the load generator say to each other over the fork IPC channel. */

export type ScenarioId = 'a' | 'b' | 'c' | 'd' | 'e' | 'f';
export type TargetKind = 'baseline' | 'gochat';

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
}

export interface Job {
  scenario: ScenarioId;
  target: TargetKind;
  baseUrl: string;
  wsUrl: string;
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
}

export type ToRunner =
  | { type: 'mark'; name: string }
  | { type: 'result'; result: LoadResult }
  | { type: 'failed'; error: string }
  | { type: 'log'; text: string };

export type ToLoadgen = { type: 'job'; job: Job } | { type: 'marked'; name: string };
