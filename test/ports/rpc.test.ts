/**
 * LogicApi over gRPC: the client must be indistinguishable from the in-process Logic it
 * fronts (same results, same AppError codes), refuse callers without the internal key, and
 * fail over between logic instances.
 */
import { describe, it, before, after } from 'node:test';
import net from 'node:net';
import assert from 'node:assert/strict';
import { Logic } from '../../src/logic/logic.js';
import type { LogicApi, Session } from '../../src/logic/api.js';
import type { LogicConfig } from '../../src/logic/logic.js';
import type { ChangeItem, MessageAck } from '../../src/protocol/index.js';
import { SqliteRepo } from '../../src/repo/sqlite/sqlite-repo.js';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { RpcServer, SEND_STREAM_CALL } from '../../src/rpc/server.js';
import { RpcLogicClient, sendInstanceOf } from '../../src/rpc/client.js';
import { MAX_PENDING } from '../../src/rpc/send-stream.js';
import * as grpc from '@grpc/grpc-js';
import { internalKey, serviceDefinition } from '../../src/rpc/definitions.js';
import { AppError } from '../../src/protocol/index.js';
import { unlimitedLogicConfig } from '../helpers/logic-config.js';
import { eventually } from './services.js';

const quiet = { warn: () => {}, error: () => {}, info: () => {} };
const KEY = internalKey('test-secret');
const client = { ip: '127.0.0.1' };

function makeLogic(overrides: Partial<LogicConfig> = {}): { logic: Logic; close: () => Promise<void> } {
  const repo = new SqliteRepo({ file: ':memory:' });
  const bus = new MemoryBus();
  const logic = new Logic(
    unlimitedLogicConfig({ maxGroupMembers: 100, commitWindowMs: 2, ...overrides }),
    repo,
    bus,
    quiet,
  );
  return { logic, close: async () => (await logic.drain(), await bus.close(), await repo.close()) };
}

const isCode = (code: string) => (err: unknown) => err instanceof AppError && err.code === code;

/** What a call was refused with: its AppError's code, message and details. */
async function refusal(call: Promise<unknown>): Promise<{ code: string; message: string; details: unknown }> {
  try {
    await call;
  } catch (err) {
    assert.ok(err instanceof AppError, `not an AppError: ${String(err)}`);
    return { code: err.code, message: err.message, details: err.details };
  }
  return assert.fail('the call was not refused');
}

/** The call over gRPC is refused exactly as the same call in-process: code, message and details. */
async function sameRefusal(viaRpc: () => Promise<unknown>, inProcess: () => Promise<unknown>, expected: { code: string; details?: unknown }): Promise<void> {
  const remote = await refusal(viaRpc());
  const local = await refusal(inProcess());
  assert.deepEqual(remote, local);
  assert.equal(remote.code, expected.code);
  if ('details' in expected) assert.deepEqual(remote.details, expected.details);
}

/**
 * The address of a logic instance that is down: every connection is hung up at once. The port stays
 * held for the test, so no other process can start listening on it meanwhile.
 */
