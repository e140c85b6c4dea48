/**
 * Message changes in the SDK, without a real server: a change that arrives before the message it
 * changes is emitted right after that message (the fake server sends them in that order), the
 * hold is bounded, repeats and older states are dropped, `applyMessageChange` keeps `myReactions`,
 * and a resend carries the reply and extra of the first write.
 */
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMessageChange, withRecalledQuote, type Message, type MessageChangeItem, type MessageChanged } from '../../sdk/index.js';
import { MessageChanges } from '../../sdk/lib/message-changes.js';
import { FakeServer, fakeClient, disconnectedAtEnd, nextEvent } from './fake-server.js';

const message = (seqId: number, over: Partial<Message> = {}): Message => ({
  messageId: `c1-${seqId}`,
  conversationId: 'c1',
  senderId: '2',
  senderName: 'bob',
  content: `m${seqId}`,
  messageType: 'text',
  seqId,
  sendTime: new Date(0).toISOString(),
  ...over,
});
const item = (changeSeq: number, m: Message, reaction?: MessageChangeItem['reaction']): MessageChangeItem => ({
  changeSeq,
  kind: 'message',
  seqId: m.seqId,
  message: m,
  ...(reaction ? { reaction } : {}),
});
const update = (changeSeq: number, items: MessageChangeItem[]) => ({
  type: 'conversation-update',
  data: { conversationId: 'c1', fromChangeSeq: changeSeq, changeSeq, items },
});

test('a live change that arrives before its message is emitted right after that message', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  srv.addMessage('c1', 'first');
  const { client } = fakeClient(srv);
  using _disconnect = disconnectedAtEnd(client);
  const events: string[] = [];
  client.on('message', (m) => events.push(`message ${m.seqId}`));
  client.on('message-changed', (c) => events.push(`changed ${c.message.seqId} ${c.source} ${c.message.content}`));
  await client.connect();
  const connection = srv.connections[0]!;
  // The change of message 2 overtakes its new-message (another path through a cluster).
  connection.send(update(1, [item(1, message(2, { content: '', recalledAt: new Date(0).toISOString(), recalledBy: '2' }))]));
  await nextEvent(client, 'conversation-changed');
  assert.deepEqual(events, [], 'held: message 2 has not been emitted');
  // A change of a message already emitted goes out at once.
  connection.send(update(2, [item(2, message(1, { content: 'first, edited', editedAt: new Date(0).toISOString() }))]));
  await nextEvent(client, 'message-changed');
  assert.deepEqual(events, ['changed 1 live first, edited']);
  srv.deliver('c1', 'second');
  await nextEvent(client, 'message-changed');
  assert.deepEqual(events, ['changed 1 live first, edited', 'message 2', 'changed 2 live ']);
});

test('a resend after a dropped connection carries the replyTo and extra of the first write', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  srv.addMessage('c1', 'question');
  const { client, written } = fakeClient(srv);
  using _disconnect = disconnectedAtEnd(client);
  await client.connect();
  srv.onSend = () => 'ignore';
  const sent = client.send('c1', 'answer', { tempMessageId: 't-reply', replyTo: 'c1-1', extra: { bot: 'ci', n: 1 } });
  await srv.connections[0]!.framesOf('send-message', 1);
  srv.onSend = () => 'ack';
  const next = srv.nextConnection();
  client.reconnectNow();
  await (await next).framesOf('send-message', 1);
  await sent;
  const sends = written.filter((f) => f.type === 'send-message').map((f) => f.data);
  assert.equal(sends.length, 2);
  for (const data of sends) assert.deepEqual(data, { conversationId: 'c1', content: 'answer', messageType: 'text', tempMessageId: 't-reply', replyTo: 'c1-1', extra: { bot: 'ci', n: 1 } });
});

