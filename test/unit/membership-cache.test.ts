/**
 * The send path's membership cache over a real store (SQLite in memory), counting the store calls
 * it makes: the world room must never be reloaded as a member list, a join costs no query, and a
 * membership the cache does not know is one `isMember` query.
 */
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteRepo } from '../../src/repo/sqlite/sqlite-repo.js';
import type { Repo } from '../../src/repo/index.js';
import { MembershipCache } from '../../src/logic/membership-cache.js';

/** The real store, wrapped so each call is counted by method name. */
function countingRepo(repo: Repo): { repo: Repo; calls: Map<string, number>; total: () => number } {
  const calls = new Map<string, number>();
  const wrapped = new Proxy(repo, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { repo: wrapped, calls, total: () => [...calls.values()].reduce((a, b) => a + b, 0) };
}

describe('MembershipCache', () => {
  let store: SqliteRepo;
  let counted: ReturnType<typeof countingRepo>;
  let worldId: string;
  let members: string[];
  let clock: number;
  let cache: MembershipCache;
  let names = 0;

  const newUser = async (isGuest = false) => (await store.createUser({ username: `u${++names}`, passwordHash: 'x', isGuest })).userId;

  beforeEach(async () => {
    store = new SqliteRepo({ file: ':memory:' });
    members = [];
    for (let i = 0; i < 50; i++) {
      const id = await newUser();
      worldId = await store.joinWorld(id);
      members.push(id);
    }
    counted = countingRepo(store);
    clock = 1_000_000;
    cache = new MembershipCache(counted.repo, { memberRecheckMs: 60_000, nonMemberTtlMs: 2_000 }, () => clock);
  });

  afterEach(() => store.close());

  it('answers a world member with one isMember query and never loads the member list', async () => {
    const check = await cache.forMember(worldId, members[0]!);
    assert.equal(check?.isMember, true);
    assert.equal(check?.recipients, 'all-connected');
    assert.deepEqual(Object.fromEntries(counted.calls), { getConversationInfo: 1, isMember: 1 });
    await cache.forMember(worldId, members[0]!);
    assert.equal(counted.total(), 2, 'a known member costs no query');
  });

  it('a join through this process adds the one id: the new member sends with no query at all', async () => {
    await cache.forMember(worldId, members[0]!);
    const before = counted.total();
    const joined = await newUser(true);
    cache.memberJoined(await store.joinWorld(joined), joined);
    assert.equal((await cache.forMember(worldId, joined))?.isMember, true);
    assert.equal((await cache.forMember(worldId, members[1]!))?.isMember, true);
    assert.equal(counted.total() - before, 1, 'only the other, not yet known member was checked');
    assert.equal(counted.calls.get('getMemberIds'), undefined);
  });

  it('a join through another process is found with one isMember query for that user', async () => {
    await cache.forMember(worldId, members[0]!);
    const elsewhere = await newUser(true);
    await store.joinWorld(elsewhere); // not told to this cache
    const before = counted.calls.get('isMember') ?? 0;
    assert.equal((await cache.forMember(worldId, elsewhere))?.isMember, true);
    assert.equal((counted.calls.get('isMember') ?? 0) - before, 1);
    assert.equal(counted.calls.get('getMemberIds'), undefined);
  });

  it('concurrent checks of one unknown member ask the store once', async () => {
    await Promise.all(Array.from({ length: 20 }, () => cache.forMember(worldId, members[3]!)));
    assert.equal(counted.calls.get('isMember'), 1);
  });

  it('a member removed elsewhere is believed at most memberRecheckMs, one removed here not at all', async () => {
    const [removedElsewhere, removedHere] = [await newUser(true), await newUser(true)];
    for (const id of [removedElsewhere, removedHere]) cache.memberJoined(await store.joinWorld(id), id);
    await cache.forMember(worldId, removedElsewhere);
    await cache.forMember(worldId, removedHere);
    assert.deepEqual((await store.expireGuests(Number.MAX_SAFE_INTEGER, 10)).sort(), [removedElsewhere, removedHere].sort());

    cache.worldMembersLeft([removedHere]);
    assert.equal((await cache.forMember(worldId, removedHere))?.isMember, false);
    assert.equal((await cache.forMember(worldId, removedElsewhere))?.isMember, true, 'stale, within the bound');
    clock += 60_000;
    assert.equal((await cache.forMember(worldId, removedElsewhere))?.isMember, false, 'checked again after the bound');
  });

  it('a non-member is refused from memory for nonMemberTtlMs, then checked again', async () => {
    await cache.forMember(worldId, members[0]!);
    const outsider = await newUser();
    for (let i = 0; i < 5; i++) assert.equal((await cache.forMember(worldId, outsider))?.isMember, false);
    assert.equal(counted.calls.get('isMember'), 2);
    clock += 2_000;
    await cache.forMember(worldId, outsider);
    assert.equal(counted.calls.get('isMember'), 3);
  });

  it('a group is loaded once, its member list is the recipient list, and a missing conversation is null', async () => {
    const { conversationId } = await store.createGroup({ ownerId: members[0]!, name: 'g', memberIds: [members[1]!, members[2]!] });
    const check = await cache.forMember(conversationId, members[1]!);
    assert.equal(check?.isMember, true);
    assert.deepEqual([...(check!.recipients as string[])].sort(), [members[0]!, members[1]!, members[2]!].sort());
    assert.equal((await cache.forMember(conversationId, members[9]!))?.isMember, false);
    assert.equal(counted.calls.get('getMemberIds'), 1);
    assert.equal(await cache.forMember('987654', members[0]!), null);
  });

  it('refresh forgets a group entry and a load in flight: the next check reads the store again', async () => {
    const owner = members[0]!;
    const { conversationId } = await store.createGroup({ name: 'g', ownerId: owner, memberIds: [members[1]!] });
    const first = await cache.forMember(conversationId, owner);
    assert.deepEqual([first?.isMember, first?.info.membersSeq], [true, 0]);
    assert.equal(counted.calls.get('getMemberIds'), 1);
    await cache.forMember(conversationId, owner);
    assert.equal(counted.calls.get('getMemberIds'), 1, 'cached');
    cache.refresh(conversationId);
    await cache.forMember(conversationId, owner);
    assert.equal(counted.calls.get('getMemberIds'), 2, 'read again after refresh');
    // A load in flight when refresh is called answers its caller but is not kept.
    cache.refresh(conversationId);
    const inFlight = cache.forMember(conversationId, owner);
    cache.refresh(conversationId);
    assert.equal((await inFlight)?.isMember, true);
    await cache.forMember(conversationId, owner);
    assert.equal(counted.calls.get('getMemberIds'), 4, 'the outdated load was not kept');
  });
});
