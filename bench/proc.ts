/**
 * Reads a process's own accounting from /proc: CPU time (utime + stime) and resident memory.
 * CPU microseconds per delivered message are the figure that stays stable on a noisy machine.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

let ticksPerSecond = 0;

function clockTicks(): number {
  if (ticksPerSecond === 0) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

export interface ProcSample {
  /** performance.now() of the parent when sampled. */
  at: number;
  /** User + system CPU time, microseconds. */
  cpuUs: number;
  userUs: number;
  sysUs: number;
  rssKb: number;
}

/** Samples `pid`; throws when the process is gone. */
export function sampleProc(pid: number): ProcSample {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces: the fields after it follow the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat(5), i.e. 11 and 12 after the name and state.
  const usPerTick = 1_000_000 / clockTicks();
  const userUs = Number(fields[11]) * usPerTick;
  const sysUs = Number(fields[12]) * usPerTick;
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 'NaN');
  return { at: performance.now(), cpuUs: userUs + sysUs, userUs, sysUs, rssKb };
}

/** The soft and hard limits on open files of this process. */
export function openFileLimits(): { soft: number; hard: number } {
  const limits = fs.readFileSync('/proc/self/limits', 'utf8');
  const match = /Max open files\s+(\S+)\s+(\S+)/.exec(limits);
  const parse = (v: string | undefined) => (v === undefined || v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v));
  return { soft: parse(match?.[1]), hard: parse(match?.[2]) };
}

/** One process of a summed sample: what it is (`gateway`, `postgres`, ...) and its own reading. */
export interface PartSample {
  kind: string;
  cpuUs: number;
  sysUs: number;
  rssKb: number;
}

/**
 * Several processes read at one instant, keyed by `<pid>:<start time>` so a reused pid is a new
 * process. Processes come and go between two samples (a PostgreSQL backend a pool opened): see
 * `cpuBetween` for how they count.
 */
export interface GroupSample {
  at: number;
  parts: Map<string, PartSample>;
}

/** The start time (clock ticks after boot) of `pid`, field 22 of stat(5). */
function startTime(stat: string): string {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '0';
}

/** Reads every pid of `pids` with its kind; a process that is gone is skipped. */
export function sampleGroup(pids: ReadonlyArray<{ pid: number; kind: string }>): GroupSample {
  const parts = new Map<string, PartSample>();
  for (const { pid, kind } of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const s = sampleProc(pid);
      parts.set(`${pid}:${startTime(stat)}`, { kind, cpuUs: s.cpuUs, sysUs: s.sysUs, rssKb: s.rssKb });
    } catch {
      // exited between the listing and the read: it holds no CPU any more
    }
  }
  return { at: performance.now(), parts };
}

/**
 * CPU between two group samples, in total and per kind. A process present at the end and not at
 * the start was born in between, so all its CPU is in the window; one present at the start and
 * gone at the end took its last readings with it and counts nothing (an undercount, never a
 * double count).
 */
export function cpuBetween(start: GroupSample, end: GroupSample): { cpuUs: number; sysUs: number; byKind: Record<string, { cpuUs: number; sysUs: number; processes: number }> } {
  const byKind: Record<string, { cpuUs: number; sysUs: number; processes: number }> = {};
  let cpuUs = 0;
  let sysUs = 0;
  for (const [key, last] of end.parts) {
    const first = start.parts.get(key);
    const cpu = last.cpuUs - (first?.cpuUs ?? 0);
    const sys = last.sysUs - (first?.sysUs ?? 0);
    const entry = (byKind[last.kind] ??= { cpuUs: 0, sysUs: 0, processes: 0 });
    entry.cpuUs += cpu;
    entry.sysUs += sys;
    entry.processes++;
    cpuUs += cpu;
    sysUs += sys;
  }
  return { cpuUs, sysUs, byKind };
}

/** The parent pid of `pid` (field 4 of stat(5)). */
export function parentPid(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** PostgreSQL's background processes that write every database's changes, by their process title. */
const PG_SHARED_WORKERS = /^(checkpointer|background writer|walwriter)\b/;

/** Whether a postmaster child titled `title` (`postgres: [<cluster>: ]<what>`) works for `database`. */
export function servesDatabase(title: string, database: string): boolean {
  const rest = /^postgres: (?:[^:\s]+: )?(.*)$/.exec(title)?.[1];
  if (rest === undefined) return false;
  return PG_SHARED_WORKERS.test(rest) || rest.split(/\s+/).includes(database);
}

/**
 * The PostgreSQL processes that serve `database`: the postmaster itself (it forks each backend),
 * its children whose process title names the database (backends, `postgres: [<cluster>: ]<user>
 * <db> <host> <state>`, and autovacuum workers), plus the checkpointer, background writer and WAL
 * writer, which write the changes of every database. Other databases' backends are left out; the
 * shared writers and the postmaster also serve them (idle on a quiet machine).
 */
export function postgresProcesses(postmasterPid: number, database: string): Array<{ pid: number; kind: string }> {
  const out: Array<{ pid: number; kind: string }> = [{ pid: postmasterPid, kind: 'postgres' }];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      if (parentPid(pid) !== postmasterPid) continue;
      const title = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (servesDatabase(title, database)) out.push({ pid, kind: 'postgres' });
    } catch {
      // gone while listing
    }
  }
  return out;
}
