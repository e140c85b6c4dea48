/**
 * A full disk, for real: the server's data dir is a small tmpfs, filled up while the server runs.
 * Every write path then answers 503 SERVICE_UNAVAILABLE and stores nothing (no account that
 * answers 201 but was never committed, no token for a user that does not exist), /readyz says
 * not ready, and once space is back everything works again with nothing half-done left behind.
 * Needs root to mount the tmpfs: a developer machine without it skips loudly; under CI=true
 * (root) the mount must work.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AuthResult, Conversation, MessageAck } from '../../src/protocol/index.js';
import { Api, fullHistory, uniqueName, WsClient } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

const TMPFS_BYTES = 4 * 1024 * 1024;

function mountTmpfs(): string | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES}`, 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    fs.rmdirSync(dir);
    return null;
  }
}

/** Writes a filler file until the filesystem refuses even 512 bytes. */
function fillUp(dir: string): string {
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  try {
    for (const size of [256 * 1024, 16 * 1024, 512]) {
      const chunk = Buffer.alloc(size, 1);
      for (;;) {
        try {
          fs.writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}

const mounted = mountTmpfs();
const skip = mounted ? false : 'cannot mount a tmpfs here (needs root)';
if (!mounted) {
  if (process.env.CI === 'true') throw new Error('full-disk test: mounting a tmpfs failed under CI=true (runs as root)');
  console.warn('\n*** SKIPPING the full-disk suite: cannot mount a tmpfs (needs root) ***\n');
}

describe('a full disk', { skip, timeout: 60_000 }, () => {
  let server: TestServer;
  let api: Api;
  let alice: AuthResult;
  let bob: AuthResult;
  let dave: AuthResult;
  let conversationId: string;
  let groupConversationId: string;
  let socket: WsClient;
  let filler: string;
  const ackedBefore: MessageAck[] = [];

  before(async () => {
    server = await startServer({ dataDir: mounted!, env: { GOCHAT_WORLD_ROOM: 'true' } });
    api = new Api(server.baseUrl);
    [alice, bob, dave] = [await api.user('alice'), await api.user('bob'), await api.user('dave')];
    conversationId = (await api.post<Conversation>('/api/conversations', { targetUserId: bob.user.userId }, alice.token)).body.data.conversationId;
    const group = await api.post<{ conversation: Conversation }>('/api/groups', { groupName: 'before', members: [bob.user.userId] }, alice.token);
    groupConversationId = group.body.data.conversation.conversationId;
    socket = await WsClient.connect(server.wsUrl, alice.token);
    socket.sendMessage(conversationId, 'stored before the disk filled', 'before-1');
    ackedBefore.push(((await socket.nextOfType('message-ack')) as { data: MessageAck }).data);
    filler = fillUp(mounted!);
  });

  after(async () => {
    socket?.close();
    await server?.stop();
    if (mounted) {
      execFileSync('umount', [mounted]);
      fs.rmdirSync(mounted);
    }
  });

  const unavailable = (res: { status: number; body: { code?: string } }, what: string) => {
    assert.equal(res.status, 503, `${what}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.code, 'SERVICE_UNAVAILABLE', what);
  };

  it('answers every write with 503 SERVICE_UNAVAILABLE and says not ready', async () => {
    const carol = uniqueName('carol');
    unavailable(await api.post('/api/auth/register', { username: carol, password: 'correct horse' }), 'register');
    unavailable(await api.post('/api/auth/guest', { guestName: uniqueName('g') }), 'guest');
    unavailable(await api.post('/api/conversations', { targetUserId: dave.user.userId }, alice.token), 'open a conversation');
    unavailable(await api.post('/api/groups', { groupName: 'during', members: [bob.user.userId] }, alice.token), 'create a group');
    unavailable(await api.put(`/api/conversations/${conversationId}/read`, undefined, bob.token), 'mark read');
    const second = (await api.post<AuthResult>('/api/auth/login', { username: dave.user.username, password: 'correct horse' })).body.data;
    unavailable(await api.post('/api/auth/logout', undefined, second.token), 'logout');
    socket.sendMessage(groupConversationId, 'not while the disk is full', 'during-1');
    const error = (await socket.next((f) => f.type === 'error' || f.type === 'message-ack')) as { type: string; data: { code: string; tempMessageId?: string } };
    assert.deepEqual([error.type, error.data.code, error.data.tempMessageId], ['error', 'SERVICE_UNAVAILABLE', 'during-1']);
    unavailable(await api.get('/readyz'), 'readyz');
    // A retryable refusal leaves the logged-out token working: nothing was revoked.
    assert.equal((await api.get('/api/users/info', second.token)).status, 200);
    // Nothing was created: the name is still free, the group and the new conversation do not exist.
    assert.equal((await api.post('/api/auth/login', { username: carol, password: 'correct horse' })).status, 401);
    const list = (await api.get<Conversation[]>('/api/conversations', alice.token)).body.data;
    assert.deepEqual(list.map((c) => c.name).filter((n) => n === 'during'), []);
    assert.equal(list.some((c) => c.peer?.userId === dave.user.userId), false);
  });

  it('works again once space is back, with nothing half-done left behind', async () => {
    fs.unlinkSync(filler);
    let ready = 0;
    for (let attempt = 0; attempt < 50 && ready !== 200; attempt++) {
      ready = (await api.get('/readyz')).status;
      if (ready !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(ready, 200);
    const carol = await api.user('carol');
    // The next account gets a fresh id and its own data: no id was handed out during the failure.
    const ids = [alice, bob, dave].map((u) => Number(u.user.userId));
    assert.ok(Number(carol.user.userId) > Math.max(...ids));
    assert.equal((await api.get<{ userId: string }>('/api/users/info', carol.token)).body.data.userId, carol.user.userId);
    socket.sendMessage(conversationId, 'stored after the disk emptied', 'after-1');
    const ack = ((await socket.nextOfType('message-ack')) as { data: MessageAck }).data;
    const history = await fullHistory(api, conversationId, alice.token);
    assert.deepEqual(history.map((m) => m.seqId), [1, 2]);
    assert.deepEqual(history.map((m) => m.messageId), [ackedBefore[0]!.messageId, ack.messageId]);
  });
});
