/**
 * The content of a `system` message: what happened to a conversation, as data a client renders
 * in its own language ("Ann added Ben"), never as an English sentence. The message's sender is
 * who did it; names are those at the time, so a line still reads right after the subject left.
 * The text in `Message.content` is `encodeSystemContent`'s JSON; `parseSystemContent` reads it
 * back, tolerantly: anything it does not recognise (an event a newer server added) is null, which
 * a client shows as a neutral "the conversation was updated".
 *
 * Hand-written checks rather than a TypeBox schema and its validator: the SDK and the web app
 * bundle this module, and should not carry a validator for seven small shapes.
 */
import { GROUP_ROLES, type GroupRole } from './constants.js';

/** A user as a system message names them. */
export interface UserRef {
  userId: string;
  username: string;
}

export type SystemContent =
  | { event: 'members-added'; users: UserRef[] }
  | { event: 'member-removed'; user: UserRef }
  | { event: 'member-left' }
  | { event: 'role-changed'; user: UserRef; role: GroupRole }
  | { event: 'owner-transferred'; user: UserRef }
  | { event: 'group-updated'; name?: string; avatar?: string; description?: string }
  | { event: 'group-disbanded' };

export type SystemEvent = SystemContent['event'];

export function encodeSystemContent(content: SystemContent): string {
  return JSON.stringify(content);
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isUserRef = (value: unknown): value is UserRef => isRecord(value) && isString(value.userId) && isString(value.username);
const isRole = (value: unknown): value is GroupRole => (GROUP_ROLES as readonly unknown[]).includes(value);

/** The system message's content, or null when it is not one this version knows. */
export function parseSystemContent(text: string): SystemContent | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(value)) return null;
  switch (value.event) {
    case 'members-added':
      return Array.isArray(value.users) && value.users.length > 0 && value.users.every(isUserRef) ? { event: 'members-added', users: value.users } : null;
    case 'member-removed':
      return isUserRef(value.user) ? { event: 'member-removed', user: value.user } : null;
    case 'member-left':
      return { event: 'member-left' };
    case 'role-changed':
      return isUserRef(value.user) && isRole(value.role) ? { event: 'role-changed', user: value.user, role: value.role } : null;
    case 'owner-transferred':
      return isUserRef(value.user) ? { event: 'owner-transferred', user: value.user } : null;
    case 'group-updated': {
      const out: SystemContent = { event: 'group-updated' };
      for (const field of ['name', 'avatar', 'description'] as const) {
        const v = value[field];
        if (v === undefined) continue;
        if (!isString(v)) return null;
        out[field] = v;
      }
      return out;
    }
    case 'group-disbanded':
      return { event: 'group-disbanded' };
    default:
      return null;
  }
}
