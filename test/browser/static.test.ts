/** The server serves the built web app at `/` without shadowing the API, the WebSocket or the health checks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer } from '../helpers/server.js';
import { WEB_DIR } from './browser.js';

test('GET / serves the web app with a strict content security policy', async (t) => {
  if (!fs.existsSync(path.join(WEB_DIR, 'index.html'))) return t.skip('web app not built: run `npm run build`');
  await using srv = await startServer({ env: { GOCHAT_WEB_DIR: WEB_DIR } });
  const res = await fetch(`${srv.baseUrl}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/html/);
  assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  assert.equal(res.headers.get('cache-control'), 'no-cache');
  const html = await res.text();
  assert.match(html, /<div id="app"/);
  const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(script, 'index.html loads a bundled script');
  const asset = await fetch(`${srv.baseUrl}${script}`);
  assert.equal(asset.status, 200);
  assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
});

test('a deep link gets the app shell; unknown API paths, missing assets and the health checks keep their answers', async (t) => {
  if (!fs.existsSync(path.join(WEB_DIR, 'index.html'))) return t.skip('web app not built: run `npm run build`');
  await using srv = await startServer({ env: { GOCHAT_WEB_DIR: WEB_DIR } });
  const deep = await fetch(`${srv.baseUrl}/conversations/42?x=1`);
  assert.equal(deep.status, 200);
  assert.match(await deep.text(), /<div id="app"/);
  for (const url of ['/api/nope', '/api/conversations/1/nope', '/ws/extra', '/assets/missing.js']) {
    const res = await fetch(`${srv.baseUrl}${url}`);
    assert.equal(res.status, 404, url);
    assert.equal(((await res.json()) as { code: string }).code, 'ROUTE_NOT_FOUND', url);
  }
  const unauthorized = await fetch(`${srv.baseUrl}/api/conversations`);
  assert.equal(unauthorized.status, 401);
  assert.equal((await fetch(`${srv.baseUrl}/healthz`)).status, 200);
  assert.equal((await fetch(`${srv.baseUrl}/readyz`)).status, 200);
});

test('without a built web app the server still serves the API', async () => {
  await using srv = await startServer({ env: { GOCHAT_WEB_DIR: path.join(emptyDir(), 'absent') } });
  const res = await fetch(`${srv.baseUrl}/`);
  assert.equal(res.status, 404);
  assert.equal(((await res.json()) as { code: string }).code, 'ROUTE_NOT_FOUND');
  assert.equal((await fetch(`${srv.baseUrl}/healthz`)).status, 200);
});

function emptyDir(): string {
  return fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'gochat-noweb-'));
}
