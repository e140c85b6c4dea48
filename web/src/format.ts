/** Text shown for data: titles, times, system lines and error messages. */
import { GoChatError, parseSystemContent, type Conversation, type GroupRole, type Message, type ReplySnapshot, type UserRef } from '../../sdk/index.js';

/** A 1:1 conversation is titled by the other person. */
export function conversationTitle(c: Conversation): string {
  return c.type === 'single' && c.peer ? c.peer.username : c.name;
}

export const memberCount = (n: number): string => `${n} member${n === 1 ? '' : 's'}`;

/** A short time for lists and bubbles: the hour today, the date otherwise. */
export function formatTime(iso: string, now = new Date()): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const sameDay = date.toDateString() === now.toDateString();
  return sameDay
    ? date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
}

export function describeError(err: unknown): string {
  if (err instanceof GoChatError) {
    if (err.code === 'NETWORK_ERROR') return 'Cannot reach the server. Check your connection.';
    if (err.code === 'TIMEOUT') return 'No answer from the server.';
    return err.message;
  }
  return 'Something went wrong.';
}

const ROLE_PHRASE: Record<GroupRole, string> = { owner: 'the owner', admin: 'an admin', member: 'a member' };
/** Names listed in a "members added" line; more are counted. */
const NAMES_LISTED = 5;

/** "a", "a and b", "a, b and c". */
function joinAnd(parts: readonly string[]): string {
  return parts.length <= 1 ? (parts[0] ?? '') : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)!}`;
}

/**
 * The line a system message shows ("ann added ben, cal"): the sender is who did it, and the
 * current user is "You" / "you". Content this version does not know reads "The group was updated".
 *
 * @example
 * describeSystemMessage({ content: '{"event":"member-left"}', senderId: '7', senderName: 'ben' }, '1'); // "ben left"
 */
export function describeSystemMessage(message: Pick<Message, 'content' | 'senderId' | 'senderName'>, myUserId: string): string {
  const content = parseSystemContent(message.content);
  if (!content) return 'The group was updated';
  const actor = message.senderId === myUserId ? 'You' : message.senderName;
  const named = (user: UserRef) => (user.userId === myUserId ? 'you' : user.username);
  switch (content.event) {
    case 'members-added': {
      const names = content.users.slice(0, NAMES_LISTED).map(named);
      const rest = content.users.length - names.length;
      return `${actor} added ${names.join(', ')}${rest > 0 ? ` and ${rest} other${rest === 1 ? '' : 's'}` : ''}`;
    }
    case 'member-removed':
      return `${actor} removed ${named(content.user)}`;
    case 'member-left':
      return `${actor} left`;
    case 'role-changed':
      return `${actor} made ${named(content.user)} ${ROLE_PHRASE[content.role]}`;
    case 'owner-transferred':
      return `${actor} made ${named(content.user)} the owner`;
    case 'group-updated': {
      const changes: string[] = [];
      if (content.name !== undefined) changes.push(`renamed the group to “${content.name}”`);
      if (content.description !== undefined) changes.push("changed the group's description");
      if (content.avatar !== undefined) changes.push(content.avatar ? "changed the group's picture" : "removed the group's picture");
      return `${actor} ${changes.length > 0 ? joinAnd(changes) : 'updated the group'}`;
    }
    case 'group-disbanded':
      return `${actor} disbanded the group`;
    default:
      return 'The group was updated';
  }
}

/**
 * What stands in place of a recalled message: its sender took it back, or a group's owner or admin
 * removed it. The content is gone (the server keeps none of it), so this is all there is to show.
 */
export function recalledText(message: Pick<Message, 'senderId' | 'recalledBy'>, myUserId: string): string {
  if (message.recalledBy !== undefined && message.recalledBy !== message.senderId) return 'Message removed by an admin';
  return message.senderId === myUserId ? 'You recalled a message' : 'Message recalled';
}

/** What a reply's quote shows of the message it answers: its start, or that it is gone. */
export function quoteText(reply: ReplySnapshot): string {
  if (reply.recalled) return 'Message recalled';
  if (reply.messageType === 'image') return reply.preview ? `Image: ${reply.preview}` : 'Image';
  if (reply.messageType === 'file') return reply.preview ? `File: ${reply.preview}` : 'File';
  return reply.preview;
}

/** A message as the conversation list previews it. */
export function messagePreview(message: Message, myUserId: string): string {
  if (message.messageType === 'system') return describeSystemMessage(message, myUserId);
  if (message.recalledAt !== undefined) return recalledText(message, myUserId);
  return `${message.senderId === myUserId ? 'You' : message.senderName}: ${message.content}`;
}
