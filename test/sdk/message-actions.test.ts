/**
 * Message actions through the SDK against the real server: reply and extra on both send paths, the
 * typed recall, edit and reaction calls, `message-changed` live on every member's client, and a
 * client that was away while messages changed catching all of it up after reconnecting, ending
 * with the state history shows.
 */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMessageChange, GoChatError, type ConversationUpdate, type GoChatClient, type Message, type MessageChanged } from '../../sdk/index.js';
import { startServer } from '../helpers/server.js';
import { disconnectClients, newClient, PASSWORD, recordMessages, signUp, until } from './sdk-helpers.js';

afterEach(disconnectClients);

/** Every `message-changed` of a client. */
function recordChanges(client: GoChatClient): MessageChanged[] {
  const seen: MessageChanged[] = [];
  client.on('message-changed', (c) => seen.push(c));
  return seen;
}

/** The messages of a client as an app keeps them: from `message` events, changed by `message-changed`. */
function keepMessages(client: GoChatClient): Map<string, Message> {
  const store = new Map<string, Message>();
  client.on('message', (m) => store.set(m.messageId, m));
  client.on('message-changed', (c) => store.set(c.message.messageId, applyMessageChange(store.get(c.message.messageId), c, client.user!.userId)));
  return store;
}

test('the message action calls: reply and extra over HTTP and the socket, recall, edit, reactions', async () => {
  await using srv = await startServer();
  const [ann, ben] = [newClient(srv.baseUrl), newClient(srv.baseUrl)];
  await Promise.all([signUp(ann, 'ann'), signUp(ben, 'ben')]);
  const chat = (await ann.openConversation(ben.user!.userId)).conversationId;

  const question = await ann.postMessage(chat, 'lunch?', { extra: { poll: true } });
  assert.deepEqual(question.extra, { poll: true });
  const reply = await ben.postMessage(chat, 'yes', { replyTo: question.messageId });
  assert.deepEqual(reply.replyTo, { messageId: question.messageId, seqId: question.seqId, senderId: ann.user!.userId, senderName: ann.user!.username, messageType: 'text', preview: 'lunch?' });

  // Over the socket: the 'message' of an own reply carries the server's snapshot, which an ack cannot.
  const annMessages = recordMessages(ann);
  await ann.connect();
  const ack = await ann.send(chat, 'at noon', { replyTo: reply.messageId, extra: { where: 'canteen' } });
  await until(ann, () => (annMessages.get(chat) ?? []).some((m) => m.seqId === ack.seqId), () => 'ann never saw her own reply');
  const own = annMessages.get(chat)!.find((m) => m.seqId === ack.seqId)!;
  assert.deepEqual(own, (await ben.messages(chat)).messages.find((m) => m.seqId === ack.seqId));
  assert.deepEqual([own.replyTo?.messageId, own.replyTo?.preview, own.extra], [reply.messageId, 'yes', { where: 'canteen' }]);
  // Queued while away: the outbox keeps the replyTo and extra for the write after reconnecting.
  ann.disconnect();
  const pending = ann.send(chat, 'or at one', { replyTo: question.messageId, extra: { where: 'park' } });
  assert.deepEqual([ann.pendingSends[0]?.replyTo, ann.pendingSends[0]?.extra], [question.messageId, { where: 'park' }]);
  await ann.connect();
  const later = await pending;
  const stored = (await ben.messages(chat)).messages.find((m) => m.seqId === later.seqId)!;
  assert.deepEqual([stored.replyTo?.messageId, stored.extra], [question.messageId, { where: 'park' }]);
  await until(ann, () => (annMessages.get(chat) ?? []).some((m) => m.seqId === later.seqId), () => 'ann never saw her queued reply');
  assert.deepEqual(annMessages.get(chat)!.find((m) => m.seqId === later.seqId), stored);

  const liked = await ben.react(question.messageId, '👍');
  assert.deepEqual([liked.reactions, liked.myReactions], [[{ emoji: '👍', count: 1 }], ['👍']]);
  await ann.react(question.messageId, '👍');
  const party = await ann.react(question.messageId, '🎉');
  assert.deepEqual([party.reactions, party.myReactions], [[{ emoji: '👍', count: 2 }, { emoji: '🎉', count: 1 }], ['👍', '🎉']]);
  const thumbs = await ann.reactions(question.messageId, { emoji: '👍' });
  assert.deepEqual([thumbs.reactors.map((r) => r.userId), thumbs.pagination.total], [[ben.user!.userId, ann.user!.userId], 2]);
  const second = await ann.reactions(question.messageId, { page: 2, size: 2 });
  assert.deepEqual([second.reactors.map((r) => r.emoji), second.pagination.hasMore], [['🎉'], false]);
  const taken = await ben.unreact(question.messageId, '👍');
  assert.deepEqual([taken.reactions, taken.myReactions], [[{ emoji: '👍', count: 1 }, { emoji: '🎉', count: 1 }], undefined]);

  const edited = await ann.editMessage(question.messageId, 'lunch at noon?');
  assert.equal(edited.content, 'lunch at noon?');
  assert.ok(edited.editedAt);
  const refused = await ben.editMessage(question.messageId, 'hijack').then(
    () => assert.fail('edited another one’s message'),
    (err: unknown) => err,
  );
  assert.ok(refused instanceof GoChatError && refused.code === 'FORBIDDEN', String(refused));

  const recalled = await ben.recall(reply.messageId);
  assert.deepEqual([recalled.content, recalled.recalledBy], ['', ben.user!.userId]);
  assert.ok(recalled.recalledAt);
  const after = await ann.messages(chat);
  assert.equal(after.messages.find((m) => m.seqId === ack.seqId)?.replyTo?.recalled, true, 'the reply to it shows the recall');
});

