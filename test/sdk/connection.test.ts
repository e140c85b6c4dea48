/**
 * The connection part against the in-process fake server: when it reconnects, after how long, and
 * when it stops for good. Time is mocked: each test moves the clock itself.
 */
import { afterEach, beforeEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { CLOSE_CODES, GoChatError, LOCAL_CLOSE_CODES } from '../../sdk/index.js';
import { nextStep } from '../../sdk/lib/disconnect.js';
import { FakeServer, fakeClient, nextEvent, stateReached, disconnectedAtEnd } from './fake-server.js';

const TIMERS = { apis: ['setTimeout', 'setInterval'] } as const;
const HOUR_MS = 3_600_000;

beforeEach(() => mock.timers.enable(TIMERS));
// Timers a test left pending (a request deadline, a reconnect) disturbed the next test's mocked
// clock under Node 20: run them out before the reset.
afterEach(() => {
  mock.timers.runAll();
  mock.timers.reset();
});

test('a server close in 4000–4499 reconnects after the backoff delay, not before', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  const { client, attempts, delaysDrawn } = fakeClient(srv);
  using _disconnect = disconnectedAtEnd(client);
  await client.connect();
  srv.connections[0]!.close(CLOSE_CODES.SLOW_CONSUMER);
  await delaysDrawn(1);
  assert.equal(client.state, 'reconnecting');
  mock.timers.tick(49);
  assert.equal(attempts.length, 1);
  mock.timers.tick(1);
  assert.equal(attempts.length, 2);
  await stateReached(client, 'connected');
});

test('each attempt that fails waits twice as long as the one before', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  srv.refuseUpgradesWith = 503;
  const { client, attempts, delaysDrawn } = fakeClient(srv);
  using _disconnect = disconnectedAtEnd(client);
  client.connect().catch(() => undefined);
  for (const [i, delay] of [50, 100, 200, 400].entries()) {
    await delaysDrawn(i + 1);
    mock.timers.tick(delay - 1);
    assert.equal(attempts.length, i + 1, `attempt ${i + 2} not before ${delay} ms`);
    mock.timers.tick(1);
    assert.equal(attempts.length, i + 2, `attempt ${i + 2} after ${delay} ms`);
  }
});

test('a connection that opened and caught up resets the delay to the shortest', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  srv.refuseUpgradesWith = 503;
  const { client, attempts, delaysDrawn } = fakeClient(srv);
  using _disconnect = disconnectedAtEnd(client);
  const connected = client.connect();
  await delaysDrawn(1);
  mock.timers.tick(50);
  await delaysDrawn(2);
  srv.refuseUpgradesWith = null;
  mock.timers.tick(100);
  await connected;
  srv.connections[0]!.close(CLOSE_CODES.IDLE_TIMEOUT);
  await delaysDrawn(3);
  mock.timers.tick(50);
  assert.equal(attempts.length, 4, 'the first delay again, not the third');
});

test('a server that accepts sockets but fails each catch-up is retried with growing delays', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  srv.listFails = true;
  const { client, attempts, delaysDrawn } = fakeClient(srv);
  using _disconnect = disconnectedAtEnd(client);
  client.on('error', () => undefined);
  client.connect().catch(() => undefined);
  for (const [i, delay] of [50, 100, 200].entries()) {
    await delaysDrawn(i + 1);
    mock.timers.tick(delay - 1);
    assert.equal(attempts.length, i + 1, `attempt ${i + 2} not before ${delay} ms: an opened socket did not reset the delay`);
    mock.timers.tick(1);
    assert.equal(attempts.length, i + 2);
  }
  assert.ok(srv.connections.length >= 3, 'the sockets were accepted: each failed at its catch-up');
});

test('a server close in 4500–4999 stops for good: the error is reported and no attempt follows', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  const { client, attempts } = fakeClient(srv);
  using _disconnect = disconnectedAtEnd(client);
  await client.connect();
  const error = nextEvent(client, 'error');
  srv.connections[0]!.close(CLOSE_CODES.TOKEN_REVOKED, 'token revoked');
  assert.equal((await error).code, 'TOKEN_REVOKED');
  assert.equal(client.state, 'idle');
  mock.timers.tick(HOUR_MS);
  assert.equal(attempts.length, 1);
});

test('an upgrade refused for a token the HTTP API refuses too makes connect() reject with that error', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  srv.tokenValid = false;
  const { client, attempts } = fakeClient(srv);
  using _disconnect = disconnectedAtEnd(client);
  await assert.rejects(client.connect(), (e: unknown) => e instanceof GoChatError && e.code === 'TOKEN_REVOKED');
  assert.equal(client.state, 'idle');
  assert.equal(attempts.length, 1);
});

test('a ping left unanswered for pongTimeoutMs drops the connection and reconnects', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  srv.answerPings = false;
  const { client, written, delaysDrawn } = fakeClient(srv, { pingIntervalMs: 1_000, pongTimeoutMs: 500 });
  using _disconnect = disconnectedAtEnd(client);
  await client.connect();
  mock.timers.tick(1_000);
  assert.deepEqual(written.at(-1), { type: 'ping' });
  mock.timers.tick(499);
  assert.equal(client.state, 'connected');
  mock.timers.tick(1);
  assert.equal(client.state, 'reconnecting');
  await delaysDrawn(1);
});

test('a ping answered in time keeps the connection open', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  const { client } = fakeClient(srv, { pingIntervalMs: 1_000, pongTimeoutMs: 500 });
  using _disconnect = disconnectedAtEnd(client);
  await client.connect();
  const pong = nextEvent(client, 'frame');
  mock.timers.tick(1_000);
  assert.equal((await pong).type, 'pong');
  mock.timers.tick(500);
  assert.equal(client.state, 'connected');
});

test('disconnect() during a backoff wait leaves no timer behind: no attempt follows, however long', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  const { client, attempts, written, delaysDrawn } = fakeClient(srv, { pingIntervalMs: 1_000 });
  await client.connect();
  srv.connections[0]!.close(CLOSE_CODES.SLOW_CONSUMER);
  await delaysDrawn(1);
  client.disconnect();
  mock.timers.tick(HOUR_MS);
  assert.equal(client.state, 'idle');
  assert.equal(attempts.length, 1);
  assert.equal(written.filter((f) => f.type === 'ping').length, 0);
});

test('reconnectNow() during a backoff wait connects at once', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  const { client, attempts, delaysDrawn } = fakeClient(srv);
  using _disconnect = disconnectedAtEnd(client);
  await client.connect();
  srv.connections[0]!.close(CLOSE_CODES.SLOW_CONSUMER);
  await delaysDrawn(1);
  client.reconnectNow();
  assert.equal(attempts.length, 2);
  await stateReached(client, 'connected');
});

test('the SDK’s own close codes are not WebSocket codes, so none can be taken for a server’s', () => {
  for (const code of Object.values(LOCAL_CLOSE_CODES)) {
    assert.ok(code > 0 && code < 1000, `${code} is below the range of WebSocket close codes`);
  }
  assert.deepEqual(nextStep(LOCAL_CLOSE_CODES.NO_PONG, '', true), { kind: 'reconnect-later' });
  assert.deepEqual(nextStep(LOCAL_CLOSE_CODES.DISCONNECT_CALLED, '', true), { kind: 'stop' });
  assert.equal(nextStep(CLOSE_CODES.TOKEN_EXPIRED, '', true).kind, 'fail');
  assert.deepEqual(nextStep(CLOSE_CODES.GOING_AWAY, '', true), { kind: 'reconnect-later' });
});
