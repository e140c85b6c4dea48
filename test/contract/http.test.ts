import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api } from '../helpers/client.js';

let server: TestServer;
let api: Api;

before(async () => {
  server = await startServer();
  api = new Api(server.baseUrl);
});
after(async () => server.stop());

describe('HTTP transport', () => {
  it('answers a body that is not JSON with 400 INVALID_JSON', async () => {
    const res = await api.request('POST', '/api/auth/login', { rawBody: '{"username": "x",' });
    assert.equal(res.status, 400);
    assert.deepEqual(Object.keys(res.body).sort(), ['code', 'message', 'success']);
    assert.equal(res.body.success, false);
    assert.equal(res.body.code, 'INVALID_JSON');
  });

  it('answers a body over 64 KiB with 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await api.request('POST', '/api/auth/register', { rawBody: JSON.stringify({ username: 'big', password: 'x'.repeat(70 * 1024) }) });
    assert.equal(res.status, 413);
    assert.equal(res.body.code, 'PAYLOAD_TOO_LARGE');
  });

  it('answers a body that is JSON but not an object with VALIDATION_ERROR', async () => {
    for (const rawBody of ['[]', '"text"', '42', 'null']) {
      const res = await api.request('POST', '/api/auth/login', { rawBody });
      assert.equal(res.status, 400, rawBody);
      assert.equal(res.body.code, 'VALIDATION_ERROR', rawBody);
    }
  });

  it('answers a body of another content type with VALIDATION_ERROR', async () => {
    const res = await api.request('POST', '/api/auth/login', { rawBody: 'username=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'VALIDATION_ERROR');
  });

  it('answers an unknown path or method with 404 ROUTE_NOT_FOUND', async () => {
    for (const [method, path] of [
      ['GET', '/api/nothing-here'],
      ['DELETE', '/api/conversations'],
      ['GET', '/api/auth/login'],
    ] as const) {
      const res = await api.request(method, path);
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(res.body.code, 'ROUTE_NOT_FOUND');
    }
  });

  it('never leaks internals in error messages', async () => {
    const res = await api.request('POST', '/api/auth/login', { rawBody: '{"username":' });
    assert.doesNotMatch(res.body.message, /at .*\.js|SELECT|sqlite/i);
  });
});

describe('operations endpoints', () => {
  it('GET /healthz and /readyz answer 200', async () => {
    assert.equal((await api.get('/healthz')).status, 200);
    assert.equal((await api.get('/readyz')).status, 200);
  });

  it('GET /api/openapi.json documents every endpoint of the seed from the validation schemas', async () => {
    const res = await fetch(`${server.baseUrl}/api/openapi.json`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> } }>> };
    assert.match(doc.openapi, /^3\./);
    const expected: Array<[string, string]> = [
      ['/api/auth/register', 'post'],
      ['/api/auth/login', 'post'],
      ['/api/auth/guest', 'post'],
      ['/api/auth/logout', 'post'],
      ['/api/users/info', 'get'],
      ['/api/conversations', 'get'],
      ['/api/conversations', 'post'],
      ['/api/conversations/{conversationId}/messages', 'get'],
      ['/api/conversations/{conversationId}/read', 'put'],
      ['/api/groups', 'post'],
      ['/api/groups/{groupId}', 'get'],
      // Extensions (docs/protocol.md, "Conversations and groups").
      ['/api/users/by-username/{username}', 'get'],
      ['/api/conversations/{conversationId}', 'get'],
      ['/api/conversations/{conversationId}/members', 'get'],
      ['/api/conversations/{conversationId}/members', 'post'],
      ['/api/conversations/{conversationId}/members/{userId}', 'delete'],
      ['/api/conversations/{conversationId}/members/{userId}', 'put'],
      ['/api/conversations/{conversationId}', 'put'],
      ['/api/conversations/{conversationId}', 'delete'],
      ['/api/conversations/{conversationId}/changes', 'get'],
      ['/api/conversations/{conversationId}/settings', 'put'],
      ['/api/conversations/{conversationId}/messages', 'post'],
      ['/api/groups', 'get'],
    ];
    for (const [path, method] of expected) assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} is documented`);
    const register = doc.paths['/api/auth/register']!.post!.requestBody!.content['application/json']!.schema;
    assert.deepEqual(Object.keys(register.properties ?? {}).sort(), ['password', 'username']);
  });
});
