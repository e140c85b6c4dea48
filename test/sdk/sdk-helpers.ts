/** Helpers for the SDK tests: real clients against a real server, and waits that time out instead of sleeping. */
import net from 'node:net';
import WebSocket from 'ws';
import { GoChatClient, type GoChatClientOptions, type Message } from '../../sdk/index.js';
import { uniqueName } from '../helpers/client.js';

export const PASSWORD = 'correct horse';

/** Every client a test made, so `disconnectClients` can stop them even when the test failed midway. */
const clients = new Set<GoChatClient>();

/** A client for `baseUrl` using the `ws` package, with quick reconnects so tests run fast. */
export function newClient(baseUrl: string, options: GoChatClientOptions = {}): GoChatClient {
  const client = new GoChatClient({ baseUrl, WebSocket, reconnect: { minDelayMs: 50, maxDelayMs: 500 }, ...options });
  clients.add(client);
  return client;
}

/**
 * For `afterEach`: a client left reconnecting to a server that is gone keeps its timers alive, and
 * the test file's process would never exit.
 */
export function disconnectClients(): void {
  for (const client of clients) client.disconnect();
  clients.clear();
}

/** Registers a fresh user and logs the client in. */
export async function signUp(client: GoChatClient, prefix = 'sdk'): Promise<void> {
  const username = uniqueName(prefix);
  await client.register(username, PASSWORD);
  await client.login(username, PASSWORD);
}

/** Resolves when `check()` holds after some event of `client`; rejects with `describe()` after the timeout. */
export function until(client: GoChatClient, check: () => boolean, describe: () => string, timeoutMs = 15_000): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const offs: Array<() => void> = [];
    const done = (err?: Error) => {
      clearTimeout(timer);
      for (const off of offs) off();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => done(new Error(`timed out: ${describe()}`)), timeoutMs);
    const onEvent = () => {
      if (check()) done();
    };
    for (const event of ['message', 'ack', 'state', 'synced', 'error', 'frame', 'conversation-added', 'conversation-changed', 'conversation-removed', 'conversation-settings', 'message-changed', 'conversation-read', 'read-receipt', 'typing'] as const) offs.push(client.on(event, onEvent));
  });
}

/** Records every 'message' event of a client, by conversation. */
export function recordMessages(client: GoChatClient): Map<string, Message[]> {
  const seen = new Map<string, Message[]>();
  client.on('message', (m) => {
    const list = seen.get(m.conversationId) ?? [];
    list.push(m);
    seen.set(m.conversationId, list);
  });
  return seen;
}

/** A TCP port that was free a moment ago, so a restarted server can come back on the same address. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
