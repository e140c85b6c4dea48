/**
 * The group info dialog: the members with their roles, and what the caller's role lets them do.
 * Owner and admins add members, rename and remove plain members (the owner also admins); the owner
 * changes roles, hands the group over and disbands it; anyone leaves. The buttons follow the role
 * the server answers now, and the server decides: a refusal is shown as its message.
 */
import { GoChatError, type Conversation, type GoChatClient, type GroupMember, type GroupRole, type User } from '../../sdk/index.js';
import { confirmDialog } from './dialogs.js';
import { el, replaceChildren } from './dom.js';
import { conversationTitle, describeError, memberCount } from './format.js';
import { resolveUser, splitNames } from './users.js';

const YOU_ARE: Record<GroupRole, string> = { owner: 'you are the owner', admin: 'you are an admin', member: 'you are a member' };

/** Members shown per page: a group of thousands is never read whole. */
const MEMBERS_PAGE_SIZE = 50;

export interface GroupInfoEvents {
  /** The caller left or disbanded the group: it is gone for them. */
  gone(reason: 'left' | 'disbanded'): void;
}

export class GroupInfo {
  private readonly dialog = el('dialog', { class: 'dialog group-info', testid: 'group-info-dialog' });
  private readonly title = el('h2', { testid: 'group-info-name' });
  private readonly body = el('div', { class: 'group-info-body' }, el('p', {}, 'Loading…'));
  private readonly error = el('p', { class: 'form-error', testid: 'group-info-error', attrs: { role: 'alert' } });
  /** Questions asked from this dialog, closed with it. */
  private readonly asked = new Set<HTMLDialogElement>();
  private closed = false;
  private loading = false;
  private loadAgain = false;
  /** The changeSeq of what is shown; a pushed change past it loads the dialog anew. */
  private shownChangeSeq = -1;