describe('MessageChanges', () => {
  const collect = (newest: () => number | undefined, maxHeld?: number) => {
    const out: MessageChanged[] = [];
    const changes = new MessageChanges({ emit: (c) => out.push(c), newestSeq: newest, me: () => 'me', ...(maxHeld ? { maxHeld } : {}) });
    return { out, changes };
  };

  it('holds the newest state of each waiting message, for a bounded number of messages per conversation', () => {
    let newest = 4;
    const { out, changes } = collect(() => newest, 2);
    // A storm on one message is one held state: it cannot push out another message's recall.
    changes.item('c1', item(1, message(5, { content: '', recalledAt: 'x' })), 'live');
    for (let c = 2; c <= 6; c++) changes.item('c1', item(c, message(6, { content: `v${c}` })), 'live');
    assert.equal(out.length, 0);
    newest = 6;
    changes.messageEmitted(message(6));
    assert.deepEqual(out.map((c) => [c.message.seqId, c.changeSeq]), [[5, 1], [6, 6]]);
    // Past the bound, the message waiting longest is dropped.
    newest = 6;
    for (const seq of [7, 8, 9]) changes.item('c1', item(10 + seq, message(seq)), 'live');
    newest = 9;
    changes.messageEmitted(message(9));
    assert.deepEqual(out.slice(2).map((c) => c.message.seqId), [8, 9]);
  });

  it("tells a late reaction of the user's own again, on the newest state, so myReactions keep it", () => {
    const { out, changes } = collect(() => 10);
    const mine = { userId: 'me', emoji: '👍', added: true };
    const both = [{ emoji: '👍', count: 1 }, { emoji: '❤️', count: 1 }];
    changes.item('c1', { changeSeq: 12, kind: 'message', seqId: 1, message: message(1, { reactions: both }), reaction: { userId: 'carol', emoji: '❤️', added: true } }, 'live');
    changes.item('c1', { changeSeq: 11, kind: 'message', seqId: 1, message: message(1, { content: 'older', reactions: [{ emoji: '👍', count: 1 }] }), reaction: mine }, 'live');
    assert.deepEqual(out.map((c) => [c.changeSeq, c.message.content, c.reaction?.userId]), [[12, 'm1', 'carol'], [12, 'm1', 'me']]);
    const known = out.reduce<Message | undefined>((m, c) => applyMessageChange(m, c, 'me'), message(1, { reactions: [{ emoji: '👍', count: 1 }, { emoji: '❤️', count: 1 }] }));
    assert.equal(known?.content, 'm1', 'never the older state');
    assert.deepEqual(known?.myReactions, ['👍'], 'the late reaction of mine is kept');
    // Told once: the same frame again, or one a catch-up already covers, is not told.
    changes.item('c1', { changeSeq: 11, kind: 'message', seqId: 1, message: message(1), reaction: mine }, 'live');
    changes.item('c1', item(13, message(1, { myReactions: ['👍'] })), 'catch-up');
    changes.item('c1', { changeSeq: 12, kind: 'message', seqId: 1, message: message(1), reaction: { userId: 'me', emoji: '🎉', added: true } }, 'live');
    assert.deepEqual(out.map((c) => c.changeSeq), [12, 12, 13]);
  });

  it("a held message's late own reaction follows its newest state when the message comes", () => {
    let newest = 0;
    const { out, changes } = collect(() => newest);
    changes.item('c1', { changeSeq: 3, kind: 'message', seqId: 1, message: message(1), reaction: { userId: 'carol', emoji: '❤️', added: true } }, 'live');
    changes.item('c1', { changeSeq: 2, kind: 'message', seqId: 1, message: message(1), reaction: { userId: 'me', emoji: '👍', added: true } }, 'live');
    newest = 1;
    changes.messageEmitted(message(1));
    assert.deepEqual(out.map((c) => [c.changeSeq, c.reaction?.userId]), [[3, 'carol'], [3, 'me']]);
  });

  it('releases only the changes up to the message emitted, in the order they came', () => {
    let newest = 1;
    const { out, changes } = collect(() => newest);
    changes.item('c1', item(1, message(3)), 'live');
    changes.item('c1', item(2, message(2)), 'live');
    newest = 2;
    changes.messageEmitted(message(2));
    assert.deepEqual(out.map((c) => c.changeSeq), [2]);
    newest = 3;
    changes.messageEmitted(message(3));
    assert.deepEqual(out.map((c) => c.changeSeq), [2, 1]);
  });

  it('emits each state of a message once, and never an older one after a newer', () => {
    const { out, changes } = collect(() => 10);
    changes.item('c1', item(4, message(1, { content: 'v4' })), 'live');
    changes.item('c1', item(4, message(1, { content: 'v4' })), 'catch-up'); // the same change read back: it carries myReactions
    changes.item('c1', item(4, message(1, { content: 'v4' })), 'catch-up'); // and again: a repeat
    changes.item('c1', item(6, message(1, { content: 'v6' })), 'catch-up');
    changes.item('c1', item(5, message(1, { content: 'v5' })), 'live'); // a late frame
    changes.item('c1', item(6, message(1, { content: 'v6' })), 'live'); // the feed's state already told
    changes.item('c1', item(5, message(2)), 'live'); // another message: its own order
    assert.deepEqual(out.map((c) => [c.message.seqId, c.changeSeq, c.source]), [
      [1, 4, 'live'],
      [1, 4, 'catch-up'],
      [1, 6, 'catch-up'],
      [2, 5, 'live'],
    ]);
  });

  it('a message arriving after its change was told is given as the changed state', () => {
    const { changes } = collect(() => undefined);
    changes.item('c1', item(3, message(5, { content: 'edited', editedAt: 'x' })), 'live');
    assert.deepEqual([changes.current(message(5)).content, changes.current(message(6)).content], ['edited', 'm6']);
  });

  it('holds nothing of a conversation it has no position in', () => {
    const { out, changes } = collect(() => undefined);
    changes.item('c1', item(1, message(99)), 'live');
    assert.equal(out.length, 1);
  });
});

