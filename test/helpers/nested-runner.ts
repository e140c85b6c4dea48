/**
 * Runs test files in a nested `node --test` (TAP), in its own process group that is killed whole
 * when it ends or times out, so no server or cluster process outlives the run. Used to run
 * unchanged suites against another deployment (the distributed topology).
 */
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';

export interface NestedRun {
  code: number | null;
  output: string;
}

export function runNested(files: readonly string[], env: Record<string, string>, options: { timeoutMs: number; nodeArgs?: string[]; testTimeoutMs?: number }): Promise<NestedRun> {
  // Without removing NODE_TEST_CONTEXT the nested runner would report to ours in its binary protocol.
  const { NODE_TEST_CONTEXT: _context, ...inherited } = process.env;
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), '--test', '--test-concurrency=1', `--test-timeout=${options.testTimeoutMs ?? 60_000}`, '--test-reporter=tap', ...files],
    { env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(() => {
    output += `\n# runner: killed after ${options.timeoutMs} ms\n`;
    killGroup();
  }, options.timeoutMs);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      killGroup(); // anything a test file left behind
      resolve({ code, output });
    }),
  );
}

/** "# tests N, # pass N, # fail N" of a nested run. */
export function summarize(run: NestedRun): string {
  return run.output
    .split('\n')
    .filter((line) => /^# (tests|pass|fail) /.test(line))
    .join(', ');
}

/** Fails with the nested failures and the tail of the output unless the run passed tests. */
export function assertPassed(run: NestedRun, label: string): void {
  const failures = run.output.split('\n').filter((line) => /^\s*not ok /.test(line));
  assert.equal(run.code, 0, `${label} failed against the topology:\n${failures.join('\n')}\n${run.output.slice(-20_000)}`);
  assert.match(run.output, /^# pass [1-9]/m);
}
