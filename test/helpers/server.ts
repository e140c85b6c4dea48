/**
 * Starts the real GoChat server as a child process (`node dist/src/app/main.js`) on an
 * ephemeral port with its own temp data dir, the way a user runs it. Abuse limits are raised and
 * password hashing is cheap (test/helpers/limits.ts) unless `env` says otherwise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHEAP_HASHING_ENV, RAISED_LIMITS_ENV } from './limits.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/app/main.js');

export interface ServerOptions {
  env?: Record<string, string>;
  dataDir?: string;
}

export interface TestServer extends AsyncDisposable {
  readonly baseUrl: string;
  readonly wsUrl: string;
  readonly port: number;
  readonly dataDir: string;
  readonly process: ChildProcess;
  /** Everything the server wrote to stdout/stderr so far. */
  output(): string;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: no chance to flush anything. */
  kill(): Promise<void>;
}

export async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-test-'));
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      GOCHAT_DATA_DIR: dataDir,
      GOCHAT_LOG_LEVEL: 'info',
      ...RAISED_LIMITS_ENV,
      ...CHEAP_HASHING_ENV,
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Kept whole for the server's life: tests assert what it never wrote.
  let output = '';
  const append = (chunk: Buffer) => (output += chunk.toString());
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // The server binds port 0 and logs the port it got.
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 20_000);
    const onData = () => {
      for (const line of output.split('\n')) {
        if (!line.includes('"msg":"listening"')) continue;
        try {
          const parsed = JSON.parse(line) as { port?: number };
          if (parsed.port) {
            clearTimeout(timer);
            child.stdout!.off('data', onData);
            resolve(parsed.port);
            return;
          }
        } catch {
          // a partial line: wait for the rest
        }
      }
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output}`));
    });
  });

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    port,
    dataDir,
    process: child,
    output: () => output,
    stop,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}
