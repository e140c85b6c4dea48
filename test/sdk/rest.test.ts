/** The SDK's REST half against the real server: every call, and the contract's errors as typed GoChatErrors. */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { GoChatError } from '../../sdk/index.js';
import { startServer } from '../helpers/server.js';
import { uniqueName } from '../helpers/client.js';
import { disconnectClients, newClient, PASSWORD, signUp } from './sdk-helpers.js';

afterEach(disconnectClients);

async function rejectsWith(promise: Promise<unknown>, code: string, status: number): Promise<GoChatError> {
  const err = await promise.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof GoChatError, `not a GoChatError: ${String(err)}`);
  assert.equal(err.code, code);
  assert.equal(err.status, status);
  return err;
}

test('register, login, me, conversations, history, read marks and groups work through the SDK', async () => {
  await using srv = await startServer();
  const alice = newClient(srv.baseUrl);
  const bob = newClient(srv.baseUrl);
  const carol = newClient(srv.baseUrl);
  const aliceName = uniqueName('alice');
  const registered = await alice.register(aliceName, PASSWORD);
  assert.equal(registered.username, aliceName);
  assert.equal(alice.token, null, 'register does not log in');
  const login = await alice.login(aliceName, PASSWORD);
  assert.equal(alice.token, login.token);
  assert.deepEqual(await alice.me(), registered);
  await signUp(bob, 'bob');
  await signUp(carol, 'carol');

  const found = await alice.findUser(bob.user!.username.toUpperCase());
  assert.equal(found.userId, bob.user!.userId);

  const chat = await alice.openConversation(bob.user!.userId);
  assert.equal(chat.type, 'single');
  assert.equal((await alice.openConversation(bob.user!.userId)).conversationId, chat.conversationId);

  await alice.connect();
  for (let i = 1; i <= 3; i++) await alice.send(chat.conversationId, `hello ${i}`);
  const newest = await bob.messages(chat.conversationId, { size: 2 });
  assert.deepEqual(newest.messages.map((m) => m.content), ['hello 2', 'hello 3']);
  assert.equal(newest.pagination.hasMore, true);
  const older = await bob.messages(chat.conversationId, { beforeSeq: newest.messages[0]!.seqId });
  assert.deepEqual(older.messages.map((m) => m.seqId), [1]);
  const after = await bob.messages(chat.conversationId, { afterSeq: 1 });
  assert.deepEqual(after.messages.map((m) => m.seqId), [2, 3]);

  const bobsView = (await bob.conversations()).find((c) => c.conversationId === chat.conversationId);
  assert.equal(bobsView?.unreadCount, 3);
  assert.equal((await bob.markRead(chat.conversationId)).unreadCount, 0);
  assert.deepEqual(await bob.conversation(chat.conversationId), { ...bobsView, unreadCount: 0, lastReadSeq: 3 });

  const { group, conversation } = await alice.createGroup('Team', [bob.user!.userId, carol.user!.userId]);
  assert.equal(conversation.type, 'group');
  const info = await carol.getGroup(group.groupId);
  assert.deepEqual(
    info.members.map((m) => [m.username, m.role]).sort(),
    [
      [aliceName, 'owner'],
      [bob.user!.username, 'member'],
      [carol.user!.username, 'member'],
    ].sort(),
  );
  assert.deepEqual(await carol.groups(), [{ ...group, myRole: 'member' }]);
  const page = await carol.members(conversation.conversationId, { size: 2 });
  assert.deepEqual([page.members.length, page.pagination.total, page.pagination.hasMore], [2, 3, true]);
  assert.deepEqual((await carol.members(conversation.conversationId, { role: 'owner' })).members.map((m) => m.username), [aliceName]);
  assert.deepEqual((await alice.groups()).map((g) => [g.groupId, g.myRole]), [[group.groupId, 'owner']]);

  await alice.logout();
  assert.equal(alice.token, null);
  assert.equal(alice.state, 'idle');
});

test('conversationsPage walks the conversation list page by page, as conversations() has it', async () => {
  await using srv = await startServer();
  const alice = newClient(srv.baseUrl);
  await signUp(alice, 'alice');
  for (let i = 0; i < 4; i++) await alice.createGroup(`team ${i}`, []);
  const whole = await alice.conversations();
  const pages = [await alice.conversationsPage({ limit: 2 })];
  while (pages.at(-1)!.pagination.nextCursor) pages.push(await alice.conversationsPage({ limit: 2, cursor: pages.at(-1)!.pagination.nextCursor! }));
  assert.deepEqual(pages.flatMap((p) => p.conversations), whole);
  assert.deepEqual(pages.at(-1)!.pagination, { page: pages.length, size: 2, total: whole.length, hasMore: false, nextCursor: null });
  await rejectsWith(alice.conversationsPage({ limit: 0 }), 'VALIDATION_ERROR', 400);
  await rejectsWith(alice.conversationsPage({ limit: 2, cursor: 'nope' }), 'VALIDATION_ERROR', 400);
});

test('contract errors reach the app as GoChatError with the code and HTTP status', async () => {
  await using srv = await startServer();
  const alice = newClient(srv.baseUrl);
  await signUp(alice, 'alice');
  await rejectsWith(newClient(srv.baseUrl).login(alice.user!.username, 'wrong password'), 'INVALID_CREDENTIALS', 401);
  await rejectsWith(newClient(srv.baseUrl).register(alice.user!.username, PASSWORD), 'USERNAME_TAKEN', 409);
  await rejectsWith(newClient(srv.baseUrl).me(), 'UNAUTHORIZED', 401);
  await rejectsWith(alice.findUser(uniqueName('nobody')), 'USER_NOT_FOUND', 404);
  await rejectsWith(alice.openConversation(alice.user!.userId), 'VALIDATION_ERROR', 400);
  await rejectsWith(alice.messages('999999'), 'CONVERSATION_NOT_FOUND', 404);
  await rejectsWith(alice.messages('1', { size: 1000 }), 'VALIDATION_ERROR', 400);

  const guest = newClient(srv.baseUrl);
  const { user } = await guest.guest();
  assert.equal(user.isGuest, true);
  await rejectsWith(guest.createGroup('nope', [alice.user!.userId]), 'FORBIDDEN', 403);

  const stranger = newClient(srv.baseUrl);
  await signUp(stranger, 'stranger');
  const chat = await alice.openConversation(guest.user!.userId);
  await rejectsWith(stranger.messages(chat.conversationId), 'NOT_CONVERSATION_MEMBER', 403);
  await stranger.connect();
  await rejectsWith(stranger.send(chat.conversationId, 'let me in'), 'NOT_CONVERSATION_MEMBER', 403);
  stranger.disconnect();

  const token = alice.token!;
  await alice.logout();
  await rejectsWith(newClient(srv.baseUrl, { token }).me(), 'TOKEN_REVOKED', 401);
});

test('an unreachable server is a NETWORK_ERROR, not a crash', async () => {
  const srv = await startServer();
  const baseUrl = srv.baseUrl;
  await srv.stop();
  await rejectsWith(newClient(baseUrl).guest(), 'NETWORK_ERROR', 0);
});

test('the SDK is importable by package name', async () => {
  const sdk = (await import('gochat/sdk')) as typeof import('../../sdk/index.js');
  assert.equal(typeof sdk.GoChatClient, 'function');
  assert.equal(typeof sdk.GoChatError, 'function');
});
