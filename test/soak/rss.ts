/** Resident memory of a server process, from /proc (Linux): what the kernel charges it, GC or not. */
import fs from 'node:fs';

export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) * 1024;
}

export const MB = 1024 * 1024;
