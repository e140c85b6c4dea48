// Lint rules, including the dependency direction of docs/architecture.md:
// gateway -> logic -> repo/bus interfaces; protocol imports nothing.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const restrict = (patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

// Port implementations, role components and the drivers behind them: only src/app/ picks and builds them.
const IMPLEMENTATION_MODULES = ['**/repo/sqlite/**', '**/repo/postgres/**', '**/bus/memory-bus*', '**/bus/redis-*'];
const DRIVERS = ['better-sqlite3', 'pg', 'ioredis', '@grpc/*'];
const BUILT_BY_APP = ['SqliteRepo', 'PostgresRepo', 'MemoryBus', 'RedisBus', 'RedisFanoutQueue', 'Logic', 'WsGateway', 'RpcServer', 'RpcLogicClient', 'FanoutWorker', 'Metrics'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'web/dist/**', 'data/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['src/protocol/**'],
    // The schemas are TypeBox values; nothing else: the SDK and the web app bundle protocol/.
    rules: restrict([{ regex: '^(?!\\./|@sinclair/typebox$)', message: 'protocol/ imports only TypeBox: sdk and web bundle it.' }]),
  },
  {
    // Rule 5: only app/ constructs the ports' implementations and the role components.
    files: ['src/**'],
    ignores: ['src/app/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: `NewExpression[callee.name=/^(${BUILT_BY_APP.join('|')})$/]`,
          message: 'Only src/app/ constructs implementations and role components: take them as parameters.',
        },
      ],
    },
  },
  {
    files: ['src/limits/**'],
    rules: restrict([{ regex: '^(?!\\./|\\.\\./protocol/)', message: 'limits/ is shared by gateway and logic: it imports only protocol.' }]),
  },
  {
    files: ['src/ports/**'],
    rules: restrict([{ regex: '^(?!\\./)', message: 'ports/ is dependency-free: every layer imports it.' }]),
  },
  {
    files: ['src/logic/**'],
    rules: restrict([
      {
        group: ['**/gateway/**', '**/rpc/**', '**/app/**', '**/task/**', '**/metrics/**', ...IMPLEMENTATION_MODULES, 'fastify', 'ws', 'prom-client', ...DRIVERS],
        message: 'logic/ sees only protocol, ports and the Repo/Bus interfaces.',
      },
    ]),
  },
  {
    files: ['src/repo/**', 'src/bus/**'],
    rules: restrict([
      { group: ['**/logic/**', '**/gateway/**', '**/rpc/**', '**/app/**', '**/task/**', '**/metrics/**', 'prom-client'], message: 'storage and bus implementations never import logic, transports or metrics.' },
    ]),
  },
  {
    files: ['src/gateway/**'],
    rules: restrict([
      {
        // Of logic it sees only the LogicApi.
        group: ['**/logic/*', '!**/logic/api*'],
        message: 'gateway sees only LogicApi, never logic internals.',
      },
      {
        group: ['**/repo/**', '**/app/**', '**/rpc/**', '**/task/**', '**/metrics/**', '**/bus/*', '!**/bus/index*', ...DRIVERS, 'prom-client'],
        message: 'gateway sees only LogicApi and the Bus interface: never storage, rpc, a Redis client or a bus implementation.',
      },
    ]),
  },
  {
    files: ['src/rpc/**'],
    rules: restrict([{ group: ['**/repo/**', '**/gateway/**', '**/app/**', '**/bus/**', '**/task/**', '**/metrics/**', '**/logic/logic*', 'better-sqlite3', 'pg', 'ioredis'], message: 'rpc/ translates LogicApi to gRPC and back; nothing else.' }]),
  },
  {
    files: ['src/task/**'],
    rules: restrict([
      { group: ['**/logic/**', '**/gateway/**', '**/rpc/**', '**/app/**', '**/metrics/**', ...IMPLEMENTATION_MODULES, ...DRIVERS], message: 'task/ sees only the bus, fan-out queue and storage interfaces.' },
    ]),
  },
  {
    files: ['src/metrics/**'],
    rules: restrict([
      { group: ['**/logic/**', '**/gateway/**', '**/rpc/**', '**/app/**', '**/task/**', '**/bus/**', ...IMPLEMENTATION_MODULES, ...DRIVERS], message: 'metrics/ turns port reports into Prometheus metrics; it knows no implementation.' },
    ]),
  },
  {
    files: ['sdk/**', 'web/**'],
    rules: restrict([{ group: ['**/src/*', '!**/src/protocol', '**/src/*/**', '!**/src/protocol/**'], message: 'sdk/ and web/ import only protocol.' }]),
  },
  {
    files: ['web/**/*.{js,ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
  },
);
