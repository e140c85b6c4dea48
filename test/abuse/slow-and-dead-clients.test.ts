/**
 * Slow and dead clients: a socket that stops reading is cut off once its unsent output passes
 * GOCHAT_WS_MAX_BUFFERED_BYTES; a silent (half-open) socket is reaped by the idle timeout.
 * Whether the server still holds a socket is observed from outside: with one socket per user
 * allowed, a new upgrade for that user succeeds only once the old socket is gone.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthResult, Conversation, Message } from '../../src/protocol/index.js';
import { CLOSE_CODES } from '../../src/protocol/index.js';
import { Api, WsClient } from '../helpers/client.js';
import { isEmbeddedTarget, startTarget } from '../security/target.js';
import { RawWebSocket, tryUpgrade } from '../security/wire.js';

/** Resolves once `token`'s owner can open a socket again (the server let go of the old one). */
async function slotFreed(wsUrl: string, token: string, timeoutMs: number, between?: () => Promise<void>): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await tryUpgrade(wsUrl, token)).status === 101) return true;
    if (between) await between();
    else await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

describe('slow and dead clients', () => {
  it('keeps a client that never sends a frame but answers the server’s protocol pings', async () => {
    await using target = await startTarget({ env: { GOCHAT_WS_IDLE_TIMEOUT_MS: '900' } });
    const api = new Api(target.baseUrl);
    const quiet = await WsClient.connect(target.wsUrl, (await api.user('quiet')).token);
    try {
      // The ws client answers pings by itself, as browsers do; it sends nothing else. Counted by the
      // server's pings, not a clock: 9 of them (at least 3 per idle timeout) span 3 idle timeouts.
      await new Promise<void>((resolve, reject) => {
        let pings = 0;
        quiet.socket.on('ping', () => ++pings >= 9 && resolve());
        // Without the server's pings the idle timeout closes it first: fail with the close code.
        quiet.socket.on('close', (code) => reject(new Error(`closed with ${code} after ${pings} pings`)));
      });
      assert.equal(quiet.socket.readyState, quiet.socket.OPEN, 'still connected after three idle timeouts');
      quiet.send({ type: 'ping' });
      assert.equal((await quiet.nextOfType('pong')).type, 'pong', 'the application ping still works');
    } finally {
      quiet.close();
    }
  });

  it('cuts off a reader that stopped reading once its pending output passes the bound; everyone else carries on', async () => {
    await using target = await startTarget({ env: { GOCHAT_WS_MAX_BUFFERED_BYTES: String(64 * 1024), GOCHAT_MAX_SOCKETS_PER_USER: '1' } });
    const api = new Api(target.baseUrl);
    const sender = await api.user('sender');
    const reader = await api.user('reader');
    const conversationId = (await api.post<Conversation>('/api/conversations', { targetUserId: reader.user.userId }, sender.token)).body.data.conversationId;
    const slow = await WsClient.connect(target.wsUrl, reader.token);
    slow.socket.pause(); // stops reading: the kernel buffers fill, then the server's
    const out = await WsClient.connect(target.wsUrl, sender.token);
    // 3,900 astral characters: within the content limit, ~16 KB on the wire each.
    const body = '\u{1F600}'.repeat(3_900);
    let sent = 0;
    const sendBatch = async () => {
      for (let i = 0; i < 100; i++) out.sendMessage(conversationId, `${sent + i} ${body}`, `slow-${sent + i}`);
      await out.collect('message-ack', 100, 30_000);
      sent += 100;
    };
    // Loopback kernel buffers can absorb ~36 MB (tcp_rmem max 32 MB + wmem) before the server's
    // own buffer grows. The embedded server is watched through the socket slot and the flood stops
    // once it lets go; behind a balancer the slot is not observable, so a fixed ~80 MB is sent.
    if (isEmbeddedTarget()) {
      // Past ~80 MB every buffer on the way is full: stop sending and give the server time to
      // let go (a cut-off socket is dropped once its close handshake times out).
      const freed = await slotFreed(target.wsUrl, reader.token, 60_000, async () => {
        if (sent < 5_000) await sendBatch();
        else await new Promise((resolve) => setTimeout(resolve, 100));
      });
      assert.ok(freed, `the server let go of the slow reader (after ${sent} messages)`);
    } else {
      while (sent < 5_000) await sendBatch();
    }

    slow.socket.resume();
    const closed = await slow.closed;
    assert.ok(closed.code === CLOSE_CODES.SLOW_CONSUMER || closed.code === 1006, `closed with ${closed.code}`);
    const delivered = slow.frames.filter((f) => f.type === 'new-message').length;
    assert.ok(delivered < sent, `cut off: ${delivered} of ${sent} delivered before the close`);

    // The sender is unaffected, and nothing acked was lost: the reader catches up from history.
    out.sendMessage(conversationId, 'after the cut', 'after');
    await out.nextOfType('message-ack');
    const last = await api.get<Message[]>(`/api/conversations/${conversationId}/messages?page=1&size=1`, reader.token);
    assert.equal(last.body.data[0]!.seqId, sent + 1);
    assert.equal(last.body.pagination!.total, sent + 1);
    out.close();
  });

  it('reaps a silent, half-open socket after the idle timeout, while a pinging one stays', async () => {
    await using target = await startTarget({ env: { GOCHAT_WS_IDLE_TIMEOUT_MS: '1500', GOCHAT_MAX_SOCKETS_PER_USER: '1' } });
    const api = new Api(target.baseUrl);
    const ghost = await api.user('ghost');
    const watchers = [await api.user('watcher'), await api.user('watcher2')];
    const alive = await api.user('alive');

    // The pinging client connects first: every silent socket opened after it and reaped proves
    // it has itself outlived an idle timeout, without the test guessing at the clock.
    const pinging = await WsClient.connect(target.wsUrl, alive.token);
    const pinger = setInterval(() => pinging.send({ type: 'ping' }), 300);
    // The ghosts complete the handshake, then never send a byte nor answer the close: from the
    // server's side that is a peer whose machine vanished without a FIN. One of them does not even
    // read (its kernel buffer is all the server could ever fill); the watchers read, so we can see
    // how the server ends them.
    const halfOpen = await RawWebSocket.connect(target.wsUrl, ghost.token);
    halfOpen.socket.pause();
    const watched: RawWebSocket[] = [];
    const reaped = async (watcher: AuthResult) => {
      const socket = await RawWebSocket.connect(target.wsUrl, watcher.token);
      watched.push(socket);
      // unref: a socket reaped in time must not leave the run waiting out this bound.
      return Promise.race([socket.ended, new Promise<null>((resolve) => setTimeout(resolve, 15_000, null).unref())]);
    };
    try {
      if (isEmbeddedTarget()) assert.equal((await tryUpgrade(target.wsUrl, ghost.token)).status, 429, 'the silent socket holds the slot at first');
      const ended = await reaped(watchers[0]!);
      assert.equal(ended?.closeCode, CLOSE_CODES.IDLE_TIMEOUT, 'the silent socket was closed for idleness and dropped');
      if (isEmbeddedTarget()) assert.ok(await slotFreed(target.wsUrl, ghost.token, 15_000), 'the half-open socket was reaped');
      // A second silent socket, opened once the first was reaped, is reaped in its turn: by then the
      // pinging client has outlived two idle timeouts.
      assert.equal((await reaped(watchers[1]!))?.closeCode, CLOSE_CODES.IDLE_TIMEOUT, 'the second silent socket was reaped too');
      assert.equal(pinging.socket.readyState, pinging.socket.OPEN);
      if (isEmbeddedTarget()) assert.equal((await tryUpgrade(target.wsUrl, alive.token)).status, 429, 'and still holds its slot');
    } finally {
      clearInterval(pinger);
      halfOpen.destroy();
      for (const socket of watched) socket.destroy();
      pinging.close();
    }
  });
});
