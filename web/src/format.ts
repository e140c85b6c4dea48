/** Text shown for data: titles, times and error messages. */
import { GoChatError, type Conversation } from '../../sdk/index.js';

/** A 1:1 conversation is titled by the other person. */
export function conversationTitle(c: Conversation): string {
  return c.type === 'single' && c.peer ? c.peer.username : c.name;
}

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