async function downInstance(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('LogicApi over gRPC', () => {
  let backend: ReturnType<typeof makeLogic>;
  let server: RpcServer;
  let port: number;
  let api: LogicApi & { close(): void };

  before(async () => {
    backend = makeLogic();
    server = new RpcServer({ host: '127.0.0.1', port: 0, internalKey: KEY }, backend.logic, quiet);
    port = await server.start();
    api = new RpcLogicClient({ addrs: [`127.0.0.1:${port}`], internalKey: KEY, timeoutMs: 5000 });
  });

  after(async () => {
    api.close();
    await server.close();
    await backend.close();
  });

  async function signIn(name: string): Promise<Session> {
    await api.register({ username: name, password: 'correct horse' }, client);
    const { token } = await api.login({ username: name, password: 'correct horse' }, client);
    return api.authenticate(token);
  }

  it('register, login and authenticate round-trip the wire objects', async () => {
    const user = await api.register({ username: 'rpc_alice', password: 'correct horse' }, client);
    assert.equal(user.username, 'rpc_alice');
    assert.equal(user.isGuest, false);
    const auth = await api.login({ username: 'rpc_alice', password: 'correct horse' }, client);
    assert.deepEqual(auth.user, user);
    assert.ok(auth.expiresIn > 0);
    const session = await api.authenticate(auth.token);
    assert.equal(session.userId, user.userId);
    assert.equal(typeof session.expiresAt, 'number');
    assert.deepEqual(await api.getUserInfo(session), user);
  });

  it('an AppError thrown by logic arrives as the same AppError code, message and details', async () => {
    await assert.rejects(api.login({ username: 'nobody_here', password: 'whatever1' }, client), isCode('INVALID_CREDENTIALS'));
    await assert.rejects(api.authenticate('not-a-token'), isCode('UNAUTHORIZED'));
    const session = await signIn('rpc_bob');
    await assert.rejects(api.openSingleConversation(session, '999999'), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.code, 'USER_NOT_FOUND');
      assert.deepEqual(err.details, { userIds: ['999999'] });
      return true;
    });
    await assert.rejects(api.getMessages(session, '999999', { kind: 'page', page: 1, size: 10 }), isCode('CONVERSATION_NOT_FOUND'));
  });

  it('conversations, history, groups and sends match the in-process results', async () => {
    const a = await signIn('rpc_carol');
    const b = await signIn('rpc_dave');
    const { conversation, created } = await api.openSingleConversation(a, b.userId);
    assert.equal(created, true);
    assert.equal(conversation.peer?.userId, b.userId);
    assert.equal(conversation.lastMessage, null);
    assert.ok(!('groupId' in conversation));
    const ack = await api.sendMessage(a, { conversationId: conversation.conversationId, content: 'hello', tempMessageId: 't1' }, 'conn-1');
    assert.equal(ack.seqId, 1);
    const again = await api.sendMessage(a, { conversationId: conversation.conversationId, content: 'hello', tempMessageId: 't1' });
    assert.deepEqual(again, ack);
    const history = await api.getMessages(b, conversation.conversationId, { kind: 'after', afterSeq: 0, size: 10 });
    assert.deepEqual(history, await backend.logic.getMessages(b, conversation.conversationId, { kind: 'after', afterSeq: 0, size: 10 }));
    assert.deepEqual(await api.listConversations(b), await backend.logic.listConversations(b));
    assert.deepEqual(await api.markRead(b, conversation.conversationId), { conversationId: conversation.conversationId, lastReadSeq: 1, unreadCount: 0 });

    const { group, conversation: groupConversation } = await api.createGroup(a, { groupName: 'rpc team', members: [b.userId] });
    assert.equal(groupConversation.groupId, group.groupId);
    assert.ok(!('peer' in groupConversation));
    assert.deepEqual(await api.getGroup(b, group.groupId), await backend.logic.getGroup(b, group.groupId));
    assert.deepEqual(await api.listGroups(b), await backend.logic.listGroups(b));
    assert.deepEqual((await api.listGroups(b)).map((g) => g.myRole), ['member']);
    for (const id of [conversation.conversationId, groupConversation.conversationId]) {
      assert.deepEqual(await api.getConversation(b, id), await backend.logic.getConversation(b, id));
    }
    await assert.rejects(api.getConversation(b, '999999'), isCode('CONVERSATION_NOT_FOUND'));
    const membersQuery = { page: 1, size: 1, role: 'member' as const };
    assert.deepEqual(await api.listMembers(a, groupConversation.conversationId, membersQuery), await backend.logic.listMembers(a, groupConversation.conversationId, membersQuery));
    await assert.rejects(api.listMembers(a, conversation.conversationId, { page: 1, size: 10 }), isCode('NOT_GROUP_CONVERSATION'));
    await assert.rejects(api.sendMessage(a, { conversationId: conversation.conversationId, content: ' ', tempMessageId: 't2' }), isCode('VALIDATION_ERROR'));
    const { token } = await api.login({ username: 'rpc_carol', password: 'correct horse' }, client);
    await api.logout(await api.authenticate(token));
    await assert.rejects(api.authenticate(token), isCode('TOKEN_REVOKED'));
    // PostMessage (in a conversation of its own): the stored message and whether this call stored it, as in-process.
    const board = (await api.createGroup(a, { groupName: 'board', members: [b.userId] })).conversation.conversationId;
    const posted = await api.postMessage(a, { conversationId: board, content: 'posted', tempMessageId: 'p1' });
    assert.deepEqual([posted.created, posted.message.seqId, posted.message.content], [true, 1, 'posted']);
    assert.deepEqual(await api.postMessage(a, { conversationId: board, content: 'posted', tempMessageId: 'p1' }), { ...posted, created: false });
    assert.deepEqual(JSON.parse(JSON.stringify((await backend.logic.postMessage(a, { conversationId: board, content: 'posted', tempMessageId: 'p1' })).message)), posted.message);
  });

  it('message actions match the in-process results, optional fields and errors included', async () => {
    const a = await signIn('rpc_erin');
    const b = await signIn('rpc_finn');
    const { conversation } = await api.openSingleConversation(a, b.userId);
    const chat = conversation.conversationId;
    const extra = { url: 'https://ci.example/7', nested: { ok: true } };
    const original = (await api.postMessage(a, { conversationId: chat, content: 'first', tempMessageId: 'x1', extra })).message;
    assert.deepEqual(original.extra, extra);
    // Over the send stream too: replyTo and extra cross with the send.
    const ack = await api.sendMessage(b, { conversationId: chat, content: 'second', tempMessageId: 'x2', replyTo: original.messageId, extra: { n: 1 } });
    const reply = (await api.getMessages(a, chat, { kind: 'after', afterSeq: ack.seqId - 1, size: 1 })).messages.values[0]!;
    assert.deepEqual([reply.replyTo?.messageId, reply.replyTo?.preview, reply.extra], [original.messageId, 'first', { n: 1 }]);

    const edited = await api.editMessage(a, original.messageId, 'first, edited');
    assert.ok(edited.editedAt);
    const reacted = await api.setReaction(b, original.messageId, '👍', true);
    assert.deepEqual([reacted.reactions, reacted.myReactions], [[{ emoji: '👍', count: 1 }], ['👍']]);
    const who = await api.listReactions(a, original.messageId, { page: 1, size: 10 });
    assert.deepEqual(who, await backend.logic.listReactions(a, original.messageId, { page: 1, size: 10 }));
    assert.deepEqual(who.reactors.map((r) => [r.userId, r.emoji]), [[b.userId, '👍']]);
    // The conversation's lastMessage carries its optional fields across too.
    assert.deepEqual(await api.getConversation(a, chat), await backend.logic.getConversation(a, chat));
    const recalled = await api.recallMessage(b, reply.messageId);
    assert.deepEqual([recalled.content, recalled.recalledBy, recalled.extra, recalled.replyTo], ['', b.userId, undefined, undefined]);
    assert.deepEqual(await api.getChanges(a, chat, 0, 10), await backend.logic.getChanges(a, chat, 0, 10));
    await assert.rejects(api.recallMessage(a, '999999999'), isCode('MESSAGE_NOT_FOUND'));
    await assert.rejects(api.editMessage(b, original.messageId, 'not mine'), isCode('FORBIDDEN'));
    await assert.rejects(api.setReaction(a, reply.messageId, '👍', true), isCode('MESSAGE_RECALLED'));
    await assert.rejects(api.setReaction(a, original.messageId, 'x', true), isCode('VALIDATION_ERROR'));
    // An extra nested far too deep for JSON.stringify's stack: refused as input, not a crash, and as a rejection.
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 20_000; i++) deep = { d: deep };
    const sending = api.sendMessage(a, { conversationId: chat, content: 'deep', tempMessageId: 'x-deep', extra: deep });
    await assert.rejects(sending, isCode('VALIDATION_ERROR'));
    await assert.rejects(api.postMessage(a, { conversationId: chat, content: 'deep', tempMessageId: 'x-deep2', extra: deep }), isCode('VALIDATION_ERROR'));
  });

  it('conversation-list pages match the in-process pages, cursor and last page included', async () => {
    const owner = await signIn('rpc_pager');
    for (const name of ['p1', 'p2', 'p3']) await api.createGroup(owner, { groupName: name, members: [] });
    // Three groups and the world room: pages of 3 and 1.
    const first = await api.listConversationsPage(owner, { limit: 3 });
    assert.deepEqual(first, await backend.logic.listConversationsPage(owner, { limit: 3 }));
    assert.equal(first.pagination.hasMore, true);
    assert.equal(typeof first.pagination.nextCursor, 'string');
    const second = await api.listConversationsPage(owner, { limit: 3, cursor: first.pagination.nextCursor! });
    assert.deepEqual(second, await backend.logic.listConversationsPage(owner, { limit: 3, cursor: first.pagination.nextCursor! }));
    assert.deepEqual(second.pagination, { page: 2, size: 3, total: 4, hasMore: false, nextCursor: null });
    assert.deepEqual([...first.conversations, ...second.conversations], await api.listConversations(owner));
    await assert.rejects(api.listConversationsPage(owner, { limit: 3, cursor: 'bogus' }), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.code, 'VALIDATION_ERROR');
      assert.deepEqual(err.details, { field: 'cursor' });
      return true;
    });
    await assert.rejects(api.listConversationsPage(owner, { limit: 0 }), isCode('VALIDATION_ERROR'));
  });

  it('group administration calls match the in-process results: roles, info, members, the change cursor, disband', async () => {
    const [owner, admin, member, extra] = [await signIn('rpc_g_owner'), await signIn('rpc_g_admin'), await signIn('rpc_g_member'), await signIn('rpc_g_extra')];
    const { group, conversation: created } = await api.createGroup(owner, { groupName: 'admin team', members: [admin.userId, member.userId] });
    assert.deepEqual([group.avatar, group.description], ['', '']);
    assert.deepEqual([created.changeSeq, created.myRole], [0, 'owner']);
    const c = group.conversationId;
    const membersNow = async () => (await backend.logic.listMembers(owner, c, { page: 1, size: 100 })).members;

    // SetMemberRole: the member as it is now; the same role again answers it unchanged.
    const promoted = await api.setMemberRole(owner, c, admin.userId, 'admin');
    assert.equal(promoted.role, 'admin');
    assert.deepEqual(promoted, (await membersNow()).find((m) => m.userId === admin.userId));
    assert.deepEqual(await api.setMemberRole(owner, c, admin.userId, 'admin'), promoted);

    // Conversation.changeSeq and myRole, each member's own view, one or in the list.
    for (const [who, role] of [
      [owner, 'owner'],
      [admin, 'admin'],
      [member, 'member'],
    ] as const) {
      const viaRpc = await api.getConversation(who, c);
      assert.deepEqual(viaRpc, await backend.logic.getConversation(who, c));
      assert.deepEqual([viaRpc.myRole, viaRpc.changeSeq], [role, 1]);
      assert.deepEqual(await api.listConversations(who), await backend.logic.listConversations(who));
    }

    // UpdateConversation: every field, then one (the absent ones stay as they are), then an empty avatar.
    const patch = { name: 'admin team II', avatar: 'https://example.com/a.png', description: 'Line one\nline two' };
    const updated = await api.updateGroup(admin, c, patch);
    assert.deepEqual(updated, await backend.logic.getConversation(admin, c));
    assert.deepEqual([updated.name, updated.avatar, updated.myRole], [patch.name, patch.avatar, 'admin']);
    const described = await api.updateGroup(owner, c, { description: 'just this' });
    assert.deepEqual([described.name, described.avatar, described.changeSeq], [patch.name, patch.avatar, updated.changeSeq + 1]);
    assert.equal((await api.updateGroup(owner, c, { avatar: '' })).avatar, '');
    const info = await api.getGroup(member, group.groupId);
    assert.deepEqual(info, await backend.logic.getGroup(member, group.groupId));
    assert.deepEqual([info.group.name, info.group.avatar, info.group.description], [patch.name, '', 'just this']);
    assert.deepEqual(await api.listGroups(member), await backend.logic.listGroups(member));
    assert.deepEqual((await api.listGroups(member)).map((g) => [g.avatar, g.description, g.myRole]), [['', 'just this', 'member']]);

    // AddMembers: those actually added; nobody new is an empty list.
    const added = await api.addMembers(admin, c, [extra.userId, member.userId]);
    assert.deepEqual(added.map((m) => [m.userId, m.role]), [[extra.userId, 'member']]);
    assert.deepEqual(added, (await membersNow()).filter((m) => m.userId === extra.userId));
    assert.deepEqual(await api.addMembers(admin, c, [member.userId]), []);
    assert.equal((await api.getConversation(extra, c)).myRole, 'member');

    // RemoveMember: the removed reads nothing more; the change feed keeps a tombstone.
    assert.equal(await api.removeMember(admin, c, extra.userId), undefined);
    await assert.rejects(api.getConversation(extra, c), isCode('NOT_CONVERSATION_MEMBER'));
    await assert.rejects(api.getChanges(extra, c, 0, 10), isCode('NOT_CONVERSATION_MEMBER'));

    // GetChanges: whole, a page at a time, and after the latest.
    const all = await api.getChanges(member, c, 0, 100);
    assert.deepEqual(all, await backend.logic.getChanges(member, c, 0, 100));
    const tombstone = all.items.find((i): i is Extract<ChangeItem, { kind: 'member' }> => i.kind === 'member' && i.userId === extra.userId);
    assert.equal(tombstone?.member, null);
    const groupItem = all.items.find((i): i is Extract<ChangeItem, { kind: 'group' }> => i.kind === 'group');
    assert.deepEqual(groupItem?.group, { name: patch.name, avatar: '', description: 'just this', ownerId: owner.userId, memberCount: 3 });
    const latest = (await api.getConversation(member, c)).changeSeq;
    assert.equal(all.items.at(-1)?.changeSeq, latest);
    const firstPage = await api.getChanges(member, c, 0, 1);
    assert.deepEqual(firstPage, await backend.logic.getChanges(member, c, 0, 1));
    assert.deepEqual([firstPage.items.length, firstPage.pagination.hasMore], [1, true]);
    assert.deepEqual(await api.getChanges(member, c, latest, 10), { items: [], pagination: { page: 1, size: 10, total: 0, hasMore: false } });

    // Transfer: the old owner is an admin, and may then leave; the new owner disbands.
    const transferred = await api.setMemberRole(owner, c, member.userId, 'owner');
    assert.deepEqual(transferred, (await membersNow()).find((m) => m.userId === member.userId));
    assert.equal(transferred.role, 'owner');
    assert.equal((await api.getConversation(owner, c)).myRole, 'admin');
    assert.equal((await api.getGroup(member, group.groupId)).group.ownerId, member.userId);
    assert.equal(await api.removeMember(owner, c, owner.userId), undefined);
    await assert.rejects(api.getConversation(owner, c), isCode('NOT_CONVERSATION_MEMBER'));
    assert.equal(await api.disbandGroup(member, c), undefined);
    for (const who of [admin, member]) await assert.rejects(api.getConversation(who, c), isCode('NOT_CONVERSATION_MEMBER'));
    await assert.rejects(api.getGroup(member, group.groupId), isCode('GROUP_NOT_FOUND'));

    // A 1:1 has a change cursor and no role; its feed matches too.
    const { conversation: single } = await api.openSingleConversation(owner, admin.userId);
    assert.equal(single.changeSeq, 0);
    assert.ok(!('myRole' in single));
    assert.deepEqual(await api.getConversation(owner, single.conversationId), await backend.logic.getConversation(owner, single.conversationId));
    assert.deepEqual(await api.getChanges(owner, single.conversationId, 0, 10), await backend.logic.getChanges(owner, single.conversationId, 0, 10));
  });

  it('group administration refusals arrive as the same AppError: code, message and details', async () => {
    const [owner, admin, member, outsider] = [await signIn('rpc_r_owner'), await signIn('rpc_r_admin'), await signIn('rpc_r_member'), await signIn('rpc_r_out')];
    const guest = await api.authenticate((await api.guest({ guestName: 'rpc_r_guest' }, client)).token);
    const { group } = await api.createGroup(owner, { groupName: 'refusals', members: [admin.userId, member.userId, guest.userId] });
    const c = group.conversationId;
    await api.setMemberRole(owner, c, admin.userId, 'admin');
    const { conversation: single } = await api.openSingleConversation(owner, member.userId);
    const before = await api.getConversation(owner, c);
    const { logic } = backend;

    await sameRefusal(() => api.addMembers(owner, c, [outsider.userId, '99999999', '99999998']), () => logic.addMembers(owner, c, [outsider.userId, '99999999', '99999998']), {
      code: 'USER_NOT_FOUND',
      details: { userIds: ['99999999', '99999998'] },
    });
    await sameRefusal(() => api.addMembers(member, c, [outsider.userId]), () => logic.addMembers(member, c, [outsider.userId]), { code: 'FORBIDDEN', details: { requiredRole: 'admin' } });
    await sameRefusal(() => api.updateGroup(member, c, { name: 'mine' }), () => logic.updateGroup(member, c, { name: 'mine' }), { code: 'FORBIDDEN', details: { requiredRole: 'admin' } });
    await sameRefusal(() => api.disbandGroup(admin, c), () => logic.disbandGroup(admin, c), { code: 'FORBIDDEN', details: { requiredRole: 'owner' } });
    // Over gRPC no HTTP schema stands in front: logic itself bounds what a group's information may be.
    for (const patch of [{ name: 'x'.repeat(65) }, { name: 'a\nb' }, { avatar: 'javascript:alert(1)' }, { description: 'd'.repeat(501) }, { description: 'bell\u0007' }]) {
      const field = Object.keys(patch)[0]!;
      await sameRefusal(() => api.updateGroup(owner, c, patch), () => logic.updateGroup(owner, c, patch), { code: 'VALIDATION_ERROR', details: { field } });
    }
    await sameRefusal(() => api.removeMember(admin, c, owner.userId), () => logic.removeMember(admin, c, owner.userId), { code: 'FORBIDDEN', details: { requiredRole: 'owner' } });
    await sameRefusal(() => api.setMemberRole(admin, c, member.userId, 'admin'), () => logic.setMemberRole(admin, c, member.userId, 'admin'), {
      code: 'FORBIDDEN',
      details: { requiredRole: 'owner' },
    });
    await sameRefusal(() => api.setMemberRole(owner, c, guest.userId, 'admin'), () => logic.setMemberRole(owner, c, guest.userId, 'admin'), {
      code: 'FORBIDDEN',
      details: { requiredRole: 'member' },
    });
    await sameRefusal(() => api.removeMember(owner, c, owner.userId), () => logic.removeMember(owner, c, owner.userId), { code: 'OWNER_MUST_TRANSFER' });
    await sameRefusal(() => api.setMemberRole(owner, c, owner.userId, 'member'), () => logic.setMemberRole(owner, c, owner.userId, 'member'), { code: 'OWNER_MUST_TRANSFER' });
    await sameRefusal(() => api.removeMember(owner, c, outsider.userId), () => logic.removeMember(owner, c, outsider.userId), { code: 'MEMBER_NOT_FOUND' });
    await sameRefusal(() => api.addMembers(outsider, c, [outsider.userId]), () => logic.addMembers(outsider, c, [outsider.userId]), { code: 'NOT_CONVERSATION_MEMBER' });
    await sameRefusal(() => api.getChanges(outsider, c, 0, 10), () => logic.getChanges(outsider, c, 0, 10), { code: 'NOT_CONVERSATION_MEMBER' });
    await sameRefusal(() => api.updateGroup(owner, single.conversationId, { name: 'x' }), () => logic.updateGroup(owner, single.conversationId, { name: 'x' }), { code: 'NOT_GROUP_CONVERSATION' });
    await sameRefusal(() => api.disbandGroup(owner, single.conversationId), () => logic.disbandGroup(owner, single.conversationId), { code: 'NOT_GROUP_CONVERSATION' });
    await sameRefusal(() => api.getChanges(owner, '999999', 0, 10), () => logic.getChanges(owner, '999999', 0, 10), { code: 'CONVERSATION_NOT_FOUND' });
    await sameRefusal(() => api.getChanges(owner, c, -1, 10), () => logic.getChanges(owner, c, -1, 10), { code: 'VALIDATION_ERROR', details: { field: 'afterChange' } });
    await sameRefusal(() => api.getChanges(owner, c, 0, 101), () => logic.getChanges(owner, c, 0, 101), { code: 'VALIDATION_ERROR', details: { field: 'size' } });
    await sameRefusal(() => api.updateGroup(owner, c, { name: '   ' }), () => logic.updateGroup(owner, c, { name: '   ' }), { code: 'VALIDATION_ERROR', details: { field: 'name' } });
    await sameRefusal(() => api.updateGroup(owner, c, {}), () => logic.updateGroup(owner, c, {}), { code: 'VALIDATION_ERROR', details: { field: 'name' } });
    await sameRefusal(() => api.addMembers(owner, c, []), () => logic.addMembers(owner, c, []), { code: 'VALIDATION_ERROR', details: { field: 'members' } });
    // A role the protocol does not have is refused at the gRPC edge (HTTP's schema refuses it before logic).
    await assert.rejects(api.setMemberRole(owner, c, member.userId, 'king' as never), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.deepEqual([err.code, err.details], ['VALIDATION_ERROR', { field: 'role' }]);
      return true;
    });
    // None of it changed the group.
    assert.deepEqual(await api.getConversation(owner, c), before);
  });

  it('GROUP_FULL arrives with details.maxMembers, and nobody is added', async () => {
    const small = makeLogic({ maxGroupMembers: 3 });
    const smallServer = new RpcServer({ host: '127.0.0.1', port: 0, internalKey: KEY }, small.logic, quiet);
    const smallApi = new RpcLogicClient({ addrs: [`127.0.0.1:${await smallServer.start()}`], internalKey: KEY, timeoutMs: 5000 });
    try {
      const names = ['full_owner', 'full_a', 'full_b', 'full_c'];
      for (const username of names) await smallApi.register({ username, password: 'correct horse' }, client);
      const [owner, a, b, c] = await Promise.all(names.map(async (username) => smallApi.authenticate((await smallApi.login({ username, password: 'correct horse' }, client)).token)));
      const { group } = await smallApi.createGroup(owner!, { groupName: 'small', members: [a!.userId] });
      const ids = [b!.userId, c!.userId];
      await sameRefusal(() => smallApi.addMembers(owner!, group.conversationId, ids), () => small.logic.addMembers(owner!, group.conversationId, ids), {
        code: 'GROUP_FULL',
        details: { maxMembers: 3 },
      });
      assert.equal((await smallApi.getConversation(owner!, group.conversationId)).memberCount, 2);
      assert.deepEqual((await smallApi.addMembers(owner!, group.conversationId, [b!.userId])).map((m) => m.userId), [b!.userId]);
    } finally {
      smallApi.close();
      await smallServer.close();
      await small.close();
    }
  });

  it('a caller without the internal key is refused', async () => {
    const intruder = new RpcLogicClient({ addrs: [`127.0.0.1:${port}`], internalKey: internalKey('other-secret'), timeoutMs: 5000 });
    try {
      await assert.rejects(intruder.ready(), isCode('INTERNAL_ERROR'));
      await assert.rejects(intruder.login({ username: 'rpc_alice', password: 'correct horse' }, client), (err: unknown) => err instanceof AppError);
    } finally {
      intruder.close();
    }
  });

  it('calls fail over to a live instance when another is down, and fail cleanly when all are', async () => {
    const dead = await downInstance();
    const balanced = new RpcLogicClient({ addrs: [`127.0.0.1:${dead.port}`, `127.0.0.1:${port}`], internalKey: KEY, timeoutMs: 5000 });
    const none = new RpcLogicClient({ addrs: [`127.0.0.1:${dead.port}`], internalKey: KEY, timeoutMs: 5000 });
    try {
      for (let i = 0; i < 4; i++) await balanced.ready();
      await assert.rejects(none.ready(), isCode('SERVICE_UNAVAILABLE'));
    } finally {
      balanced.close();
      none.close();
      await dead.close();
    }
  });
});

