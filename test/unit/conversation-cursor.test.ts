import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../src/protocol/index.js';
import { decodeConversationCursor, encodeConversationCursor } from '../../src/logic/conversation-cursor.js';

const refusedAsCursor = (err: unknown) => err instanceof AppError && err.code === 'VALIDATION_ERROR' && err.details?.field === 'cursor';
const b64 = (text: string) => Buffer.from(text, 'latin1').toString('base64url');

describe('conversation cursor', () => {
  it('decodes what it encodes', () => {
    for (const cursor of [
      { page: 2, after: { pinned: false, updatedAt: 0, conversationId: '1' } },
      { page: 9_999_999, after: { pinned: true, updatedAt: Number.MAX_SAFE_INTEGER, conversationId: '999999999999999999' } },
      { page: 17, after: { pinned: false, updatedAt: 1_767_225_600_123, conversationId: '42' } },
    ]) {
      const text = encodeConversationCursor(cursor);
      assert.match(text, /^[A-Za-z0-9_-]+$/);
      assert.deepEqual(decodeConversationCursor(text), cursor);
    }
  });

  it('still reads a v1 cursor (made before pinning) as a position among the unpinned', () => {
    assert.deepEqual(decodeConversationCursor(b64('v1:3:1767225600000:42')), { page: 3, after: { pinned: false, updatedAt: 1_767_225_600_000, conversationId: '42' } });
  });

  it('refuses anything it did not make, naming cursor', () => {
    const good = encodeConversationCursor({ page: 3, after: { pinned: true, updatedAt: 1_767_225_600_000, conversationId: '42' } });
    const bad = [
      '',
      'not a cursor',
      good + '=',
      `${good}A`,
      'x'.repeat(200),
      b64('v2:3:1767225600000:42'), // no pinned field
      b64('v2:3:2:1767225600000:42'),
      b64('v3:3:0:1767225600000:42'),
      b64('v1:1:1767225600000:42'), // page 1 has no cursor
      b64('v1:0:1767225600000:42'),
      b64('v1:03:1767225600000:42'),
      b64('v1:3:-1:42'),
      b64('v1:3:1e3:42'),
      b64('v1:3:9007199254740992:42'),
      b64('v1:3:1767225600000:0'),
      b64('v1:3:1767225600000:42 OR 1=1'),
      b64('v1:3:1767225600000:42:extra'),
      b64('v1:3:1767225600000:1234567890123456789'),
      JSON.stringify({ page: 3 }),
    ];
    for (const text of bad) assert.throws(() => decodeConversationCursor(text), refusedAsCursor, JSON.stringify(text));
  });

  it('has one spelling: base64url with stray trailing bits is refused', () => {
    const good = encodeConversationCursor({ page: 2, after: { pinned: false, updatedAt: 5, conversationId: '7' } });
    // The last character of unpadded base64 carries unused low bits; flipping them decodes to the same bytes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(good.at(-1)!);
    const variants = [1, 2, 3].map((bit) => good.slice(0, -1) + alphabet[last ^ bit]!).filter((v) => Buffer.from(v, 'base64url').equals(Buffer.from(good, 'base64url')));
    assert.ok(variants.length > 0, 'the encoding leaves unused bits');
    for (const variant of variants) assert.throws(() => decodeConversationCursor(variant), refusedAsCursor);
  });
});
