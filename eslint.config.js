// Lint rules, including the dependency direction of docs/architecture.md:
// gateway -> logic -> repo/bus interfaces; protocol imports nothing.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const restrict = (patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

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
    files: ['src/logic/**'],
    rules: restrict([
      {
        group: ['**/gateway/**', '**/rpc/**', '**/app/**', '**/repo/sqlite/**', '**/repo/postgres/**', '**/bus/redis*', '**/bus/memory*', 'fastify', 'ws', 'better-sqlite3', 'pg', 'ioredis', '@grpc/*'],
        message: 'logic/ sees only protocol and the Repo/Bus interfaces.',
      },
    ]),
  },
  {
    files: ['src/repo/**', 'src/bus/**'],
    rules: restrict([{ group: ['**/logic/**', '**/gateway/**', '**/rpc/**', '**/app/**'], message: 'storage and bus implementations never import logic or transports.' }]),
  },
  {
    files: ['src/gateway/**'],
    rules: restrict([{ group: ['**/repo/**', '**/app/**', 'better-sqlite3', 'pg'], message: 'gateway sees only LogicApi and Bus, never storage.' }]),
  },
  {
    files: ['src/rpc/**'],
    rules: restrict([{ group: ['**/repo/**', '**/gateway/**', '**/app/**', '**/bus/**', '**/logic/logic*', 'better-sqlite3', 'pg', 'ioredis'], message: 'rpc/ translates LogicApi to gRPC and back; nothing else.' }]),
  },
  {
    files: ['src/task/**'],
    rules: restrict([{ group: ['**/logic/**', '**/gateway/**', '**/rpc/**', '**/app/**', '**/repo/sqlite/**', '**/repo/postgres/**', '**/bus/redis*', '**/bus/memory*', 'better-sqlite3', 'pg', 'ioredis'], message: 'task/ sees only the bus and storage interfaces.' }]),
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