describe('Two logic instances over one store', () => {
  // Each instance caches member sets for its send path; reads must still ask the store, or an
  // instance that did not make the change would keep answering the removed member.
  it('a member removed through one instance is refused its reads by the other', async () => {
    const repo = new SqliteRepo({ file: ':memory:' });
    const bus = new MemoryBus();
    const logics = [0, 1].map(() => new Logic(unlimitedLogicConfig(), repo, bus, quiet));
    const servers = logics.map((logic) => new RpcServer({ host: '127.0.0.1', port: 0, internalKey: KEY }, logic, quiet));
    const ports = await Promise.all(servers.map((s) => s.start()));
    const [first, second] = ports.map((p) => new RpcLogicClient({ addrs: [`127.0.0.1:${p}`], internalKey: KEY, timeoutMs: 5000 }));
    try {
      for (const username of ['two_owner', 'two_member']) await first!.register({ username, password: 'correct horse' }, client);
      const [owner, member] = await Promise.all(
        ['two_owner', 'two_member'].map(async (username) => first!.authenticate((await first!.login({ username, password: 'correct horse' }, client)).token)),
      );
      const { group } = await first!.createGroup(owner!, { groupName: 'two', members: [member!.userId] });
      // Both instances have answered the member (and cached the member set).
      for (const api of [first!, second!]) assert.equal((await api.getGroup(member!, group.groupId)).members.length, 2);
      const c = group.conversationId;
      await first!.removeMember(owner!, c, member!.userId);
      for (const [name, api] of [
        ['first', first!],
        ['second', second!],
      ] as const) {
        await assert.rejects(api.getGroup(member!, group.groupId), isCode('GROUP_NOT_FOUND'), name);
        for (const read of [
          () => api.getConversation(member!, c),
          () => api.getMessages(member!, c, { kind: 'page', page: 1, size: 10 }),
          () => api.listMembers(member!, c, { page: 1, size: 10 }),
          () => api.getChanges(member!, c, 0, 10),
          () => api.markRead(member!, c),
          () => api.sendMessage(member!, { conversationId: c, content: 'still here?', tempMessageId: `gone-${name}` }),
        ]) {
          await assert.rejects(read(), isCode('NOT_CONVERSATION_MEMBER'), name);
        }
      }
      // Added again through the first, the member is found by the second, whose cache said otherwise.
      await first!.addMembers(owner!, c, [member!.userId]);
      assert.equal((await second!.sendMessage(member!, { conversationId: c, content: 'back', tempMessageId: 'back' })).conversationId, c);
      assert.equal((await second!.getGroup(member!, group.groupId)).members.length, 2);
    } finally {
      first!.close();
      second!.close();
      await Promise.all(servers.map((s) => s.close()));
      for (const logic of logics) await logic.drain();
      await bus.close();
      await repo.close();
    }
  });
});

