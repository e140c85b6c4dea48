/**
 * The group administration rules: the role table, one case per cell, and a property: whatever
 * sequence of operations anyone asks for, a group keeps exactly one owner, never a guest, and
 * never more members than its cap.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AppError, GROUP_ROLES, type GroupRole } from '../../src/protocol/index.js';
import { decideGroupChange, type GroupMemberState, type GroupOperation, type GroupPlan, type GroupState } from '../../src/logic/group-rules.js';

function group(members: Record<string, GroupRole | `${GroupRole}:guest`>, maxMembers = 10): GroupState {
  return {
    members: new Map(
      Object.entries(members).map(([id, spec]) => {
        const [role, guest] = spec.split(':') as [GroupRole, string | undefined];
        return [id, { role, isGuest: guest === 'guest', username: `user${id}` }];
      }),
    ),
    name: 'Book club',
    avatar: '',
    description: '',
    maxMembers,
  };
}

const G = () => group({ o: 'owner', a: 'admin', a2: 'admin', m: 'member', m2: 'member', g: 'member:guest' });
const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  return 'allowed';
};
const user = (userId: string, isGuest = false) => ({ userId, username: `user${userId}`, isGuest });

describe('group rules: the role table', () => {
  it('add members: owner and admins; already-members change nothing; past the cap nobody is added', () => {
    for (const [actor, outcome] of [['o', 'allowed'], ['a', 'allowed'], ['m', 'FORBIDDEN'], ['x', 'NOT_CONVERSATION_MEMBER']] as const) {
      assert.equal(refusal(() => decideGroupChange(G(), actor, { kind: 'add-members', users: [user('n')] })), outcome, actor);
    }
    const plan = decideGroupChange(G(), 'a', { kind: 'add-members', users: [user('n'), user('m'), user('n')] });
    assert.deepEqual(plan.added, [{ userId: 'n', username: 'usern' }]);
    assert.deepEqual(plan.event, { event: 'members-added', users: [{ userId: 'n', username: 'usern' }] });
    assert.equal(decideGroupChange(G(), 'o', { kind: 'add-members', users: [user('m')] }).event, undefined);
    const full = group({ o: 'owner', m: 'member' }, 3);
    assert.equal(refusal(() => decideGroupChange(full, 'o', { kind: 'add-members', users: [user('n1'), user('n2')] })), 'GROUP_FULL');
    assert.deepEqual(decideGroupChange(full, 'o', { kind: 'add-members', users: [user('n1')] }).added.length, 1);
  });

  it('remove: owner removes anyone else, an admin only members, a member nobody; the owner cannot be removed', () => {
    const cases: Array<[string, string, string]> = [
      ['o', 'a', 'allowed'],
      ['o', 'm', 'allowed'],
      ['a', 'm', 'allowed'],
      ['a', 'a2', 'FORBIDDEN'],
      ['a', 'o', 'FORBIDDEN'],
      ['m', 'm2', 'FORBIDDEN'],
      ['m', 'o', 'FORBIDDEN'],
      ['o', 'nobody', 'MEMBER_NOT_FOUND'],
    ];
    for (const [actor, target, outcome] of cases) {
      assert.equal(refusal(() => decideGroupChange(G(), actor, { kind: 'remove-member', userId: target })), outcome, `${actor} removes ${target}`);
    }
    assert.deepEqual(decideGroupChange(G(), 'a', { kind: 'remove-member', userId: 'm' }).event, { event: 'member-removed', user: { userId: 'm', username: 'userm' } });
  });

  it('leave: anyone but the owner; the owner only as the last member, which disbands the group', () => {
    for (const actor of ['a', 'm', 'g']) {
      assert.deepEqual(decideGroupChange(G(), actor, { kind: 'remove-member', userId: actor }), { added: [], removed: [actor], roles: [], disband: false, event: { event: 'member-left' } });
    }
    assert.equal(refusal(() => decideGroupChange(G(), 'o', { kind: 'remove-member', userId: 'o' })), 'OWNER_MUST_TRANSFER');
    const alone = decideGroupChange(group({ o: 'owner' }), 'o', { kind: 'remove-member', userId: 'o' });
    assert.deepEqual([alone.disband, alone.event], [true, { event: 'group-disbanded' }]);
  });

  it('roles: only the owner; a transfer makes the old owner an admin; a guest stays a member', () => {
    for (const actor of ['a', 'm']) assert.equal(refusal(() => decideGroupChange(G(), actor, { kind: 'set-role', userId: 'm2', role: 'admin' })), 'FORBIDDEN', actor);
    assert.deepEqual(decideGroupChange(G(), 'o', { kind: 'set-role', userId: 'm', role: 'admin' }).roles, [{ userId: 'm', role: 'admin' }]);
    const transfer = decideGroupChange(G(), 'o', { kind: 'set-role', userId: 'a', role: 'owner' });
    assert.deepEqual([transfer.ownerId, transfer.roles, transfer.event], [
      'a',
      [
        { userId: 'a', role: 'owner' },
        { userId: 'o', role: 'admin' },
      ],
      { event: 'owner-transferred', user: { userId: 'a', username: 'usera' } },
    ]);
    assert.equal(refusal(() => decideGroupChange(G(), 'o', { kind: 'set-role', userId: 'g', role: 'owner' })), 'FORBIDDEN');
    assert.equal(refusal(() => decideGroupChange(G(), 'o', { kind: 'set-role', userId: 'g', role: 'admin' })), 'FORBIDDEN');
    assert.equal(refusal(() => decideGroupChange(G(), 'o', { kind: 'set-role', userId: 'o', role: 'member' })), 'OWNER_MUST_TRANSFER');
    assert.equal(decideGroupChange(G(), 'o', { kind: 'set-role', userId: 'a', role: 'admin' }).event, undefined, 'the role it has');
    assert.equal(refusal(() => decideGroupChange(G(), 'o', { kind: 'set-role', userId: 'nobody', role: 'admin' })), 'MEMBER_NOT_FOUND');
  });

  it('group info: owner and admins, only the fields that change; disband: the owner only', () => {
    assert.equal(refusal(() => decideGroupChange(G(), 'm', { kind: 'update-info', patch: { name: 'x' } })), 'FORBIDDEN');
    const plan = decideGroupChange(G(), 'a', { kind: 'update-info', patch: { name: 'Book club', description: 'Monthly' } });
    assert.deepEqual([plan.info, plan.event], [{ description: 'Monthly' }, { event: 'group-updated', description: 'Monthly' }]);
    assert.equal(decideGroupChange(G(), 'a', { kind: 'update-info', patch: { name: 'Book club' } }).event, undefined);
    assert.equal(refusal(() => decideGroupChange(G(), 'a', { kind: 'disband' })), 'FORBIDDEN');
    assert.deepEqual(decideGroupChange(G(), 'o', { kind: 'disband' }).removed.sort(), ['a', 'a2', 'g', 'm', 'm2', 'o']);
  });
});

/** Who owns the group once `plan` is applied (the store checks the same before it commits). */
function ownersAfter(group: GroupState, plan: GroupPlan): string[] {
  const roles = new Map([...group.members].map(([userId, m]) => [userId, m.role]));
  for (const userId of plan.removed) roles.delete(userId);
  for (const { userId } of plan.added) roles.set(userId, 'member');
  for (const { userId, role } of plan.roles) roles.set(userId, role);
  return [...roles].filter(([, role]) => role === 'owner').map(([userId]) => userId);
}

