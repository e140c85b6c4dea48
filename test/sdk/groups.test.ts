/** Group administration through the SDK against the real server: every call typed, and the live conversation events. */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { GoChatError, parseSystemContent, type Conversation, type ConversationRemovedEvent, type ConversationUpdate } from '../../sdk/index.js';
import { startServer } from '../helpers/server.js';
import { disconnectClients, newClient, PASSWORD, recordMessages, signUp, until } from './sdk-helpers.js';

afterEach(disconnectClients);

test('an owner administers a group through the SDK; the other members get typed events', async () => {
  await using srv = await startServer();
  const [ann, ben, cal] = [newClient(srv.baseUrl), newClient(srv.baseUrl), newClient(srv.baseUrl)];
  await Promise.all([signUp(ann, 'ann'), signUp(ben, 'ben'), signUp(cal, 'cal')]);
  await Promise.all([ben.connect(), cal.connect()]);
  const added: Conversation[] = [];
  const changed: ConversationUpdate[] = [];
  const removed: ConversationRemovedEvent[] = [];
  cal.on('conversation-added', (c) => added.push(c));
  ben.on('conversation-changed', (u) => changed.push(u));
  cal.on('conversation-removed', (r) => removed.push(r));
  const calMessages = recordMessages(cal);

  const { conversation } = await ann.createGroup('Team', [ben.user!.userId]);
  const id = conversation.conversationId;
  const [member] = await ann.addMembers(id, [cal.user!.userId]);
  assert.equal(member?.userId, cal.user!.userId);
  await until(cal, () => added.some((c) => c.conversationId === id) && (calMessages.get(id)?.length ?? 0) === 1, () => `cal saw ${JSON.stringify(added)}`);
  // Only the "added you" line reaches Cal: what came before is history, not missed messages.
  assert.deepEqual(parseSystemContent(calMessages.get(id)![0]!.content), { event: 'members-added', users: [{ userId: cal.user!.userId, username: cal.user!.username }] });

  assert.equal((await ann.setRole(id, ben.user!.userId, 'admin')).role, 'admin');
  assert.equal((await ann.updateGroup(id, { name: 'Team II' })).name, 'Team II');
  await until(ben, () => changed.length >= 3, () => `ben saw ${changed.length} changes`);
  assert.deepEqual(
    changed.map((u) => [u.fromChangeSeq, u.changeSeq]),
    [
      [1, 2],
      [3, 3],
      [4, 4],
    ],
  );
  const feed = await ben.changes(id, 0);
  assert.equal(feed.items.at(-1)?.changeSeq, 4);
  assert.equal((await ben.members(id)).members.length, 3);
  assert.equal((await ben.groups()).find((g) => g.conversationId === id)?.myRole, 'admin');

  await ben.removeMember(id, cal.user!.userId);
  await until(cal, () => removed.length === 1, () => 'cal was not told');
  assert.deepEqual([removed[0]!.conversationId, removed[0]!.reason], [id, 'removed']);

  const refused = await ben.disbandGroup(id).then(
    () => assert.fail('an admin disbanded'),
    (err: unknown) => err,
  );
  assert.ok(refused instanceof GoChatError && refused.code === 'FORBIDDEN' && refused.status === 403);
  await ann.transferOwnership(id, ben.user!.userId);
  await ann.leave(id);
  assert.equal((await ben.conversation(id)).memberCount, 1);
  await ben.disbandGroup(id);
  assert.ok(!(await ben.groups()).some((g) => g.conversationId === id));
});

test('settings through the SDK reach every device of the user, and the kept list follows them', async () => {
  await using srv = await startServer();
  const [phone, laptop, friend] = [newClient(srv.baseUrl, { keepConversations: true }), newClient(srv.baseUrl), newClient(srv.baseUrl)];
  await signUp(phone, 'ann');
  await laptop.login(phone.user!.username, PASSWORD);
  await signUp(friend, 'ben');
  const chat = await phone.openConversation(friend.user!.userId);
  await Promise.all([phone.connect(), laptop.connect()]);
  const heard: Array<{ conversationId: string; settings: { muted: boolean; pinned: boolean; hidden: boolean } }> = [];
  laptop.on('conversation-settings', (s) => heard.push(s));
  const after = await phone.updateSettings(chat.conversationId, { pinned: true, muted: true });
  assert.deepEqual(after.settings, { muted: true, pinned: true, hidden: false });
  await until(laptop, () => heard.length === 1, () => 'the laptop heard nothing');
  assert.deepEqual(heard[0], { conversationId: chat.conversationId, settings: { muted: true, pinned: true, hidden: false } });
  await until(phone, () => phone.knownConversations()[0]?.settings.pinned === true, () => JSON.stringify(phone.knownConversations()));
  assert.equal(phone.knownConversations()[0]?.conversationId, chat.conversationId, 'pinned first');
  await phone.updateSettings(chat.conversationId, { hidden: true });
  assert.ok(!(await laptop.conversations()).some((c) => c.conversationId === chat.conversationId));
  assert.ok((await laptop.conversations({ includeHidden: true })).some((c) => c.conversationId === chat.conversationId));
});

for (const keep of [false, true]) {
  test(`a group lost while away is told at the reconnect, as conversation-removed 'gone'${keep ? ' (kept conversations)' : ''}`, async () => {
    await using srv = await startServer();
    const [ann, ben] = [newClient(srv.baseUrl), newClient(srv.baseUrl, keep ? { keepConversations: { members: true } } : {})];
    await Promise.all([signUp(ann, 'ann'), signUp(ben, 'ben')]);
    const { conversation } = await ann.createGroup('Team', [ben.user!.userId]);
    const id = conversation.conversationId;
    await ben.connect();
    const removed: ConversationRemovedEvent[] = [];
    ben.on('conversation-removed', (r) => removed.push(r));
    ben.disconnect();
    await ann.removeMember(id, ben.user!.userId);
    await ben.connect();
    assert.deepEqual(removed, [{ conversationId: id, reason: 'gone' }]);
    if (keep) assert.ok(!ben.knownConversations().some((c) => c.conversationId === id));
    // Told once: the next reconnect finds nothing new gone.
    ben.disconnect();
    await ben.connect();
    assert.equal(removed.length, 1);
  });
}