describe('RpcServer observation', () => {
  it('reports every call: method, seconds, and ok, the AppError code, or UNAUTHENTICATED', async () => {
    const backend = makeLogic();
    const seen: Array<[string, string]> = [];
    const observed = new RpcServer(
      { host: '127.0.0.1', port: 0, internalKey: KEY, observe: (method, seconds, outcome) => (assert.ok(seconds >= 0), seen.push([method, outcome])) },
      backend.logic,
      quiet,
    );
    const bound = await observed.start();
    const caller = new RpcLogicClient({ addrs: [`127.0.0.1:${bound}`], internalKey: KEY, timeoutMs: 5000 });
    const intruder = new RpcLogicClient({ addrs: [`127.0.0.1:${bound}`], internalKey: internalKey('other-secret'), timeoutMs: 5000 });
    try {
      await caller.ready();
      await assert.rejects(caller.login({ username: 'nobody_here', password: 'wrong password' }, client), isCode('INVALID_CREDENTIALS'));
      await assert.rejects(intruder.ready());
      assert.deepEqual(seen, [
        ['UserService.Ready', 'ok'],
        ['AuthService.Login', 'INVALID_CREDENTIALS'],
        ['UserService.Ready', 'UNAUTHENTICATED'],
      ]);
    } finally {
      caller.close();
      intruder.close();
      await observed.close();
      await backend.close();
    }
  });
});

