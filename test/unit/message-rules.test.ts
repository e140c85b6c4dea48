/**
 * The message rules (src/logic/message-rules.ts) as a table: who may recall, edit and react, the
 * windows at their edges (time is an argument: no clock), emoji normalization, extra bounds and
 * reply previews.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError, type GroupRole, type Message } from '../../src/protocol/index.js';
import type { MessageEdit, MessageTarget } from '../../src/repo/index.js';
import { checkExtra, decideMessageChange, normalizeReaction, previewOf } from '../../src/logic/message-rules.js';

const SENT = Date.parse('2026-12-04T12:00:00.000Z');
const config = { recallWindowSeconds: 120, editWindowSeconds: 0, maxReactionsPerMessage: 2 };
const message = (over: Partial<Message> = {}): Message => ({
  messageId: '10',
  conversationId: '1',
  senderId: 'sender',
  senderName: 'sam',
  content: 'hello',
  messageType: 'text',
  seqId: 3,
  sendTime: new Date(SENT).toISOString(),
  ...over,
});
const target = (over: { message?: Partial<Message>; type?: MessageTarget['conversationType']; role?: GroupRole | null; mine?: string[] } = {}): MessageTarget => ({
  message: message(over.message),
  conversationType: over.type ?? 'group',
  actorRole: over.role === undefined ? 'member' : over.role,
  myReactions: over.mine ?? [],
});
const decide = (t: MessageTarget, actor: string, edit: MessageEdit, at = SENT + 1000, c = config) => decideMessageChange(t, actor, edit, at, c);
const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AppError);
    return err.code;
  }
  return 'allowed';
};

describe('message rules: recall', () => {
  it('the sender within the window, up to its last millisecond', () => {
    assert.equal(decide(target(), 'sender', { kind: 'recall' }, SENT + 120_000), true);
    assert.equal(refusal(() => decide(target(), 'sender', { kind: 'recall' }, SENT + 120_001)), 'RECALL_WINDOW_EXPIRED');
  });

  it('a window of 0 lets no sender recall', () => {
    for (const at of [SENT - 5_000, SENT, SENT + 1]) {
      // A clock behind the one that stamped sendTime included.
      assert.equal(refusal(() => decide(target(), 'sender', { kind: 'recall' }, at, { ...config, recallWindowSeconds: 0 })), 'RECALL_WINDOW_EXPIRED');
    }
  });

  it("a group's owner or admin any message at any time, a plain member none but its own", () => {
    const late = SENT + 86_400_000;
    assert.equal(decide(target({ role: 'owner' }), 'boss', { kind: 'recall' }, late), true);
    assert.equal(decide(target({ role: 'admin' }), 'mod', { kind: 'recall' }, late), true);
    assert.equal(decide(target({ role: 'admin' }), 'sender', { kind: 'recall' }, late), true, 'an admin past its own window');
    assert.equal(refusal(() => decide(target({ role: 'member' }), 'other', { kind: 'recall' })), 'FORBIDDEN');
  });

  it('no moderators outside groups', () => {
    assert.equal(refusal(() => decide(target({ type: 'single', role: 'member' }), 'peer', { kind: 'recall' })), 'FORBIDDEN');
    assert.equal(refusal(() => decide(target({ type: 'world', role: 'member' }), 'anyone', { kind: 'recall' })), 'FORBIDDEN');
  });

  it('never a system message; a recalled one is a no-op; a non-member learns nothing', () => {
    assert.equal(refusal(() => decide(target({ role: 'owner', message: { messageType: 'system' } }), 'boss', { kind: 'recall' })), 'FORBIDDEN');
    assert.equal(decide(target({ message: { recalledAt: new Date(SENT).toISOString() } }), 'sender', { kind: 'recall' }), false);
    assert.equal(refusal(() => decide(target({ role: null }), 'sender', { kind: 'recall' })), 'MESSAGE_NOT_FOUND');
  });
});

describe('message rules: edit', () => {
  it('only the sender, only text, not recalled; the same text is a no-op', () => {
    assert.equal(decide(target(), 'sender', { kind: 'edit', content: 'hello!' }), true);
    assert.equal(decide(target(), 'sender', { kind: 'edit', content: 'hello' }), false);
    assert.equal(refusal(() => decide(target({ role: 'owner' }), 'boss', { kind: 'edit', content: 'x' })), 'FORBIDDEN');
    assert.equal(refusal(() => decide(target({ message: { messageType: 'image' } }), 'sender', { kind: 'edit', content: 'x' })), 'MESSAGE_NOT_EDITABLE');
    assert.equal(refusal(() => decide(target({ message: { recalledAt: 'x' } }), 'sender', { kind: 'edit', content: 'x' })), 'MESSAGE_RECALLED');
  });

  it('no window by default; with one, up to its edge', () => {
    assert.equal(decide(target(), 'sender', { kind: 'edit', content: 'years later' }, SENT + 3e10), true);
    const windowed = { ...config, editWindowSeconds: 60 };
    assert.equal(decide(target(), 'sender', { kind: 'edit', content: 'y' }, SENT + 60_000, windowed), true);
    assert.equal(refusal(() => decide(target(), 'sender', { kind: 'edit', content: 'y' }, SENT + 60_001, windowed)), 'EDIT_WINDOW_EXPIRED');
  });
});

describe('message rules: reactions', () => {
  it('a repeat is a no-op both ways; a new emoji past the limit is refused, a present one is not', () => {
    assert.equal(decide(target({ mine: ['👍'] }), 'me', { kind: 'react', emoji: '👍', add: true }), false);
    assert.equal(decide(target(), 'me', { kind: 'react', emoji: '👍', add: false }), false);
    const full = target({ message: { reactions: [{ emoji: '👍', count: 1 }, { emoji: '🎉', count: 4 }] } });
    assert.equal(refusal(() => decide(full, 'me', { kind: 'react', emoji: '😀', add: true })), 'TOO_MANY_REACTIONS');
    assert.equal(decide(full, 'me', { kind: 'react', emoji: '🎉', add: true }), true);
    assert.equal(refusal(() => decide(target({ message: { recalledAt: 'x' } }), 'me', { kind: 'react', emoji: '👍', add: true })), 'MESSAGE_RECALLED');
  });

  it('takes exactly one emoji, and stores a text-style symbol with its emoji selector', () => {
    for (const ok of ['👍', '👍🏽', '🇫🇷', '👨‍👩‍👧', '❤️', '#️⃣']) assert.equal(normalizeReaction(ok), ok);
    assert.equal(normalizeReaction('❤'), '❤️');
    for (const bad of ['', 'a', '1', '👍👍', ':+1:', '👍 ', '\u200d', 'x'.repeat(100)]) assert.equal(refusal(() => normalizeReaction(bad)), 'VALIDATION_ERROR', JSON.stringify(bad));
  });
});

describe('message rules: extra and previews', () => {
  it('extra: an object of at most 2 KiB and 4 levels', () => {
    assert.deepEqual(checkExtra({ a: { b: { c: { d: 1 } } } }), { a: { b: { c: { d: 1 } } } });
    assert.equal(refusal(() => checkExtra({ a: { b: { c: { d: { e: 1 } } } } })), 'VALIDATION_ERROR');
    assert.equal(refusal(() => checkExtra({ s: 'x'.repeat(2048) })), 'VALIDATION_ERROR');
    for (const bad of [null, [1], 'text', 7]) assert.equal(refusal(() => checkExtra(bad)), 'VALIDATION_ERROR');
  });

  it('a preview is one line of at most 100 graphemes, never cutting an emoji', () => {
    assert.equal(previewOf('line one\n\tline two'), 'line one line two');
    const family = '👨‍👩‍👧';
    const cut = previewOf(family.repeat(150));
    assert.equal(cut, `${family.repeat(99)}…`);
  });
});