test("a group's message changes reach the other members' clients live, as message-changed", async () => {
  await using srv = await startServer();
  const [ann, ben] = [newClient(srv.baseUrl), newClient(srv.baseUrl)];
  await Promise.all([signUp(ann, 'ann'), signUp(ben, 'ben')]);
  const group = (await ann.createGroup('Lunch', [ben.user!.userId])).conversation.conversationId;
  await Promise.all([ann.connect(), ben.connect()]);
  const benMessages = recordMessages(ben);
  const changes = recordChanges(ben);
  const frames: ConversationUpdate[] = [];
  ben.on('conversation-changed', (u) => frames.push(u));
  const store = keepMessages(ben);

  const annMessages = recordMessages(ann);
  const ack = await ann.send(group, 'pizza?', { extra: { menu: ['margherita'] } });
  await until(ben, () => (benMessages.get(group) ?? []).some((m) => m.seqId === ack.seqId), () => 'ben never got the message');
  assert.deepEqual(annMessages.get(group)?.at(-1)?.extra, { menu: ['margherita'] }, 'an own message rebuilt from its ack keeps its extra');
  await ann.react(ack.messageId, '🍕');
  await ben.react(ack.messageId, '👍');
  await ann.editMessage(ack.messageId, 'pizza at 12?');
  await until(ben, () => changes.length === 3, () => `ben saw ${JSON.stringify(changes)}`);
  assert.ok(changes.every((c) => c.source === 'live' && c.conversationId === group && c.message.myReactions === undefined));
  assert.deepEqual(changes.map((c) => c.reaction), [
    { userId: ann.user!.userId, emoji: '🍕', added: true },
    { userId: ben.user!.userId, emoji: '👍', added: true },
    undefined,
  ]);
  assert.deepEqual(changes.map((c) => c.changeSeq), frames.slice(-3).map((f) => f.changeSeq), 'the frames are still told as conversation-changed');
  const kept = store.get(ack.messageId)!;
  assert.deepEqual([kept.content, kept.reactions, kept.myReactions], ['pizza at 12?', [{ emoji: '🍕', count: 1 }, { emoji: '👍', count: 1 }], ['👍']]);
  assert.deepEqual(kept, (await ben.messages(group)).messages.find((m) => m.messageId === ack.messageId), 'the kept copy is the history');

  await ann.recall(ack.messageId);
  await until(ben, () => changes.length === 4, () => 'ben missed the recall');
  assert.deepEqual([changes[3]!.message.content, store.get(ack.messageId)!.myReactions], ['', undefined]);
});

test('a client away while messages were recalled, edited and reacted to catches all three up on reconnect', async () => {
  await using srv = await startServer();
  const ann = newClient(srv.baseUrl);
  const ben = newClient(srv.baseUrl, { keepConversations: true });
  await Promise.all([signUp(ann, 'ann'), signUp(ben, 'ben')]);
  const laptop = newClient(srv.baseUrl);
  await laptop.login(ben.user!.username, PASSWORD);
  const chat = (await ann.openConversation(ben.user!.userId)).conversationId;
  await ben.connect();
  const changes = recordChanges(ben);
  const store = keepMessages(ben);
  const [m1, m2, m3] = [await ann.postMessage(chat, 'one'), await ann.postMessage(chat, 'two'), await ann.postMessage(chat, 'three')];
  await until(ben, () => store.has(m3.messageId), () => 'ben never got the messages');
  await ben.react(m3.messageId, '🎉');
  await until(ben, () => changes.length === 1, () => 'ben missed his own reaction');
  assert.deepEqual(store.get(m3.messageId)!.myReactions, ['🎉']);

  ben.disconnect();
  await ann.recall(m1.messageId);
  await ann.editMessage(m2.messageId, 'two, edited');
  await ann.react(m3.messageId, '👍');
  // Ben's other device changes his own reactions: only the change feed can tell this one.
  await laptop.react(m3.messageId, '❤️');
  await laptop.unreact(m3.messageId, '🎉');
  await ben.connect();

  const caught = changes.slice(1);
  assert.deepEqual(
    caught.map((c) => [c.message.messageId, c.source]).sort(),
    [m1, m2, m3].map((m) => [m.messageId, 'catch-up']).sort(),
    'one catch-up change per message, before connect() resolved',
  );
  const history = (await ben.messages(chat)).messages;
  for (const m of [m1, m2, m3]) assert.deepEqual(store.get(m.messageId), history.find((h) => h.messageId === m.messageId));
  assert.deepEqual(store.get(m3.messageId)!.myReactions, ['❤️']);
  assert.deepEqual(ben.knownConversations().find((c) => c.conversationId === chat)?.changeSeq, (await ben.conversation(chat)).changeSeq);
  assert.deepEqual(ben.knownConversations().find((c) => c.conversationId === chat)?.lastMessage, history.at(-1));
});
