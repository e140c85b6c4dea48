/**
 * The protocol codec: what goes on the wire is exactly what the schemas declare, and a message is
 * the same text however it reached the encoder (built, stored, paged, sent over gRPC).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FormatRegistry, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import {
  encodeErrorEnvelope,
  encodeMessage,
  encodeServerFrame,
  encodeSuccessEnvelope,
  MessageList,
  type Message,
} from '../../src/protocol/index.js';
import { envelope, ErrorEnvelopeSchema, MessageSchema, PaginationSchema, ServerFrameSchema } from '../../src/protocol/schemas.js';
import { encodeStoredMessageBody, encodingFormatOf, joinStoredMessage, MESSAGE_ENCODING_FORMAT, withStoredEncoding } from '../../src/protocol/stored-encoding.js';

// TypeBox checks formats only when told how: an ISO-8601 UTC time with milliseconds.
FormatRegistry.Set('date-time', (v) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(v));

/** The schema as the wire must be: nothing undeclared. */
const ExactMessage = Type.Object(MessageSchema.properties, { additionalProperties: false });

const message = (seqId: number, content = `m${seqId}`): Message => ({
  messageId: String(100 + seqId),
  conversationId: '7',
  senderId: '1',
  senderName: 'ann',
  content,
  messageType: 'text',
  seqId,
  sendTime: '2026-12-02T08:00:00.000Z',
});

describe('the protocol codec', () => {
  it('encodes a message with exactly the fields of MessageSchema, in its order', () => {
    const decoded = JSON.parse(encodeMessage(message(1))) as Record<string, unknown>;
    assert.ok(Value.Check(ExactMessage, decoded));
    assert.deepEqual(Object.keys(decoded), Object.keys(MessageSchema.properties).filter((key) => (MessageSchema.required as readonly string[] | undefined)?.includes(key)));
  });

  it('a stored body joined with its row id is the encoding of the whole message', () => {
    const { messageId, ...rest } = message(2, 'quote " backslash \\ and \u2028');
    assert.equal(joinStoredMessage(messageId, encodeStoredMessageBody(rest)), encodeMessage({ messageId, ...rest }));
  });

  it('reuses the stored encoding a store handed over instead of encoding again', () => {
    const { messageId, ...rest } = message(3);
    const kept = withStoredEncoding({ messageId, ...rest }, encodeStoredMessageBody(rest));
    // Changing the value after the fact shows which text is sent: the remembered one.
    (kept as { content: string }).content = 'changed';
    assert.equal(JSON.parse(encodeMessage(kept)).content, 'm3');
  });

  it('a remembered encoding is invisible to the value: keys, JSON, equality and copies', () => {
    const { messageId, ...rest } = message(5);
    const kept = withStoredEncoding({ messageId, ...rest }, encodeStoredMessageBody(rest));
    assert.deepEqual(Object.keys(kept), Object.keys(message(5)));
    assert.deepStrictEqual(kept, message(5));
    assert.equal(JSON.stringify(kept), JSON.stringify(message(5)));
    // A copy with a change is encoded from its own fields, never with the original's text.
    assert.equal(JSON.parse(encodeMessage({ ...kept, content: 'edited' })).content, 'edited');
  });

  it('a new-message frame carries the message encoding and matches ServerFrameSchema', () => {
    const frame = encodeServerFrame({ type: 'new-message', data: message(4) });
    assert.equal(frame, `{"type":"new-message","data":${encodeMessage(message(4))}}`);
    assert.ok(Value.Check(ServerFrameSchema, JSON.parse(frame)));
    for (const other of [{ type: 'pong' as const }, { type: 'error' as const, data: { code: 'RATE_LIMITED', message: 'slow down' } }]) {
      assert.ok(Value.Check(ServerFrameSchema, JSON.parse(encodeServerFrame(other))));
    }
  });

  it('a message list made from values and one made from encodings encode the same text', () => {
    const values = [message(5), message(6, 'emoji 😀')];
    const fromValues = MessageList.of(values);
    const fromEncoded = MessageList.ofEncoded(values.map(encodeMessage));
    assert.equal(fromEncoded.encode(), fromValues.encode());
    assert.deepEqual(fromEncoded.values, values);
    assert.equal(fromEncoded.length, 2);
    const received = MessageList.decode(fromValues.encode(), 2);
    assert.deepEqual([received.values, received.length], [values, 2]);
    assert.equal(JSON.stringify({ page: fromEncoded }), JSON.stringify({ page: values }));
  });

  it('the success envelope around a page matches the history response schema', () => {
    const pagination = { page: 1, size: 2, total: 9, hasMore: true };
    const body = JSON.parse(encodeSuccessEnvelope(MessageList.of([message(7)]), 'OK', pagination));
    assert.ok(Value.Check(envelope(Type.Array(ExactMessage), true), body));
    assert.ok(Value.Check(PaginationSchema, body.pagination));
    assert.deepEqual(JSON.parse(encodeSuccessEnvelope(null, 'Logged out')), { success: true, message: 'Logged out', data: null });
  });

  it('the error envelope has the contract’s three fields and nothing else', () => {
    const body = JSON.parse(encodeErrorEnvelope(Object.assign(new Error('x'), { code: 'RATE_LIMITED', message: 'Too many', stack: 's' })));
    assert.deepEqual(body, { success: false, message: 'Too many', code: 'RATE_LIMITED' });
    assert.ok(Value.Check(ErrorEnvelopeSchema, body));
  });

  it('a required field added to MessageSchema names a new stored-encoding format, so old rows are never served as stored', () => {
    const withField = Type.Object({ ...MessageSchema.properties, pinnedBy: Type.String() });
    assert.notEqual(encodingFormatOf(withField), MESSAGE_ENCODING_FORMAT);
    const { messageId, conversationId, ...rest } = MessageSchema.properties;
    assert.notEqual(encodingFormatOf(Type.Object({ conversationId, messageId, ...rest })), MESSAGE_ENCODING_FORMAT, 'reordered');
  });

  it('an optional field keeps the format: a row stored before it has none, so it stays exact', () => {
    const withOptional = Type.Object({ ...MessageSchema.properties, pinnedBy: Type.Optional(Type.String()) });
    assert.equal(encodingFormatOf(withOptional), MESSAGE_ENCODING_FORMAT);
    // The format of every row stored before message actions existed (SQLite migration 5).
    assert.equal(MESSAGE_ENCODING_FORMAT, 'm1-9bbb61da');
  });

  it('a new message type or a reworded description keeps the format: stored rows stay exact', () => {
    const moreTypes = Type.Object({ ...MessageSchema.properties, messageType: Type.String({ enum: ['text', 'image', 'file', 'system', 'poll'] }) });
    const described = Type.Object({ ...MessageSchema.properties, content: Type.String({ description: 'what was said' }) });
    assert.equal(encodingFormatOf(moreTypes), MESSAGE_ENCODING_FORMAT);
    assert.equal(encodingFormatOf(described), MESSAGE_ENCODING_FORMAT);
  });
});
