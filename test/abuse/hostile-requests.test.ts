/**
 * Requests no client should send, thrown raw at the HTTP and upgrade paths: none of them stops the
 * server, each gets an answer in the contract's envelope (or a close), and a request that asks to
 * upgrade anything but /ws is answered as the plain HTTP request it also is.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Api } from '../helpers/client.js';
import { startServer } from '../helpers/server.js';
import { parseRawAnswer, rawExchange, tryUpgrade } from '../security/wire.js';

const UPGRADE = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

/** Malformed request lines and headers on the upgrade path. */
const HOSTILE_UPGRADES = [
  `GET //[ HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`,
  `GET //[::1]:80/ws HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`,
  `GET http://[ HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`,
  `GET * HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`,
  `GET /ws?token=%E0%A4%A HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`,
  `GET /ws?%%%%=%%%% HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`,
  `GET /ws HTTP/1.1\r\nHost: x\r\n${UPGRADE}Authorization: Bearer\r\n\r\n`,
  `GET /ws HTTP/1.1\r\nHost: x\r\n${UPGRADE}Authorization: Bearer ${'x'.repeat(7000)}\r\n\r\n`,
  `GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
  `GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 99\r\nSec-WebSocket-Key: x\r\n\r\n`,
  `GET /ws HTTP/1.1\r\nHost: x\r\n${UPGRADE}X-Bad: \u0001\u0002\r\n\r\n`,
  `GET /ws HTTP/1.1\r\nHost: x\r\n${UPGRADE}Content-Length: 5\r\n\r\nhello`,
  `POST /api/auth/login HTTP/1.1\r\nHost: x\r\n${UPGRADE}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
  `GET /\u00ff\u00fe HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`,
  `GET /ws HTTP/1.0\r\n${UPGRADE}\r\n`,
  `GET /ws\r\n${UPGRADE}\r\n`,
  `\r\n\r\n\r\n`,
  `GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n`,
];

describe('hostile requests', () => {
  it('survives malformed request lines and headers thrown at the upgrade path', async () => {
    await using server = await startServer();
    const api = new Api(server.baseUrl);
    for (const request of HOSTILE_UPGRADES) {
      const answer = await rawExchange(server.port, request);
      const { status } = parseRawAnswer(answer);
      // A malformed WebSocket handshake is refused (or the connection dropped); others get whatever HTTP answers.
      if (status !== 0 && request.includes('Upgrade: websocket')) {
        assert.ok(status >= 400 && status < 500, `${JSON.stringify(request.slice(0, 40))} answered ${status}`);
      }
      const health = await api.get('/healthz');
      assert.equal(health.status, 200, `server down after ${JSON.stringify(request.slice(0, 40))}`);
    }
    assert.equal(server.process.exitCode, null);
    assert.doesNotMatch(server.output(), /Invalid URL|unhandled rejection/);
  });

  it('answers an h2c upgrade of an API request as the plain HTTP request it is', async () => {
    await using server = await startServer();
    const body = JSON.stringify({ username: 'h2cuser', password: 'correct horse' });
    const answer = await rawExchange(
      server.port,
      `POST /api/auth/register HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    const { status, body: text } = parseRawAnswer(answer);
    assert.equal(status, 201);
    assert.equal((JSON.parse(text) as { data: { username: string } }).data.username, 'h2cuser');
  });

  it('answers a non-WebSocket upgrade request with the HTTP answer of its path', async () => {
    await using server = await startServer();
    const h2c = 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n';
    const health = parseRawAnswer(await rawExchange(server.port, `GET /healthz HTTP/1.1\r\nHost: x\r\n${h2c}\r\n`));
    assert.equal(health.status, 200);
    const unknown = parseRawAnswer(await rawExchange(server.port, `GET /api/nowhere HTTP/1.1\r\nHost: x\r\n${h2c}\r\n`));
    assert.equal(unknown.status, 404);
    assert.equal((JSON.parse(unknown.body) as { code: string }).code, 'ROUTE_NOT_FOUND');
  });

  it('refuses a WebSocket handshake on another path with 404 ROUTE_NOT_FOUND', async () => {
    await using server = await startServer();
    const answer = parseRawAnswer(await rawExchange(server.port, `GET /healthz HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`));
    assert.equal(answer.status, 404);
    assert.equal((JSON.parse(answer.body) as { code: string }).code, 'ROUTE_NOT_FOUND');
  });

  it('lets a valid Authorization header stand when ?token= is empty', async () => {
    await using server = await startServer();
    const api = new Api(server.baseUrl);
    const me = await api.user('emptytoken');
    const answer = await rawExchange(
      server.port,
      `GET /ws?token= HTTP/1.1\r\nHost: x\r\n${UPGRADE}Authorization: Bearer ${me.token}\r\n\r\n`,
      1_000,
    );
    assert.equal(parseRawAnswer(answer).status, 101);
    assert.equal((await tryUpgrade(server.wsUrl, '')).status, 401);
  });
});
