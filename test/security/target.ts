/**
 * The system under test for the security, fuzz, abuse, crash and soak suites, obtained in one
 * place so the same tests can run against the embedded server (default) or another deployment.
 *
 * GOCHAT_TEST_TARGET_MODULE=<path to a compiled module> swaps the embedded server for any module
 * exporting `startTarget(options): Promise<Target>`, or a `startServer()` shaped like
 * test/helpers/server.ts (e.g. dist/test/topology/cluster-as-server.js: the distributed topology). Targets
 * that cannot offer `pid`, `dataDir` or `restart` leave them undefined and the checks that
 * need them skip with a notice.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startServer, type TestServer } from '../helpers/server.js';
import { CHEAP_HASHING_ENV } from '../helpers/limits.js';

export interface TargetOptions {
  /** Server environment (limits, secrets, timeouts). */
  env?: Record<string, string>;
  /** Reuse a data dir (embedded: restart after a crash on the same files). */
  dataDir?: string;
}

export interface Target extends AsyncDisposable {
  readonly baseUrl: string;
  readonly wsUrl: string;
  /** The process that serves HTTP/WS, for memory sampling. */
  readonly pid?: number;
  /** Pass it back to `startTarget` to restart on the same data (embedded: where the SQLite file is). */
  readonly dataDir?: string;
  /** One process holds everything: `pid` is the whole server and `dataDir` holds its SQLite file. */
  readonly embedded: boolean;
  /** SIGKILL the server process(es): no chance to flush. */
  kill?(): Promise<void>;
  /** Graceful stop. */
  stop(): Promise<void>;
}

type StartTarget = (options: TargetOptions) => Promise<Target>;

let custom: Promise<StartTarget | null> | null = null;

function customTarget(): Promise<StartTarget | null> {
  custom ??= (async () => {
    const modulePath = process.env.GOCHAT_TEST_TARGET_MODULE;
    if (!modulePath) return null;
    const mod = (await import(pathToFileURL(path.resolve(modulePath)).href)) as {
      startTarget?: StartTarget;
      startServer?: (options: TargetOptions) => Promise<TestServer>;
    };
    if (typeof mod.startTarget === 'function') return mod.startTarget;
    const { startServer: start } = mod;
    if (typeof start === 'function') return async (options: TargetOptions) => fromTestServer(await start(options), false);
    throw new Error(`${modulePath} exports neither startTarget() nor startServer()`);
  })();
  return custom;
}

/** True when the tests run against the embedded single-process server (kill -9 and SQLite checks apply). */
export function isEmbeddedTarget(): boolean {
  return !process.env.GOCHAT_TEST_TARGET_MODULE;
}

/** `embedded`: one process holds everything, so its pid and data dir mean what the checks assume. */
function fromTestServer(server: TestServer, embedded = true): Target {
  return {
    baseUrl: server.baseUrl,
    wsUrl: server.wsUrl,
    ...(embedded && server.process.pid !== undefined ? { pid: server.process.pid } : {}),
    dataDir: server.dataDir,
    embedded,
    kill: () => server.kill(),
    async stop() {
      await server.stop();
    },
    async [Symbol.asyncDispose]() {
      await server.stop();
    },
  };
}

export async function startTarget(options: TargetOptions = {}): Promise<Target> {
  // Another deployment gets the cheap password hashing the embedded server has by default.
  const env = { ...CHEAP_HASHING_ENV, ...options.env };
  const start = await customTarget();
  if (start) return start({ ...options, env });
  const server = await startServer({ env, ...(options.dataDir ? { dataDir: options.dataDir } : {}) });
  return fromTestServer(server);
}