describe('group rules: invariants (property)', () => {
  const ids = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];
  const operation: fc.Arbitrary<[string, GroupOperation]> = fc.tuple(
    fc.constantFrom(...ids),
    fc.oneof(
      fc.array(fc.constantFrom(...ids), { minLength: 1, maxLength: 3 }).map((us): GroupOperation => ({ kind: 'add-members', users: us.map((u) => user(u, u === 'u5')) })),
      fc.constantFrom(...ids).map((userId): GroupOperation => ({ kind: 'remove-member', userId })),
      fc.tuple(fc.constantFrom(...ids), fc.constantFrom(...GROUP_ROLES)).map(([userId, role]): GroupOperation => ({ kind: 'set-role', userId, role })),
      fc.constantFrom('a', 'b').map((name): GroupOperation => ({ kind: 'update-info', patch: { name } })),
      fc.constant<GroupOperation>({ kind: 'disband' }),
    ),
  );

  function apply(state: GroupState, plan: GroupPlan): GroupState {
    const members = new Map<string, GroupMemberState>(state.members);
    for (const userId of plan.removed) members.delete(userId);
    for (const { userId, username } of plan.added) members.set(userId, { role: 'member', isGuest: userId === 'u5', username });
    for (const { userId, role } of plan.roles) members.set(userId, { ...members.get(userId)!, role });
    return { ...state, members, ...(plan.info ?? {}) };
  }

  it('a live group always has exactly one owner, never a guest, and never more members than its cap', () => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 40 }), (ops) => {
        let state = group({ u0: 'owner', u1: 'member' }, 4);
        for (const [actor, op] of ops) {
          let plan: GroupPlan;
          try {
            plan = decideGroupChange(state, actor, op);
          } catch (err) {
            assert.ok(err instanceof AppError, String(err));
            continue;
          }
          if (plan.disband) return; // the group is gone: nothing more can be asked of it
          const owners = ownersAfter(state, plan);
          state = apply(state, plan);
          assert.equal(owners.length, 1, `one owner after ${JSON.stringify(op)} by ${actor}`);
          assert.equal(state.members.get(owners[0]!)?.isGuest, false, 'the owner is registered');
          for (const member of state.members.values()) if (member.isGuest) assert.equal(member.role, 'member');
          assert.ok(state.members.size <= state.maxMembers);
        }
      }),
      { seed: 1313, numRuns: 500 },
    );
  });
});
