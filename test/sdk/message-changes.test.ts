/**
 * Message changes in the SDK, without a real server: a change that arrives before the message it
 * changes is emitted right after that message (the fake server sends them in that order), the
 * hold is bounded, repeats and older states are dropped, `applyMessageChange` keeps `myReactions`,
 * and a resend carries the reply and extra of the first write.
 */
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMessageChange, type Message, type MessageChangeItem, type MessageChanged } from '../../sdk/index.js';
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
    const changes = new MessageChanges({ emit: (c) => out.push(c), newestSeq: newest, ...(maxHeld ? { maxHeld } : {}) });
    return { out, changes };
  };

  it('holds a bounded number of changes per conversation, dropping the oldest', () => {
    let newest = 4;
    const { out, changes } = collect(() => newest, 3);
    for (let c = 1; c <= 5; c++) changes.item('c1', item(c, message(5, { content: `v${c}` })), 'live');
    assert.equal(out.length, 0);
    newest = 5;
    changes.messageEmitted(message(5));
    assert.deepEqual(out.map((c) => c.changeSeq), [3, 4, 5]);
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
    changes.item('c1', item(4, message(1, { content: 'v4' })), 'catch-up'); // the same change read back
    changes.item('c1', item(6, message(1, { content: 'v6' })), 'catch-up');
    changes.item('c1', item(5, message(1, { content: 'v5' })), 'live'); // a late frame
    changes.item('c1', item(5, message(2)), 'live'); // another message: its own order
    assert.deepEqual(out.map((c) => [c.message.seqId, c.changeSeq, c.source]), [
      [1, 4, 'live'],
      [1, 6, 'catch-up'],
      [2, 5, 'live'],
    ]);
  });

  it('holds nothing of a conversation it has no position in', () => {
    const { out, changes } = collect(() => undefined);
    changes.item('c1', item(1, message(99)), 'live');
    assert.equal(out.length, 1);
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
