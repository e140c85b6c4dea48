/**
 * The HTTP edge as an attacker meets it: slow requests are cut with 408, one address cannot hold
 * every connection, a shutdown is not held hostage by a request that never finishes, and odd
 * paths, oversized headers and numbers in other notations get the contract's envelope.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { Api } from '../helpers/client.js';
import { startServer } from '../helpers/server.js';
import { parseRawAnswer, rawExchange } from '../security/wire.js';

/** A socket that has sent the head of a request whose body never comes. */
async function stalledRequest(port: number, localAddress = '127.0.0.1'): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  await once(socket, 'connect');
  // A failed assertion must not leave the test process waiting on it.
  socket.unref();
  socket.write('POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user');
  return socket;
}

/** Everything the server sends on `socket` until it closes it. */
async function answerOf(socket: net.Socket): Promise<string> {
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  await once(socket, 'close');
  return text;
}

describe('the HTTP edge', { timeout: 30_000 }, () => {
  it('answers a request whose body stalls with 408 REQUEST_TIMEOUT and closes it', async () => {
    await using server = await startServer({ env: { GOCHAT_HTTP_REQUEST_TIMEOUT_MS: '1000', GOCHAT_HTTP_HEADERS_TIMEOUT_MS: '1000' } });
    const socket = await stalledRequest(server.port);
    const { status, body } = parseRawAnswer(await answerOf(socket));
    assert.equal(status, 408);
    assert.equal((JSON.parse(body) as { code: string }).code, 'REQUEST_TIMEOUT');
  });

  it('stops at SIGTERM with exit code 0 although a request is still arriving', async () => {
    const server = await startServer({ env: { GOCHAT_SHUTDOWN_GRACE_MS: '300' } });
    const socket = await stalledRequest(server.port);
    const closed = answerOf(socket);
    assert.equal(await server.stop(), 0);
    await closed;
  });

  it('refuses connections past the per-address cap and keeps serving other addresses', async () => {
    await using server = await startServer({ env: { GOCHAT_MAX_CONNECTIONS_PER_IP: '3' } });
    const held = await Promise.all([1, 2, 3].map(() => stalledRequest(server.port)));
    const refused = net.connect({ port: server.port, host: '127.0.0.1', localAddress: '127.0.0.1' });
    await once(refused, 'close');
    assert.equal(parseRawAnswer(await rawExchange(server.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 1_000)).status, 0);
    const other = net.connect({ port: server.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    await once(other, 'connect');
    other.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(parseRawAnswer(await answerOf(other)).status, 200);
    const first = held.shift()!;
    first.destroy();
    await once(first, 'close');
    // The freed slot is usable again (the server counts the close asynchronously: retry briefly).
    let status = 0;
    for (let attempt = 0; attempt < 20 && status !== 200; attempt++) {
      status = parseRawAnswer(await rawExchange(server.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 1_000)).status;
    }
    assert.equal(status, 200);
    for (const socket of held) socket.destroy();
  });

  it('holds a RATE_LIMITED answer for the configured delay, so a loop on refusals waits', async () => {
    await using server = await startServer({ env: { GOCHAT_RATE_GUEST_PER_IP: '1', GOCHAT_RATE_LIMITED_DELAY_MS: '600' } });
    const api = new Api(server.baseUrl);
    assert.equal((await api.post('/api/auth/guest', {})).status, 200);
    const started = performance.now();
    const refused = await api.post('/api/auth/guest', {});
    // A lower bound on a deliberate hold, not a performance measurement: a slow machine only adds to it.
    assert.ok(performance.now() - started >= 550, `answered after ${Math.round(performance.now() - started)} ms`);
    assert.deepEqual([refused.status, refused.body.code], [429, 'RATE_LIMITED']);
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
  });

  it('answers headers over the limit with 431 HEADERS_TOO_LARGE in the envelope', async () => {
    await using server = await startServer();
    const answer = await rawExchange(server.port, `GET /api/users/info HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    const { status, body } = parseRawAnswer(answer);
    assert.equal(status, 431);
    assert.equal((JSON.parse(body) as { code: string }).code, 'HEADERS_TOO_LARGE');
  });

  it('answers API paths in any case or with doubled slashes with the JSON envelope, not the web app', async () => {
    await using server = await startServer();
    for (const path of ['/API/auth/login', '//api//users/info', '/Api/nowhere', '//[', '//ws', '/healthz/', '/a//b']) {
      const res = await fetch(server.baseUrl + path, { headers: { accept: 'text/html' } });
      assert.match(res.headers.get('content-type') ?? '', /application\/json/, path);
      const body = (await res.json()) as { success: boolean; code: string };
      assert.equal(body.success, false, path);
      assert.equal(res.status, 404, path);
    }
  });

  it('refuses query integers written in other notations', async () => {
    await using server = await startServer();
    const api = new Api(server.baseUrl);
    const me = await api.user('notation');
    const peer = await api.user('peer');
    const { conversationId } = (await api.post<{ conversationId: string }>('/api/conversations', { targetUserId: peer.user.userId }, me.token)).body.data;
    for (const query of ['page=1e3', 'page=0x10', 'page=+1', 'page=1.0', 'page=%201', 'size=1e1', 'afterSeq=-0', 'beforeSeq=0b1', 'page=']) {
      const res = await api.get(`/api/conversations/${conversationId}/messages?${query}`, me.token);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.code, 'VALIDATION_ERROR', query);
    }
    assert.equal((await api.get(`/api/conversations/${conversationId}/messages?page=1&size=10&`, me.token)).status, 200);
  });
});
