/**
 * What the ports report reaches GET /metrics of the embedded server (role all: SQLite, the
 * in-process bus, the WebSocket edge observing sends).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../helpers/server.js';
import { Api, WsClient } from '../helpers/client.js';
import type { Conversation } from '../../src/protocol/index.js';

/** The value of one series of `name` whose labels include `labels` (0 when absent). */
function series(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

it('sends are counted as received, acked or rejected by code, deliveries as delivered, commits by operation', async () => {
  await using srv = await startServer();
  const api = new Api(srv.baseUrl);
  const [alice, bob] = await Promise.all([api.user('alice'), api.user('bob')]);
  const { conversationId } = (await api.post<Conversation>('/api/conversations', { targetUserId: bob.user.userId }, alice.token)).body.data;
  const [a, b] = await Promise.all([WsClient.connect(srv.wsUrl, alice.token), WsClient.connect(srv.wsUrl, bob.token)]);
  try {
    a.sendMessage(conversationId, 'hello', 'm-1');
    await a.nextOfType('message-ack');
    await b.nextOfType('new-message');
    a.sendMessage('999999999', 'nowhere', 'm-2');
    await a.nextOfType('error');
    const text = await (await fetch(`${srv.baseUrl}/metrics`)).text();
    assert.equal(series(text, 'gochat_messages_received_total'), 2);
    assert.equal(series(text, 'gochat_messages_acked_total'), 1);
    assert.equal(series(text, 'gochat_messages_rejected_total', 'code="CONVERSATION_NOT_FOUND"'), 1);
    // One delivery per message per gateway: the message reached bob's connection.
    assert.equal(series(text, 'gochat_messages_delivered_total'), 1);
    assert.ok(series(text, 'gochat_db_duration_seconds_count', 'operation="appendMessages"') >= 1);
    assert.equal(series(text, 'gochat_delivery_duplicates_dropped_total'), 0);
  } finally {
    a.close();
    b.close();
  }
});