describe('withRecalledQuote', () => {
  it("empties a reply's quote when the message it quotes is recalled, and nothing else", () => {
    const quote = { messageId: 'c1-1', seqId: 1, senderId: '2', senderName: 'bob', messageType: 'text' as const, preview: 'the secret' };
    const reply = message(2, { replyTo: quote });
    const recall: MessageChanged = { conversationId: 'c1', changeSeq: 3, message: message(1, { content: '', recalledAt: 'x' }), source: 'live' };
    assert.deepEqual(withRecalledQuote(reply, recall).replyTo, { ...quote, preview: '', recalled: true });
    const edit: MessageChanged = { ...recall, message: message(1, { content: 'edited' }) };
    assert.equal(withRecalledQuote(reply, edit), reply, 'an edit keeps the snapshot');
    const other: MessageChanged = { ...recall, message: message(9, { content: '', recalledAt: 'x' }) };
    assert.equal(withRecalledQuote(reply, other), reply);
  });
});

describe('applyMessageChange', () => {
  const liked = (counts: Array<[string, number]>) => counts.map(([emoji, count]) => ({ emoji, count }));
  const live = (m: Message, reaction?: MessageChanged['reaction']): MessageChanged => ({ conversationId: 'c1', changeSeq: 1, message: m, source: 'live', ...(reaction ? { reaction } : {}) });

  it('keeps my reactions through a live change, applying only my own reaction', () => {
    const known = message(1, { reactions: liked([['👍', 1]]), myReactions: ['👍'] });
    const byOther = applyMessageChange(known, live(message(1, { reactions: liked([['👍', 2]]) }), { userId: '7', emoji: '👍', added: true }), 'me');
    assert.deepEqual(byOther.myReactions, ['👍']);
    const mine = applyMessageChange(byOther, live(message(1, { reactions: liked([['👍', 2], ['🎉', 1]]) }), { userId: 'me', emoji: '🎉', added: true }), 'me');
    assert.deepEqual(mine.myReactions, ['👍', '🎉']);
    const taken = applyMessageChange(mine, live(message(1, { reactions: liked([['👍', 1], ['🎉', 1]]) }), { userId: 'me', emoji: '👍', added: false }), 'me');
    assert.deepEqual(taken.myReactions, ['🎉']);
    const edited = applyMessageChange(taken, live(message(1, { content: 'new', reactions: liked([['👍', 1], ['🎉', 1]]) })), 'me');
    assert.deepEqual([edited.content, edited.myReactions], ['new', ['🎉']]);
    const recalled = applyMessageChange(edited, live(message(1, { content: '', recalledAt: new Date(0).toISOString() })), 'me');
    assert.equal(recalled.myReactions, undefined, 'a recall takes every reaction');
  });

  it('takes my reactions from a catch-up change as they are, absent meaning none', () => {
    const known = message(1, { reactions: liked([['👍', 1]]), myReactions: ['👍'] });
    const caught = (m: Message): MessageChanged => ({ conversationId: 'c1', changeSeq: 2, message: m, source: 'catch-up' });
    assert.equal(applyMessageChange(known, caught(message(1, { reactions: liked([['👍', 1]]) })), 'me').myReactions, undefined);
    assert.deepEqual(applyMessageChange(undefined, caught(message(1, { reactions: liked([['🎉', 1]]), myReactions: ['🎉'] })), 'me').myReactions, ['🎉']);
  });
});
