/**
 * The cluster bench's summed CPU: which PostgreSQL processes count, and how processes that start
 * or end inside the window are counted.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpuBetween, servesDatabase, type GroupSample, type PartSample } from '../../bench/proc.js';

const part = (kind: string, cpuUs: number, sysUs = 0): PartSample => ({ kind, cpuUs, sysUs, rssKb: 0 });
const sample = (parts: Record<string, PartSample>): GroupSample => ({ at: 0, parts: new Map(Object.entries(parts)) });

describe('cpuBetween', () => {
  it('sums each process over the window, per kind', () => {
    const start = sample({ '1:10': part('gateway', 100, 10), '2:20': part('gateway', 50), '3:30': part('redis', 7) });
    const end = sample({ '1:10': part('gateway', 160, 30), '2:20': part('gateway', 90), '3:30': part('redis', 10) });
    const d = cpuBetween(start, end);
    assert.equal(d.cpuUs, 60 + 40 + 3);
    assert.equal(d.sysUs, 20);
    assert.deepEqual(d.byKind.gateway, { cpuUs: 100, sysUs: 20, processes: 2 });
    assert.deepEqual(d.byKind.redis, { cpuUs: 3, sysUs: 0, processes: 1 });
  });

  it('counts a process born in the window whole and one gone by its end as nothing', () => {
    const start = sample({ '5:1': part('postgres', 1000) });
    const end = sample({ '6:2': part('postgres', 40) });
    assert.equal(cpuBetween(start, end).cpuUs, 40);
  });

  it('treats a reused pid with a new start time as a new process', () => {
    const start = sample({ '5:1': part('postgres', 1000) });
    const end = sample({ '5:9': part('postgres', 25) });
    assert.equal(cpuBetween(start, end).cpuUs, 25);
  });
});

describe('servesDatabase', () => {
  it('takes the backends of the bench database and the shared writers, with or without a cluster name', () => {
    assert.equal(servesDatabase('postgres: 15/main: postgres gochat_bench_ab 127.0.0.1(5432) idle', 'gochat_bench_ab'), true);
    assert.equal(servesDatabase('postgres: postgres gochat_bench_ab 127.0.0.1(5432) INSERT', 'gochat_bench_ab'), true);
    assert.equal(servesDatabase('postgres: 15/main: autovacuum worker gochat_bench_ab', 'gochat_bench_ab'), true);
    for (const worker of ['checkpointer', 'background writer', 'walwriter']) assert.equal(servesDatabase(`postgres: 15/main: ${worker} `, 'x'), true);
  });

  it('leaves out other databases and unrelated workers', () => {
    assert.equal(servesDatabase('postgres: 15/main: postgres other_db 127.0.0.1(5432) idle', 'gochat_bench_ab'), false);
    assert.equal(servesDatabase('postgres: 15/main: logical replication launcher ', 'gochat_bench_ab'), false);
    assert.equal(servesDatabase('/usr/bin/node main.js', 'gochat_bench_ab'), false);
  });
});