describe('Sends over gRPC', () => {
  async function twoUsersAndConversation(api: LogicApi, prefix: string) {
    await api.register({ username: `${prefix}_ann`, password: 'correct horse' }, client);
    await api.register({ username: `${prefix}_ben`, password: 'correct horse' }, client);
    const ann = await api.authenticate((await api.login({ username: `${prefix}_ann`, password: 'correct horse' }, client)).token);
    const ben = await api.authenticate((await api.login({ username: `${prefix}_ben`, password: 'correct horse' }, client)).token);
    const { conversation } = await api.openSingleConversation(ann, ben.userId);
    return { ann, ben, conversationId: conversation.conversationId };
  }

  it('sends go over one long-lived stream, each answered on its own, and are reported as SendMessage calls', async () => {
    const backend = makeLogic();
    const seen: Array<[string, string]> = [];
    const server = new RpcServer({ host: '127.0.0.1', port: 0, internalKey: KEY, observe: (method, _s, outcome) => seen.push([method, outcome]) }, backend.logic, quiet);
    const bound = await server.start();
    const api = new RpcLogicClient({ addrs: [`127.0.0.1:${bound}`], internalKey: KEY, timeoutMs: 5000 });
    try {
      const { ann, ben, conversationId } = await twoUsersAndConversation(api, 'stream');
      seen.length = 0;
      const outcomes = await Promise.allSettled([
        api.sendMessage(ann, { conversationId, content: 'one', tempMessageId: 'b1' }),
        api.sendMessage(ann, { conversationId, content: '   ', tempMessageId: 'b2' }),
        api.sendMessage(ben, { conversationId, content: 'two', tempMessageId: 'b3' }),
      ]);
      assert.deepEqual(
        outcomes.map((o) => (o.status === 'fulfilled' ? o.value.seqId : (o.reason as AppError).code)),
        [1, 'VALIDATION_ERROR', 2],
      );
      assert.equal((await api.sendMessage(ann, { conversationId, content: 'three', tempMessageId: 'b4' })).seqId, 3);
      const history = await api.getMessages(ben, conversationId, { kind: 'after', afterSeq: 0, size: 10 });
      assert.deepEqual(history.messages.values.map((m) => m.content), ['one', 'two', 'three']);
      api.close();
      await eventually(async () => seen.some(([method]) => method === SEND_STREAM_CALL));
      // Each send reported as it finished, as a SendMessage call of its own would be; one stream, no unary sends.
      assert.deepEqual(seen.filter(([method]) => method.startsWith('MessageService.')).map(([method, outcome]) => `${method} ${outcome}`).sort(), [
        'MessageService.SendMessage VALIDATION_ERROR',
        'MessageService.SendMessage ok',
        'MessageService.SendMessage ok',
        'MessageService.SendMessage ok',
        'MessageService.SendStream ok',
      ]);
    } finally {
      api.close();
      await server.close();
      await backend.close();
    }
  });

  it('a turn\'s sends are one stream message, and outcomes are matched by id in any order', async () => {
    // A logic instance that records each stream message and answers a batch in reverse order.
    const batches: Array<Array<{ id: number; send: { tempMessageId: string } }>> = [];
    const fake = new grpc.Server();
    fake.addService(serviceDefinition('MessageService'), {
      SendStream: (call: grpc.ServerDuplexStream<{ sends: Array<{ id: number; send: { tempMessageId: string } }> }, object>) => {
        call.on('data', ({ sends }) => {
          batches.push(sends);
          const outcomes = [...sends].reverse().map(({ id, send }) => ({
            id,
            outcome: { ack: { tempMessageId: send.tempMessageId, messageId: `m-${send.tempMessageId}`, conversationId: '7', seqId: id, sendTime: '2026-01-01T00:00:00.000Z' } },
          }));
          call.write({ outcomes });
        });
        call.on('end', () => call.end());
      },
    });
    const fakePort = await new Promise<number>((resolve, reject) =>
      fake.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const api = new RpcLogicClient({ addrs: [`127.0.0.1:${fakePort}`], internalKey: KEY, timeoutMs: 5000 });
    const session: Session = { userId: '1', username: 'ann', isGuest: false, jti: 'j', expiresAt: Date.now() + 60_000 };
    try {
      const acks = await Promise.all(['x1', 'x2', 'x3'].map((tempMessageId) => api.sendMessage(session, { conversationId: '7', content: 'hi', tempMessageId })));
      assert.deepEqual(acks.map((a) => a.messageId), ['m-x1', 'm-x2', 'm-x3']);
      const later = await api.sendMessage(session, { conversationId: '7', content: 'hi', tempMessageId: 'x4' });
      assert.equal(later.messageId, 'm-x4');
      assert.deepEqual(batches.map((b) => b.map((s) => s.send.tempMessageId)), [['x1', 'x2', 'x3'], ['x4']]);
      assert.equal(new Set(batches.flat().map((s) => s.id)).size, 4, 'ids are unique on the stream');
    } finally {
      api.close();
      fake.forceShutdown();
    }
  });

  /**
   * A conversation whose own logic instance (`dying`) reads its send stream and dies after
   * `batchesToRead` batches without answering any, beside a live instance; `body` sends through
   * a client that knows both.
   */
  async function withDyingPrimary(batchesToRead: number, body: (send: (n: number, prefix: string) => Promise<MessageAck[]>, batchesRead: () => number) => Promise<void>) {
    const backend = makeLogic();
    const live = new RpcServer({ host: '127.0.0.1', port: 0, internalKey: KEY }, backend.logic, quiet);
    const livePort = await live.start();
    const setup = new RpcLogicClient({ addrs: [`127.0.0.1:${livePort}`], internalKey: KEY, timeoutMs: 5000 });
    let read = 0;
    const dying = new grpc.Server();
    dying.addService(serviceDefinition('MessageService'), {
      SendStream: (call: grpc.ServerDuplexStream<object, object>) => {
        call.on('data', () => {
          if (++read === batchesToRead) dying.forceShutdown();
        });
      },
    });
    const dyingPort = await new Promise<number>((resolve, reject) =>
      dying.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    try {
      const { ann, conversationId } = await twoUsersAndConversation(setup, `dying${batchesToRead}`);
      const addrs = sendInstanceOf(conversationId, 2) === 0 ? [`127.0.0.1:${dyingPort}`, `127.0.0.1:${livePort}`] : [`127.0.0.1:${livePort}`, `127.0.0.1:${dyingPort}`];
      const api = new RpcLogicClient({ addrs, internalKey: KEY, timeoutMs: 5000 });
      const send = (n: number, prefix: string) =>
        Promise.all(Array.from({ length: n }, (_, i) => api.sendMessage(ann, { conversationId, content: `m${i}`, tempMessageId: `${prefix}-${i}` })));
      try {
        await body(send, () => read);
      } finally {
        api.close();
      }
    } finally {
      setup.close();
      dying.forceShutdown();
      await live.close();
      await backend.close();
    }
  }

  it('sends left unanswered when a stream breaks are sent again to a live instance', () =>
    withDyingPrimary(1, async (send, batchesRead) => {
      const acks = await send(3, 'k');
      assert.equal(batchesRead(), 1, 'the dying instance read the batch');
      assert.deepEqual(acks.map((a) => a.seqId), [1, 2, 3]);
    }));

  it('more unanswered sends than one call may carry, left by a broken stream, are all sent again', () =>
    // Two batches on the stream (256 + 44 sends), none answered.
    withDyingPrimary(2, async (send, batchesRead) => {
      const acks = await send(300, 'many');
      assert.equal(batchesRead(), 2);
      assert.deepEqual(acks.map((a) => a.seqId), Array.from({ length: 300 }, (_, i) => i + 1));
    }));

  it('a stream holding its most unanswered sends takes no more: the rest go as calls of their own', async () => {
    const held: Array<{ id: number }> = [];
    let unary = 0;
    const ack = (send: { tempMessageId: string }) => ({ tempMessageId: send.tempMessageId, messageId: `m-${send.tempMessageId}`, conversationId: '7', seqId: 1, sendTime: '2026-01-01T00:00:00.000Z' });
    const stuck = new grpc.Server();
    stuck.addService(serviceDefinition('MessageService'), {
      // An instance that reads its stream and never answers it, but answers calls.
      SendStream: (call: grpc.ServerDuplexStream<{ sends: Array<{ id: number }> }, object>) => call.on('data', ({ sends }) => held.push(...sends)),
      SendMessages: (call: grpc.ServerUnaryCall<{ sends: Array<{ tempMessageId: string }> }, object>, callback: grpc.sendUnaryData<object>) => {
        unary += call.request.sends.length;
        callback(null, { outcomes: call.request.sends.map((send) => ({ ack: ack(send) })) });
      },
    });
    const port = await new Promise<number>((resolve, reject) => stuck.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    const api = new RpcLogicClient({ addrs: [`127.0.0.1:${port}`], internalKey: KEY, timeoutMs: 60_000 });
    const session: Session = { userId: '1', username: 'ann', isGuest: false, jti: 'j', expiresAt: Date.now() + 60_000 };
    try {
      const first = Array.from({ length: MAX_PENDING }, (_, i) => api.sendMessage(session, { conversationId: '7', content: 'hi', tempMessageId: `s${i}` }));
      await eventually(async () => held.length === MAX_PENDING);
      const overflow = await Promise.all(Array.from({ length: 10 }, (_, i) => api.sendMessage(session, { conversationId: '7', content: 'hi', tempMessageId: `o${i}` })));
      assert.deepEqual([overflow.length, unary, held.length], [10, 10, MAX_PENDING]);
      api.close();
      const closed = await Promise.allSettled(first);
      assert.ok(closed.every((r) => r.status === 'rejected' && (r.reason as AppError).code === 'SERVICE_UNAVAILABLE'));
    } finally {
      api.close();
      stuck.forceShutdown();
    }
  });

  it('logic shutting down ends its send streams: every send is answered once, by it or by the other instance', async () => {
    const backend = makeLogic();
    const [first, second] = [
      new RpcServer({ host: '127.0.0.1', port: 0, internalKey: KEY }, backend.logic, quiet),
      new RpcServer({ host: '127.0.0.1', port: 0, internalKey: KEY }, backend.logic, quiet),
    ];
    const ports = [await first.start(), await second.start()];
    const setup = new RpcLogicClient({ addrs: [`127.0.0.1:${ports[1]}`], internalKey: KEY, timeoutMs: 5000 });
    try {
      const { ann, conversationId } = await twoUsersAndConversation(setup, 'drain');
      // The conversation's own instance is `first`.
      const addrs = sendInstanceOf(conversationId, 2) === 0 ? [`127.0.0.1:${ports[0]}`, `127.0.0.1:${ports[1]}`] : [`127.0.0.1:${ports[1]}`, `127.0.0.1:${ports[0]}`];
      const api = new RpcLogicClient({ addrs, internalKey: KEY, timeoutMs: 5000 });
      try {
        assert.equal((await api.sendMessage(ann, { conversationId, content: 'before', tempMessageId: 'd0' })).seqId, 1);
        const inFlight = [1, 2].map((i) => api.sendMessage(ann, { conversationId, content: `during ${i}`, tempMessageId: `d${i}` }));
        const closed = first.close();
        const after = api.sendMessage(ann, { conversationId, content: 'after', tempMessageId: 'd3' });
        assert.deepEqual((await Promise.all([...inFlight, after])).map((a) => a.seqId), [2, 3, 4]);
        await closed;
        assert.equal((await api.sendMessage(ann, { conversationId, content: 'later', tempMessageId: 'd4' })).seqId, 5);
      } finally {
        api.close();
      }
    } finally {
      setup.close();
      await second.close();
      await backend.close();
    }
  });

  it('a logic instance without SendMessages (an older version) still gets every send, one call each', async () => {
    const backend = makeLogic();
    const full = new RpcServer({ host: '127.0.0.1', port: 0, internalKey: KEY }, backend.logic, quiet);
    const fullPort = await full.start();
    const setup = new RpcLogicClient({ addrs: [`127.0.0.1:${fullPort}`], internalKey: KEY, timeoutMs: 5000 });
    // The older instance: MessageService with SendMessage only, which forwards to the current server.
    const older = new grpc.Server();
    const sendMessage = serviceDefinition('MessageService').SendMessage!;
    const forward = new grpc.Client(`127.0.0.1:${fullPort}`, grpc.credentials.createInsecure());
    older.addService({ SendMessage: sendMessage }, {
      SendMessage: (call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) =>
        forward.makeUnaryRequest(sendMessage.path, sendMessage.requestSerialize, sendMessage.responseDeserialize, call.request, call.metadata, callback),
    });
    const olderPort = await new Promise<number>((resolve, reject) =>
      older.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const api = new RpcLogicClient({ addrs: [`127.0.0.1:${olderPort}`], internalKey: KEY, timeoutMs: 5000 });
    try {
      await setup.register({ username: 'old_ann', password: 'correct horse' }, client);
      const ann = await setup.authenticate((await setup.login({ username: 'old_ann', password: 'correct horse' }, client)).token);
      const { group } = await setup.createGroup(ann, { groupName: 'old', members: [] });
      const { conversation } = await setup.createGroup(ann, { groupName: 'old 2', members: [] });
      const firstId = (await setup.getGroup(ann, group.groupId)).group.conversationId;
      const acks = await Promise.all([
        api.sendMessage(ann, { conversationId: firstId, content: 'a', tempMessageId: 'o1' }),
        api.sendMessage(ann, { conversationId: firstId, content: 'b', tempMessageId: 'o2' }),
        api.sendMessage(ann, { conversationId: conversation.conversationId, content: 'c', tempMessageId: 'o3' }),
      ]);
      assert.deepEqual(acks.map((a) => [a.tempMessageId, a.seqId]), [['o1', 1], ['o2', 2], ['o3', 1]]);
      await api.drain();
    } finally {
      api.close();
      setup.close();
      forward.close();
      older.forceShutdown();
      await full.close();
      await backend.close();
    }
  });
});

describe('RpcLogicClient observation', () => {
  it('reports each call once it is answered, failover included: method, seconds, and ok or the AppError code', async () => {
    const backend = makeLogic();
    const server = new RpcServer({ host: '127.0.0.1', port: 0, internalKey: KEY }, backend.logic, quiet);
    const bound = await server.start();
    const dead = await downInstance();
    const seen: Array<[string, string]> = [];
    const observe = (method: string, seconds: number, outcome: string) => (assert.ok(seconds >= 0), seen.push([method, outcome]));
    const balanced = new RpcLogicClient({ addrs: [`127.0.0.1:${dead.port}`, `127.0.0.1:${bound}`], internalKey: KEY, timeoutMs: 5000, observe });
    const none = new RpcLogicClient({ addrs: [`127.0.0.1:${dead.port}`], internalKey: KEY, timeoutMs: 5000, observe });
    const intruder = new RpcLogicClient({ addrs: [`127.0.0.1:${bound}`], internalKey: internalKey('other-secret'), timeoutMs: 5000, observe });
    try {
      // Round-robin starts on the dead instance at least once: that call fails over and is one report.
      await balanced.ready();
      await balanced.ready();
      await assert.rejects(balanced.login({ username: 'nobody_here', password: 'wrong password' }, client), isCode('INVALID_CREDENTIALS'));
      await assert.rejects(none.ready(), isCode('SERVICE_UNAVAILABLE'));
      await assert.rejects(intruder.ready(), isCode('INTERNAL_ERROR'));
      assert.deepEqual(seen, [
        ['UserService.Ready', 'ok'],
        ['UserService.Ready', 'ok'],
        ['AuthService.Login', 'INVALID_CREDENTIALS'],
        ['UserService.Ready', 'SERVICE_UNAVAILABLE'],
        ['UserService.Ready', 'INTERNAL_ERROR'],
      ]);
    } finally {
      balanced.close();
      none.close();
      intruder.close();
      await dead.close();
      await server.close();
      await backend.close();
    }
  });
});
