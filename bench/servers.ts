/**
 * Starts the servers under test as child processes, the way a user runs them, and reports
 * the port from their `"msg":"listening"` JSON log line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openFileLimits } from './proc.js';
import type { TargetKind } from './types.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const GOCHAT_MAIN = path.resolve(HERE, '../src/app/main.js');
export const BASELINE_MAIN = path.resolve(HERE, 'baseline-relay.js');
export const LOADGEN_MAIN = path.resolve(HERE, 'loadgen.js');

/**
 * Abuse limits a benchmark from one IP would trip during setup (thousands of guests from
 * 127.0.0.1) or while filling history. They are raised for the bench server only; nothing
 * else about the server differs from `npm start` (scrypt cost, durability, socket caps).
 */
export const BENCH_SERVER_ENV: Record<string, string> = {
  GOCHAT_RATE_GUEST_PER_IP: '100000000',
  GOCHAT_RATE_REGISTER_PER_IP: '100000000',
  GOCHAT_RATE_LOGIN_PER_IP: '100000000',
  GOCHAT_RATE_LOGIN_PER_USERNAME: '100000000',
  GOCHAT_RATE_SEND_PER_USER: '100000000',
  GOCHAT_RATE_SEND_BYTES_PER_USER: '100000000',
  GOCHAT_RATE_SEND_PER_GUEST: '100000000',
  GOCHAT_RATE_SEND_BYTES_PER_GUEST: '100000000',
  GOCHAT_RATE_LOOKUPS_PER_USER: '100000000',
  GOCHAT_RATE_LOOKUPS_PER_GUEST: '100000000',
  GOCHAT_RATE_GROUPS_PER_USER: '100000000',
  GOCHAT_RATE_WS_FRAMES: '100000000',
  GOCHAT_RATE_WS_FRAMES_PER_USER: '100000000',
  GOCHAT_RATE_WS_FRAMES_PER_IP: '100000000',
  GOCHAT_MAX_CONNECTIONS_PER_IP: '0',
  GOCHAT_MAX_SOCKETS_PER_IP: '0',
  GOCHAT_RATE_LIMITED_DELAY_MS: '0',
  GOCHAT_KDF_REGISTER_QUEUE: '100000',
  GOCHAT_KDF_LOGIN_QUEUE: '100000',
};

export interface RunningServer {
  kind: TargetKind;
  pid: number;
  /** GoChat's temp data directory ('' for the relay). */
  dataDir: string;
  port: number;
  baseUrl: string;
  wsUrl: string;
  stop(): Promise<void>;
}

/** `node <args>` quoted for sh. */
function nodeCommand(args: readonly string[]): string {
  return [process.execPath, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
}

/**
 * The command line for a child that needs `fds` open files: when the soft limit is lower
 * but the hard one allows it, a shell raises the soft limit and execs node (same pid).
 */
export function withFileLimit(args: string[], fds: number): { command: string; args: string[] } {
  const { soft, hard } = openFileLimits();
  if (soft >= fds || hard < fds) return { command: process.execPath, args };
  return { command: '/bin/sh', args: ['-c', `ulimit -n ${Number.isFinite(hard) ? hard : fds} && exec ${nodeCommand(args)}`] };
}

/**
 * The command line for a child limited to `limit` open files: a shell lowers both limits (always
 * allowed) and execs node (same pid). Both, because Node raises its soft limit to the hard one
 * at start: a hard limit of 1024 is what a service unit or container with `LimitNOFILE=1024`
 * gives it.
 */
export function withOpenFileCap(args: string[], limit: number): { command: string; args: string[] } {
  return { command: '/bin/sh', args: ['-c', `ulimit -n ${Math.floor(limit)} && exec ${nodeCommand(args)}`] };
}

export interface StartOptions {
  /** Open files the child needs: the soft limit is raised to the hard one when lower. */
  fds: number;
  profileDir?: string;
  /**
   * GoChat as `npm start` runs it: no raised abuse limits and no GOCHAT_* settings inherited
   * from the runner's environment, so every limit is the public default.
   */
  publicDefaults?: boolean;
  /** The open-file limit (soft and hard) to run under instead of `fds`; 0 or absent keeps the runner's. */
  openFileCap?: number;
  /** GoChat's data directory, kept when the server stops (the growth scenario restarts on it); absent: a new temp dir, removed at stop. */
  dataDir?: string;
}

export async function startTarget(kind: TargetKind, options: StartOptions): Promise<RunningServer> {
  const dataDir = kind !== 'gochat' ? '' : (options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-bench-')));
  const nodeArgs = kind === 'gochat' && options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [];
  const script = [...nodeArgs, kind === 'gochat' ? GOCHAT_MAIN : BASELINE_MAIN];
  const { command, args } =
    options.openFileCap ? withOpenFileCap(script, options.openFileCap) : withFileLimit(script, options.fds);
  const env: Record<string, string | undefined> = { ...process.env, PORT: '0', HOST: '127.0.0.1' };
  if (options.publicDefaults) for (const key of Object.keys(env)) if (key.startsWith('GOCHAT_')) delete env[key];
  if (kind === 'gochat') Object.assign(env, options.publicDefaults ? {} : BENCH_SERVER_ENV, { GOCHAT_DATA_DIR: dataDir, GOCHAT_LOG_LEVEL: 'info' });
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await listeningPort(child, exited);
  return {
    kind,
    pid: child.pid!,
    dataDir,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
      if (dataDir && !options.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function listeningPort(child: ChildProcess, exited: Promise<void>): Promise<number> {
  let output = '';
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      // Keep only the tail so a chatty server cannot grow this string.
      if (output.length > 64 * 1024) output = output.slice(-32 * 1024);
      for (const line of output.split('\n')) {
        if (!line.includes('"msg":"listening"')) continue;
        try {
          const parsed = JSON.parse(line) as { port?: number };
          if (parsed.port) {
            clearTimeout(timer);
            resolve(parsed.port);
          }
        } catch {
          // a partial line: wait for the rest
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 64 * 1024) output = output.slice(-32 * 1024);
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`server exited before listening:\n${output}`));
    });
  });
}
