/**
 * GOCHAT_ROLE=all pointed at PostgreSQL and Redis: one process, distributed backends. It
 * stores in PostgreSQL, routes through Redis, and drains the fan-out stream itself (no
 * separate task process), so large conversations are still delivered.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startServer } from '../helpers/server.js';
import { Api, WsClient } from '../helpers/client.js';
import type { Conversation, Message, MessageAck } from '../../src/protocol/index.js';
import { createTestDatabase, deleteRedisKeys, REDIS_URL, skipUnless } from '../ports/services.js';

it('role all on PostgreSQL and Redis stores, acks and delivers, large groups included', async (t) => {
  const skip = (await skipUnless('postgres')) || (await skipUnless('redis'));
  if (skip) return t.skip(skip);
  await using db = await createTestDatabase();
  const prefix = `gochat-all-${randomBytes(4).toString('hex')}:`;
  try {
    await using srv = await startServer({
      env: { GOCHAT_DATABASE_URL: db.url, GOCHAT_REDIS_URL: REDIS_URL, GOCHAT_REDIS_PREFIX: prefix, GOCHAT_LARGE_GROUP_THRESHOLD: '2' },
    });
    const api = new Api(srv.baseUrl);
    const [owner, bob, carol] = await Promise.all([api.user('own'), api.user('bob'), api.user('carol')]);
    const group = await api.post<{ conversation: Conversation }>('/api/groups', { groupName: 'g', members: [bob.user.userId, carol.user.userId] }, owner.token);
    const conversationId = group.body.data.conversation.conversationId;
    const [o, b, c] = await Promise.all([owner, bob, carol].map((u) => WsClient.connect(srv.wsUrl, u.token)));
    o!.sendMessage(conversationId, 'to the group', 'g-1');
    const ack = await o!.nextOfType<{ type: 'message-ack'; data: MessageAck }>('message-ack');
    assert.equal(ack.data.seqId, 1);
    for (const ws of [b!, c!]) {
      const frame = await ws.nextOfType<{ type: 'new-message'; data: Message }>('new-message');
      assert.equal(frame.data.messageId, ack.data.messageId);
    }
    const metrics = await (await fetch(`${srv.baseUrl}/metrics`)).text();
    assert.match(metrics, /^gochat_fanout_lag_seconds_count\{[^}]*\} [1-9]/m);
    assert.match(metrics, /^gochat_db_duration_seconds_count\{[^}]*operation="appendMessages"[^}]*\} [1-9]/m);
    for (const ws of [o!, b!, c!]) ws.close();
  } finally {
    await deleteRedisKeys(REDIS_URL, prefix);
  }
});
