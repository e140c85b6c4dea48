/**
 * Who may change a group, and what each change does: a pure function from the group as it is
 * (read under the conversation's lock, inside the store's transaction) and the operation asked for,
 * to the plan the store applies, or the AppError the loser of a race gets. The store keeps the
 * atomicity; the rules live here, in logic, and are the same on every topology.
 *
 * | operation | owner | admin | member |
 * |---|---|---|---|
 * | add members | yes | yes | FORBIDDEN |
 * | remove a member | yes | yes | FORBIDDEN |
 * | remove an admin | yes | FORBIDDEN | FORBIDDEN |
 * | leave (remove yourself) | OWNER_MUST_TRANSFER, unless the last member (then the group is disbanded) | yes | yes |
 * | make a member admin or member | yes (not yourself: OWNER_MUST_TRANSFER) | FORBIDDEN | FORBIDDEN |
 * | transfer ownership (role owner) | yes, to a registered member; you become admin | FORBIDDEN | FORBIDDEN |
 * | rename, avatar, description | yes | yes | FORBIDDEN |
 * | disband | yes | FORBIDDEN | FORBIDDEN |
 *
 * A guest may be a member and leave, never an admin or the owner: a guest account expires, and a
 * group must never be left without an owner. Adding past the member cap adds nobody (GROUP_FULL).
 * A change that changes nothing (adding members already in, the role someone has, the same name)
 * is a plan with no effect: the store writes nothing and no system message.
 */
import { AppError, type GroupRole, type UserRef } from '../protocol/index.js';
import type { GroupChangePlan, GroupInfoPatch, GroupMemberSnapshot, GroupSnapshot } from '../repo/index.js';

/** The group as the rules see it, and what they decide: the store's types (repo/index.ts). */
export type GroupState = GroupSnapshot;
export type GroupPlan = GroupChangePlan;
export type GroupMemberState = GroupMemberSnapshot;

export type GroupOperation =
  | { kind: 'add-members'; users: ReadonlyArray<UserRef & { isGuest: boolean }> }
  | { kind: 'remove-member'; userId: string }
  | { kind: 'set-role'; userId: string; role: GroupRole }
  | { kind: 'update-info'; patch: GroupInfoPatch }
  | { kind: 'disband' };

const NOTHING: GroupPlan = { added: [], removed: [], roles: [], disband: false };

const ADMINS: ReadonlySet<GroupRole> = new Set(['owner', 'admin']);

function forbidden(requiredRole: GroupRole, what: string): AppError {
  return new AppError('FORBIDDEN', `Only ${requiredRole === 'owner' ? 'the owner' : 'the owner or an admin'} may ${what}`, { requiredRole });
}

function ref(userId: string, member: GroupMemberState): UserRef {
  return { userId, username: member.username };
}

/** What `actorId` asking for `operation` does to the group, or the AppError it is refused with. */
export function decideGroupChange(group: GroupState, actorId: string, operation: GroupOperation): GroupPlan {
  const actor = group.members.get(actorId);
  if (!actor) throw new AppError('NOT_CONVERSATION_MEMBER');
  switch (operation.kind) {
    case 'add-members': {
      if (!ADMINS.has(actor.role)) throw forbidden('admin', 'add members');
      const seen = new Set<string>();
      const added = operation.users.filter((u) => !group.members.has(u.userId) && !seen.has(u.userId) && seen.add(u.userId));
      if (added.length === 0) return NOTHING;
      if (group.members.size + added.length > group.maxMembers) {
        throw new AppError('GROUP_FULL', `A group has at most ${group.maxMembers} members`, { maxMembers: group.maxMembers });
      }
      const users = added.map(({ userId, username }) => ({ userId, username }));
      return { ...NOTHING, added: users, event: { event: 'members-added', users } };
    }
    case 'remove-member': {
      // The caller's role before the target's existence: a plain member learns nothing of who is in.
      if (operation.userId !== actorId && !ADMINS.has(actor.role)) throw forbidden('admin', 'remove members');
      const target = group.members.get(operation.userId);
      if (!target) throw new AppError('MEMBER_NOT_FOUND');
      if (operation.userId === actorId) {
        if (actor.role !== 'owner') return { ...NOTHING, removed: [actorId], event: { event: 'member-left' } };
        if (group.members.size > 1) throw new AppError('OWNER_MUST_TRANSFER', 'Transfer ownership to another member before leaving');
        return { ...NOTHING, removed: [actorId], disband: true, event: { event: 'group-disbanded' } };
      }
      if (target.role === 'owner') throw forbidden('owner', 'remove the owner');
      if (target.role === 'admin' && actor.role !== 'owner') throw forbidden('owner', 'remove an admin');
      return { ...NOTHING, removed: [operation.userId], event: { event: 'member-removed', user: ref(operation.userId, target) } };
    }
    case 'set-role': {
      if (actor.role !== 'owner') throw forbidden('owner', 'change roles');
      const target = group.members.get(operation.userId);
      if (!target) throw new AppError('MEMBER_NOT_FOUND');
      if (operation.userId === actorId) {
        if (operation.role === 'owner') return NOTHING;
        throw new AppError('OWNER_MUST_TRANSFER', 'Transfer ownership to another member first');
      }
      if (target.role === operation.role) return NOTHING;
      if (target.isGuest && operation.role !== 'member') throw new AppError('FORBIDDEN', 'A guest cannot be an admin or the owner', { requiredRole: 'member' });
      if (operation.role === 'owner') {
        return {
          ...NOTHING,
          roles: [
            { userId: operation.userId, role: 'owner' },
            { userId: actorId, role: 'admin' },
          ],
          ownerId: operation.userId,
          event: { event: 'owner-transferred', user: ref(operation.userId, target) },
        };
      }
      return { ...NOTHING, roles: [{ userId: operation.userId, role: operation.role }], event: { event: 'role-changed', user: ref(operation.userId, target), role: operation.role } };
    }
    case 'update-info': {
      if (!ADMINS.has(actor.role)) throw forbidden('admin', 'change the group');
      const changed: GroupInfoPatch = {};
      for (const field of ['name', 'avatar', 'description'] as const) {
        const value = operation.patch[field];
        if (value !== undefined && value !== group[field]) changed[field] = value;
      }
      if (Object.keys(changed).length === 0) return NOTHING;
      return { ...NOTHING, info: changed, event: { event: 'group-updated', ...changed } };
    }
    case 'disband': {
      if (actor.role !== 'owner') throw forbidden('owner', 'disband the group');
      return { ...NOTHING, removed: [...group.members.keys()], disband: true, event: { event: 'group-disbanded' } };
    }
  }
}
