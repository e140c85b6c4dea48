/**
 * What the per-message actions need besides the pane: who may do what, the emoji offered, and the
 * "who reacted" dialog. The server decides every action; these only choose what to offer.
 */
import type { Conversation, GoChatClient, Message } from '../../sdk/index.js';
import { el } from './dom.js';
import { describeError } from './format.js';

/** The emoji the picker offers, in their stored form (❤️ with its variation selector, as the server keeps it). */
export const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🎉', '🙏', '👀'] as const;

/**
 * How long a sender may recall a message (the server's default GOCHAT_RECALL_WINDOW_SECONDS). Past
 * it the action is not offered; a server configured shorter answers RECALL_WINDOW_EXPIRED, shown.
 */
export const RECALL_WINDOW_MS = 120_000;

/** What the pane knows of a message to decide which actions to offer. */
export interface ActionTarget {
  senderId: string;
  messageType: Message['messageType'];
  sendTime: string;
  recalled: boolean;
}

/** A group's owner or admin removes any non-system message, any time. */
export function moderates(conversation: Conversation): boolean {
  return conversation.type === 'group' && (conversation.myRole === 'owner' || conversation.myRole === 'admin');
}

/** Edit: one's own text messages, not recalled. */
export function canEdit(target: ActionTarget, myUserId: string): boolean {
  return !target.recalled && target.senderId === myUserId && target.messageType === 'text';
}

/**
 * Recall: one's own message within the window, or, for a group's owner or admin, any message that
 * is not a system line. `'remove'` when it is someone else's message (the label says so).
 */
export function recallKind(target: ActionTarget, conversation: Conversation, myUserId: string, now = Date.now()): 'recall' | 'remove' | null {
  if (target.recalled || target.messageType === 'system') return null;
  const mine = target.senderId === myUserId;
  if (moderates(conversation)) return mine ? 'recall' : 'remove';
  if (!mine) return null;
  const age = now - Date.parse(target.sendTime);
  return Number.isFinite(age) && age < RECALL_WINDOW_MS ? 'recall' : null;
}

/** Reactors listed per page of the dialog. */
const REACTORS_PAGE_SIZE = 50;

/** Opens the "who reacted" dialog of a message: each reactor with their emoji, a page at a time. */
export function reactorsDialog(client: GoChatClient, messageId: string, myUserId: string): HTMLDialogElement {
  const list = el('ul', { class: 'reactors', testid: 'reactors', attrs: { 'aria-label': 'Who reacted' } });
  const error = el('p', { class: 'form-error', testid: 'reactors-error', attrs: { role: 'alert' } });
  const more = el('button', { class: 'quiet', testid: 'reactors-more', attrs: { type: 'button' } }, 'Show more');
  more.hidden = true;
  const dialog = el(
    'dialog',
    { class: 'dialog reactors-dialog', testid: 'reactors-dialog', attrs: { 'aria-labelledby': 'reactors-title' } },
    el(
      'div',
      { class: 'dialog-body' },
      el('h2', { attrs: { id: 'reactors-title' } }, 'Reactions'),
      list,
      more,
      error,
      el('div', { class: 'dialog-actions' }, el('button', { testid: 'dialog-close', attrs: { type: 'button' }, on: { click: () => dialog.close() } }, 'Close')),
    ),
  );
  let page = 0;
  const load = async () => {
    more.disabled = true;
    error.textContent = '';
    try {
      const answer = await client.reactions(messageId, { page: page + 1, size: REACTORS_PAGE_SIZE });
      page++;
      for (const r of answer.reactors) {
        // Text only: usernames are user data.
        list.append(
          el(
            'li',
            { testid: 'reactor', dataset: { userId: r.userId, emoji: r.emoji } },
            el('span', { class: 'reactor-emoji', attrs: { 'aria-hidden': 'true' } }, r.emoji),
            el('span', { class: 'reactor-name' }, r.userId === myUserId ? `${r.username} (you)` : r.username),
            el('span', { class: 'visually-hidden' }, ` reacted with ${r.emoji}`),
          ),
        );
      }
      if (page === 1 && answer.reactors.length === 0) list.append(el('li', { class: 'empty' }, 'No reactions any more.'));
      more.hidden = !answer.pagination.hasMore || answer.reactors.length === 0;
    } catch (err) {
      error.textContent = describeError(err);
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', () => void load());
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  void load();
  return dialog;
}
