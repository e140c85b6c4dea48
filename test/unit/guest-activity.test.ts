/**
 * What counts as a guest's activity for guest expiry, seen through Logic over a real store
 * (SQLite in memory) with the clock mocked: a new guest's first requests write nothing (its
 * creation is its activity), and a guest that only chats on an open socket stays active.
 */
import { describe, it, beforeEach, afterEach, mock } from 'node:test';
import assert from 'node:assert/strict';
import { Logic } from '../../src/logic/logic.js';
import { SqliteRepo } from '../../src/repo/sqlite/sqlite-repo.js';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { unlimitedLogicConfig } from '../helpers/logic-config.js';

const quiet = { warn: () => {}, error: () => {}, info: () => {} };
const TTL_SECONDS = 3600;
const client = { ip: '127.0.0.1' };

describe('guest activity', () => {
  let repo: SqliteRepo;
  let logic: Logic;
  let touches: string[];

  beforeEach(() => {
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    repo = new SqliteRepo({ file: ':memory:' });
    touches = [];
    const touchGuest = repo.touchGuest.bind(repo);
    repo.touchGuest = (userId, at) => (touches.push(userId), touchGuest(userId, at));
    logic = new Logic(
      unlimitedLogicConfig({
        tokenTtlSeconds: 24 * 3600,
        guestExpiry: { ttlSeconds: TTL_SECONDS, sweepIntervalMs: 60_000, sweepBatch: 100 },
      }),
      repo,
      new MemoryBus(),
      quiet,
    );
  });

  afterEach(async () => {
    await logic.drain();
    await repo.close();
    mock.timers.reset();
  });

  it('writes no activity for a new guest\u2019s first requests', async () => {
    const { token } = await logic.guest({}, client);
    await logic.authenticate(token);
    await logic.authenticate(token);
    assert.deepEqual(touches, []);
  });

  it('counts sends on an open socket as activity, so a chatting guest does not expire', async () => {
    const { token, user } = await logic.guest({}, client);
    const session = await logic.authenticate(token);
    const world = (await logic.listConversations(session)).find((c) => c.type === 'world')!;
    // Past the touch interval (a quarter of the TTL) with no new authentication: only the send is seen.
    mock.timers.tick((TTL_SECONDS * 1000) / 4 + 1_000);
    await logic.sendMessage(session, { conversationId: world.conversationId, content: 'still here', tempMessageId: 'active-1' });
    assert.deepEqual(touches, [user.userId]);
    // Three quarters of the TTL later the last activity is the send, not the creation: nothing expires.
    mock.timers.tick((TTL_SECONDS * 1000 * 3) / 4);
    assert.deepEqual(await repo.expireGuests(Date.now() - TTL_SECONDS * 1000, 10), []);
  });
});