  constructor(
    private readonly client: GoChatClient,
    private readonly conversation: Conversation,
    private readonly me: User,
    private readonly events: GroupInfoEvents,
  ) {
    this.title.textContent = conversationTitle(conversation);
    this.dialog.append(
      el(
        'div',
        { class: 'dialog-body' },
        this.title,
        this.body,
        this.error,
        el('div', { class: 'dialog-actions' }, el('button', { testid: 'dialog-close', attrs: { type: 'button' }, on: { click: () => this.close() } }, 'Close')),
      ),
    );
    this.dialog.addEventListener('close', () => {
      this.closed = true;
      for (const asked of this.asked) asked.close();
      this.dialog.remove();
    });
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  open(): void {
    document.body.append(this.dialog);
    this.dialog.showModal();
    void this.reload();
  }

  close(): void {
    if (this.dialog.open) this.dialog.close();
    else this.dialog.remove();
    this.closed = true;
  }

  /** The conversation changed (a pushed update): show it anew unless that is what is shown. */
  changed(changeSeq: number): void {
    if (changeSeq !== this.shownChangeSeq) void this.reload();
  }

  /** One load at a time; asking while one runs runs one more after it. */
  private async reload(): Promise<void> {
    if (this.loading) {
      this.loadAgain = true;
      return;
    }
    this.loading = true;
    try {
      do {
        this.loadAgain = false;
        await this.load();
      } while (this.loadAgain && !this.closed);
    } finally {
      this.loading = false;
    }
  }

  private async load(): Promise<void> {
    const id = this.conversation.conversationId;
    try {
      const [group, owners, admins, members] = await Promise.all([
        this.client.conversation(id),
        this.client.members(id, { role: 'owner' }),
        this.client.members(id, { role: 'admin', size: 100 }),
        this.client.members(id, { role: 'member', page: 1, size: MEMBERS_PAGE_SIZE }),
      ]);
      if (!this.closed) this.render(group, [...owners.members, ...admins.members], members.members, members.pagination.hasMore);
    } catch (err) {
      if (!this.closed) replaceChildren(this.body, el('p', { class: 'form-error' }, describeError(err)));
    }
  }

  private render(group: Conversation, leaders: GroupMember[], members: GroupMember[], hasMore: boolean): void {
    this.shownChangeSeq = group.changeSeq;
    this.title.textContent = conversationTitle(group);
    const myRole: GroupRole = group.myRole ?? 'member';
    const manages = myRole === 'owner' || myRole === 'admin';
    const row = (m: GroupMember) => this.memberRow(group, m, myRole);
    const list = el('ul', { class: 'members', testid: 'group-members' }, ...leaders.map(row), ...members.map(row));
    const more = el('button', { class: 'quiet', testid: 'group-members-more', attrs: { type: 'button' } }, 'Show more members');
    more.hidden = !hasMore;
    let loadedPages = 1;
    more.addEventListener('click', () => {
      more.disabled = true;
      this.client
        .members(group.conversationId, { role: 'member', page: loadedPages + 1, size: MEMBERS_PAGE_SIZE })
        .then((next) => {
          loadedPages++; // only once the page arrived: a failed "Show more" asks for the same page again
          list.append(...next.members.map(row));
          more.hidden = !next.pagination.hasMore;
        })
        .catch((err: unknown) => list.append(el('li', { class: 'form-error' }, describeError(err))))
        .finally(() => (more.disabled = false));
    });
    replaceChildren(
      this.body,
      el('p', { class: 'subtitle', testid: 'group-info-count' }, `${memberCount(group.memberCount)} · ${YOU_ARE[myRole]}`),
      manages ? this.renameForm(group) : null,
      manages ? this.addForm(group) : null,
      list,
      more,
      el(
        'div',
        { class: 'group-actions' },
        this.button('group-leave', 'Leave group', 'danger quiet', () => this.askLeave(group, myRole)),
        myRole === 'owner' ? this.button('group-disband', 'Disband group', 'danger', () => this.askDisband(group)) : null,
      ),
    );
  }

  private memberRow(group: Conversation, m: GroupMember, myRole: GroupRole): HTMLElement {
    const isMe = m.userId === this.me.userId;
    const id = group.conversationId;
    const actions: HTMLElement[] = [];
    if (!isMe && myRole === 'owner') {
      if (m.role === 'member') actions.push(this.button('member-promote', 'Make admin', 'quiet', this.act(() => this.client.setRole(id, m.userId, 'admin'))));
      if (m.role === 'admin') actions.push(this.button('member-demote', 'Make member', 'quiet', this.act(() => this.client.setRole(id, m.userId, 'member'))));
      actions.push(
        this.button('member-transfer', 'Make owner', 'quiet', () =>
          this.ask(`Make ${m.username} the owner?`, `${m.username} will own “${conversationTitle(group)}” and you will be an admin. Only the new owner can undo this.`, 'Make owner', async () => {
            await this.client.transferOwnership(id, m.userId);
            void this.reload();
          }),
        ),
      );
    }
    const removable = !isMe && (myRole === 'owner' ? m.role !== 'owner' : myRole === 'admin' && m.role === 'member');
    if (removable) {
      actions.push(
        this.button('member-remove', 'Remove', 'quiet danger', () =>
          this.ask(`Remove ${m.username}?`, `${m.username} will no longer be in “${conversationTitle(group)}” or get its messages.`, 'Remove', async () => {
            await this.client.removeMember(id, m.userId);
            void this.reload();
          }),
        ),
      );
    }
    return el(
      'li',
      { testid: 'group-member', dataset: { role: m.role, userId: m.userId, username: m.username } },
      el('span', { class: 'member-name' }, m.username, isMe ? ' (you)' : ''),
      el(
        'span',
        { class: 'member-side' },
        actions.length > 0 ? el('span', { class: 'member-actions' }, ...actions) : null,
        el('span', { class: `role role-${m.role}`, testid: 'member-role' }, m.role),
      ),
    );
  }

  private renameForm(group: Conversation): HTMLElement {
    const input = el('input', { testid: 'group-rename-input', attrs: { required: '', maxlength: '64', 'aria-label': 'Group name' } });
    input.value = group.name;
    const save = el('button', { testid: 'group-rename', attrs: { type: 'submit' } }, 'Rename');
    return el(
      'form',
      {
        class: 'inline-form',
        on: {
          submit: (event) => {
            event.preventDefault();
            const name = input.value.trim();
            if (!name || name === group.name) return;
            this.run(save, () => this.client.updateGroup(group.conversationId, { name }));
          },
        },
      },
      el('label', {}, 'Name', el('span', { class: 'inline-row' }, input, save)),
    );
  }

  private addForm(group: Conversation): HTMLElement {
    const input = el('input', { testid: 'group-add-input', attrs: { required: '', placeholder: 'usernames, separated by commas or spaces', 'aria-label': 'Add members' } });
    const add = el('button', { testid: 'group-add', attrs: { type: 'submit' } }, 'Add');
    return el(
      'form',
      {
        class: 'inline-form',
        on: {
          submit: (event) => {
            event.preventDefault();
            const wanted = splitNames(input.value);
            if (wanted.length === 0) return;
            this.run(add, async () => {
              const ids = await Promise.all(wanted.map((name) => resolveUser(this.client, name)));
              const added = await this.client.addMembers(group.conversationId, ids);
              if (added.length === 0) throw new Error(wanted.length === 1 ? `${wanted[0]!} is already in the group.` : 'They are already in the group.');
            });
          },
        },
      },
      el('label', {}, 'Add members', el('span', { class: 'inline-row' }, input, add)),
    );
  }

  private askLeave(group: Conversation, myRole: GroupRole): void {
    const alone = group.memberCount <= 1;
    const message =
      myRole === 'owner' && !alone
        ? `You own “${conversationTitle(group)}”: make someone else the owner first.`
        : alone
          ? `You are the last member: leaving disbands “${conversationTitle(group)}”.`
          : `You will no longer get messages from “${conversationTitle(group)}”.`;
    this.ask('Leave the group?', message, 'Leave', async () => {
      await this.client.leave(group.conversationId);
      this.close();
      this.events.gone(alone ? 'disbanded' : 'left');
    });
  }

  private askDisband(group: Conversation): void {
    this.ask('Disband the group?', `Everyone loses “${conversationTitle(group)}” and its messages. This cannot be undone.`, 'Disband', async () => {
      await this.client.disbandGroup(group.conversationId);
      this.close();
      this.events.gone('disbanded');
    });
  }

  private ask(title: string, message: string, action: string, run: () => Promise<void>): void {
    this.error.textContent = '';
    const asked = confirmDialog(title, message, action, run);
    this.asked.add(asked);
    asked.addEventListener('close', () => this.asked.delete(asked));
  }

  /** A change without a question: the button waits for the answer, then the dialog shows the result or the refusal. */
  private act(change: () => Promise<unknown>): (button: HTMLButtonElement) => void {
    return (button) => this.run(button, change);
  }

  private run(button: HTMLButtonElement, change: () => Promise<unknown>): void {
    button.disabled = true;
    this.error.textContent = '';
    change().then(
      () => void this.reload(),
      (err: unknown) => {
        // Our own refusals ("already in the group") are plain Errors with a message for people.
        this.error.textContent = err instanceof Error && !(err instanceof GoChatError) ? err.message : describeError(err);
        button.disabled = false;
      },
    );
  }

  private button(testid: string, label: string, cls: string, onClick: (button: HTMLButtonElement) => void): HTMLButtonElement {
    const button: HTMLButtonElement = el('button', { class: cls, testid, attrs: { type: 'button' }, on: { click: () => onClick(button) } }, label);
    return button;
  }
}
