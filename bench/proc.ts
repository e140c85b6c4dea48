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
