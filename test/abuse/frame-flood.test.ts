/**
 * A hostile client floods frames: the server's memory stays bounded (far below what it was sent),
 * a frame that announces a huge payload is refused before it is buffered, and pipelined sends
 * past the per-connection in-flight cap are all answered, in order.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Conversation, Message, MessageAck } from '../../src/protocol/index.js';
import { Api, WsClient } from '../helpers/client.js';
import { startTarget } from '../security/target.js';
import { RawWebSocket, encodeFrame, OPCODE } from '../security/wire.js';
import { MB, rssBytes } from '../soak/rss.js';

/** Writes `frames` as fast as the socket drains, never reading the replies. */
async function pump(raw: RawWebSocket, frames: number, make: (i: number) => Buffer): Promise<number> {
  let bytes = 0;
  for (let i = 0; i < frames; i++) {
    if (raw.socket.destroyed) break;
    const frame = make(i);
    bytes += frame.length;
    if (!raw.write(frame)) await new Promise<void>((resolve) => { raw.socket.once('drain', resolve); raw.socket.once('close', resolve); });
  }
  return bytes;
}

describe('frame floods', () => {
  it('keeps server memory bounded while a client floods big, bad and valid frames without reading', async (t) => {
    await using target = await startTarget();
    if (target.pid === undefined) return t.skip('the target exposes no server pid to sample');
    const api = new Api(target.baseUrl);
    const me = await api.user('flooder');
    const peer = await api.user('peer');
    const conversationId = (await api.post<Conversation>('/api/conversations', { targetUserId: peer.user.userId }, me.token)).body.data.conversationId;
    const warm = await WsClient.connect(target.wsUrl, me.token);
    warm.send({ type: 'ping' });
    await warm.nextOfType('pong');
    const baseline = rssBytes(target.pid);

    let pumped = 0;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(target.pid!))), 50);
    try {
      const raw = await RawWebSocket.connect(target.wsUrl, me.token);
      raw.socket.pause();
      const garbage = encodeFrame(OPCODE.text, Buffer.alloc(63 * 1024, 0x7b)); // "{{{{…": 63 KiB of not-JSON
      const oversized = encodeFrame(OPCODE.text, Buffer.alloc(200 * 1024, 0x20)); // over 64 KiB, under the hard limit
      pumped += await pump(raw, 6_000, (i) => {
        if (i % 3 === 0) return garbage;
        if (i % 3 === 1) return oversized;
        return encodeFrame(OPCODE.text, Buffer.from(JSON.stringify({ type: 'send-message', data: { conversationId, content: `flood ${i}`, tempMessageId: `f${i}` } })));
      });
      raw.destroy();
    } finally {
      clearInterval(sampler);
    }
    const growth = peak - baseline;
    t.diagnostic(`pushed ${Math.round(pumped / MB)} MB; server RSS ${Math.round(baseline / MB)} MB -> peak ${Math.round(peak / MB)} MB`);
    assert.ok(pumped > 400 * MB, `the flood was big: ${Math.round(pumped / MB)} MB`);
    // Retaining the flood would cost its full size; a bounded server only churns garbage.
    assert.ok(growth < Math.min(200 * MB, pumped / 2), `server RSS grew ${Math.round(growth / MB)} MB while ${Math.round(pumped / MB)} MB were pushed at it`);
    warm.send({ type: 'ping' });
    await warm.nextOfType('pong');
    assert.equal((await api.get('/healthz')).status, 200);
    warm.close();
  });

  it('refuses a frame that announces a huge payload as soon as the header arrives, without buffering it', async (t) => {
    await using target = await startTarget();
    const api = new Api(target.baseUrl);
    const me = await api.user('liar');
    const raw = await RawWebSocket.connect(target.wsUrl, me.token);
    // Header says 512 MiB; then stream up to 32 MiB of it. A bounded server answers 1009 at once.
    raw.write(encodeFrame(OPCODE.text, Buffer.alloc(0), { declaredLength: 512 * MB }).subarray(0, 14));
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const closeFrame = () => raw.frames.find((f) => f.opcode === OPCODE.close);
    let written = 0;
    while (!closeFrame() && !raw.socket.destroyed && written < 32 * MB) {
      written += chunk.length;
      if (!raw.write(chunk)) await Promise.race([new Promise((resolve) => raw.socket.once('drain', resolve)), raw.ended]);
      else await new Promise((resolve) => setImmediate(resolve));
    }
    t.diagnostic(`close frame after ${Math.round(written / 1024)} KiB of the announced 512 MiB`);
    assert.ok(closeFrame(), `no close frame after ${Math.round(written / MB)} MB of one frame`);
    assert.equal(closeFrame()!.payload.readUInt16BE(0), 1009);
    raw.destroy();
    assert.equal((await api.get('/healthz')).status, 200);
  });

  it('answers every pipelined send past the in-flight cap, in order, with gap-free seqIds', async () => {
    await using target = await startTarget({ env: { GOCHAT_WS_MAX_INFLIGHT_SENDS: '2' } });
    const api = new Api(target.baseUrl);
    const me = await api.user('pipeliner');
    const peer = await api.user('peer');
    const conversationId = (await api.post<Conversation>('/api/conversations', { targetUserId: peer.user.userId }, me.token)).body.data.conversationId;
    const ws = await WsClient.connect(target.wsUrl, me.token);
    for (let i = 0; i < 500; i++) ws.sendMessage(conversationId, `pipelined ${i}`, `p${i}`);
    const acks = (await ws.collect<{ type: 'message-ack'; data: MessageAck }>('message-ack', 500, 30_000)).map((f) => f.data);
    assert.deepEqual(acks.map((a) => a.tempMessageId), Array.from({ length: 500 }, (_, i) => `p${i}`));
    assert.deepEqual(acks.map((a) => a.seqId), Array.from({ length: 500 }, (_, i) => i + 1));
    const newest = await api.get<Message[]>(`/api/conversations/${conversationId}/messages?page=1&size=1`, peer.token);
    assert.equal(newest.body.pagination?.total, 500);
    ws.close();
  });
});
