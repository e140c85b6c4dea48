/** The signed-in app: conversation list (live), the open conversation, and the dialogs. */
import {
  GoChatError,
  type ConnectionState,
  type Conversation,
  type ConversationRemovedEvent,
  type ConversationSettings,
  type ConversationSettingsChanged,
  type ConversationUpdate,
  type GoChatClient,
  type Message,
  type ReadReceipt,
  type ReadResult,
  type User,
} from '../../sdk/index.js';
import { ConversationPane, type MessageChange } from './conversation-pane.js';
import { formDialog } from './dialogs.js';
import { el, replaceChildren } from './dom.js';
import { conversationTitle, describeError, formatTime, messagePreview } from './format.js';
import { resolveUser, splitNames } from './users.js';

const STATE_TEXT: Record<ConnectionState, string> = {
  idle: 'Offline',
  connecting: 'Connecting…',
  connected: 'Online',
  reconnecting: 'Reconnecting…',
};

/** What the pane says when its conversation is gone. */
const GONE_NOTICE: Record<ConversationRemovedEvent['reason'], string> = {
  removed: 'You were removed from this group',
  left: 'You left the group',
  disbanded: 'This group was disbanded',
  gone: 'You are no longer in this conversation',
};

const EMPTY_PANE_TEXT = 'Pick a conversation, or start a new one.';

/** Conversations per page of the list: the first page on start, the next ones on scroll or "Load more". */
const LIST_PAGE_SIZE = 50;
/** How close (px) to the bottom of the list a scroll loads the next page. */
const LOAD_MORE_MARGIN_PX = 120;

export class ChatApp {
  private readonly conversations = new Map<string, Conversation>();
  /** Cursor of the next page of older conversations; null once the walk reached the end. */
  private nextCursor: string | null = null;
  private listStarted = false;
  private loadingMore = false;
  private readonly list = el('ul', { class: 'conversation-list', testid: 'conversation-list' });
  private readonly status = el('span', { class: 'connection', testid: 'connection-state' });
  private readonly paneHost = el('section', { class: 'pane', testid: 'conversation-pane' });
  private readonly shell: HTMLElement;
  private pane: ConversationPane | null = null;
  private refreshTimer: number | null = null;
  /** Conversations we do not show yet, being fetched, with the newest seqId a live message had meanwhile. */
  private readonly fetching = new Map<string, number>();
  /**
   * Conversations gone for us (removed, left, disbanded), with the seqId of the message that said so:
   * a list page read before that is not allowed to bring them back; being added again is.
   */
  private readonly gone = new Map<string, number>();
  private signingOut = false;
  private readonly me: User;
  /** The conversation whose "⋯" menu (mute, pin, hide) is open, if any: it stays open across re-renders. */
  private menuFor: string | null = null;
  /** Why the last change from that menu failed, shown in it. */
  private menuError: string | null = null;
  /**
   * Settings have no version of their own: a clock ticks at each change we apply (our own answer or a
   * conversation-settings event), and a list read begun before a conversation's last change does not
   * take that conversation's settings back to what they were.
   */
  private settingsClock = 0;
  private readonly settingsAt = new Map<string, number>();

  constructor(
    private readonly root: HTMLElement,
    private readonly client: GoChatClient,
    private readonly onSignedOut: (notice?: string) => void,
  ) {
    this.me = client.user!;
    this.shell = this.render();
  }

  async start(): Promise<void> {
    replaceChildren(this.root, this.shell);
    this.client.on('state', (state) => this.showState(state));
    this.client.on('message', (message) => this.onMessage(message));
    this.client.on('conversation-added', (conversation) => this.onAdded(conversation));
    this.client.on('conversation-changed', (update) => this.onChanged(update));
    // A message was recalled, edited or reacted to (live, or caught up after a reconnect).
    this.client.on('message-changed', (change) => this.onMessageChanged(change));
    this.client.on('conversation-removed', (removed) => this.onRemoved(removed.conversationId, removed.reason, removed.reason === 'gone' ? 0 : removed.seqId));
    // Mute, pin or hide changed, here or on another device of mine.
    this.client.on('conversation-settings', (change) => this.onSettings(change));
    // My read pointer moved, in this tab or another tab or device of mine: the badge follows.
    this.client.on('conversation-read', (read) => this.onRead(read));
    this.client.on('read-receipt', (receipt) => this.onReceipt(receipt));
    // After each (re)connect the server's unread counts and last messages are the truth.
    this.client.on('synced', () => this.scheduleRefresh());
    this.client.on('error', (err) => {
      if (err.isAuthError) void this.signOut('Your session ended. Please sign in again.');
    });
    window.addEventListener('offline', this.onOffline);
    window.addEventListener('online', this.onOnline);
    this.showState(this.client.state);
    this.list.addEventListener('scroll', this.onListScroll, { passive: true });
    document.addEventListener('pointerdown', this.onPointerDown);
    await this.refreshList();
    this.client.connect().catch(() => undefined);
  }

  // The browser knows before a ping would: drop the dead socket now, reconnect the moment it is back.
  private readonly onOffline = () => this.client.reconnectNow();
  private readonly onOnline = () => this.client.reconnectNow();

  private render(): HTMLElement {
    const who = el(
      'div',
      { class: 'me' },
      el('strong', { testid: 'me-name' }, this.me.username),
      this.me.isGuest ? el('span', { class: 'tag' }, 'guest') : null,
      el('span', { class: 'me-id', testid: 'me-id', attrs: { title: 'Others can start a chat with you by this id or your username' } }, `id ${this.me.userId}`),
    );
    const actions = el(
      'div',
      { class: 'actions' },
      el('button', { testid: 'new-chat', attrs: { type: 'button' }, on: { click: () => this.openNewChat() } }, 'New chat'),
      this.me.isGuest ? null : el('button', { testid: 'new-group', attrs: { type: 'button' }, on: { click: () => this.openNewGroup() } }, 'New group'),
      el('button', { class: 'quiet', testid: 'logout', attrs: { type: 'button' }, on: { click: () => void this.signOut() } }, 'Log out'),
    );
    this.paneHost.append(el('p', { class: 'empty-pane' }, EMPTY_PANE_TEXT));
    return el(
      'div',
      { class: 'chat-app', testid: 'chat-app' },
      el('aside', { class: 'sidebar' }, el('header', { class: 'sidebar-head' }, who, this.status), actions, this.list),
      this.paneHost,
    );
  }

  private showState(state: ConnectionState): void {
    this.status.textContent = STATE_TEXT[state];
    this.status.dataset.state = state;
  }

  private async signOut(notice?: string): Promise<void> {
    if (this.signingOut) return;
    this.signingOut = true;
    window.removeEventListener('offline', this.onOffline);
    window.removeEventListener('online', this.onOnline);
    this.list.removeEventListener('scroll', this.onListScroll);
    document.removeEventListener('pointerdown', this.onPointerDown);
    this.pane?.dispose();
    try {
      await this.client.logout();
    } catch {
      // The token may already be gone; the session ends here either way.
    }
    this.onSignedOut(notice);
  }

  // ---- conversation list ----

  /**
   * Reads the first page of the list (newest activity first) and merges it: on start, after each
   * reconnect and when a message arrives in a conversation we do not show. Activity moves a
   * conversation to the top, so the first page holds whatever changed; older pages are read only
   * when the user scrolls to them. A user with thousands of conversations is never sent them all.
   */
  private async refreshList(): Promise<void> {
    const asOf = this.settingsClock;
    try {
      const page = await this.client.conversationsPage({ limit: LIST_PAGE_SIZE });
      this.merge(page.conversations, asOf);
      // The walk of older pages starts once; later refreshes only renew its top.
      if (!this.listStarted) {
        this.listStarted = true;
        this.nextCursor = page.pagination.nextCursor;
      }
      this.renderList();
    } catch (err) {
      this.onListError(err);
    }
  }

  /** The next page of older conversations, once at a time. */
  private async loadMore(): Promise<void> {
    if (this.loadingMore || this.nextCursor === null) return;
    this.loadingMore = true;
    this.renderList();
    const asOf = this.settingsClock;
    try {
      const page = await this.client.conversationsPage({ limit: LIST_PAGE_SIZE, cursor: this.nextCursor });
      this.merge(page.conversations, asOf);
      this.nextCursor = page.pagination.nextCursor;
    } catch (err) {
      this.onListError(err);
    } finally {
      this.loadingMore = false;
      this.renderList();
    }
  }

  private readonly onListScroll = () => {
    const { scrollTop, clientHeight, scrollHeight } = this.list;
    if (scrollTop + clientHeight >= scrollHeight - LOAD_MORE_MARGIN_PX) void this.loadMore();
  };

  /**
   * Pages are merged by id: a conversation can meet us on two pages (it moved up between reads).
   * `asOf` is the settings clock when the read began: settings we changed since are newer than the read's.
   * A list page leaves hidden conversations out, so one hidden since we showed it stays known (and
   * not shown) until its settings or a message say otherwise.
   */
  private merge(list: readonly Conversation[], asOf = this.settingsClock): void {
    for (const c of list) {
      const known = this.conversations.get(c.conversationId);
      const settingsNewer = (this.settingsAt.get(c.conversationId) ?? 0) > asOf;
      const goneAt = this.gone.get(c.conversationId);
      if (goneAt !== undefined) {
        // Read before we lost it, or we are back in it (a message after the one that removed us).
        if ((c.lastMessage?.seqId ?? 0) <= goneAt) continue;
        this.gone.delete(c.conversationId);
      }
      // A list fetched before a live message arrived is older than what we show: keep ours. The fetched
      // entry may have no last message at all (the conversation was empty when the server answered).
      if (known?.lastMessage && (!c.lastMessage || known.lastMessage.seqId > c.lastMessage.seqId)) {
        // Its name, members and my role may still be newer than ours: they have their own cursor.
        if (c.changeSeq > known.changeSeq) adoptInfo(known, c);
        // Mute and pin as read, unless we changed them since; hidden only if still so here (our newer message unhid it).
        if (!settingsNewer) known.settings = { ...c.settings, hidden: c.settings.hidden && known.settings.hidden };
        continue;
      }
      if (known && settingsNewer) {
        // Ours are newer, but a message newer than ours lists a hidden conversation again.
        const newerMessage = (c.lastMessage?.seqId ?? 0) > (known.lastMessage?.seqId ?? 0);
        c.settings = { ...known.settings, hidden: known.settings.hidden && !newerMessage };
      }
      // A list read before a conversation-read frame: the pointer we show is further, keep it.
      if (known && known.lastReadSeq > c.lastReadSeq) {
        c.lastReadSeq = known.lastReadSeq;
        c.unreadCount = known.unreadCount;
      }
      // Likewise a read-receipt frame newer than the list.
      if (known?.peerLastReadSeq !== undefined && known.peerLastReadSeq > (c.peerLastReadSeq ?? 0)) c.peerLastReadSeq = known.peerLastReadSeq;
      this.conversations.set(c.conversationId, c);
    }
  }

  private onListError(err: unknown): void {
    if (err instanceof GoChatError && err.isAuthError) void this.signOut('Your session ended. Please sign in again.');
  }

  private scheduleRefresh(): void {
    if (this.refreshTimer !== null) return;
    this.refreshTimer = window.setTimeout(() => {
      this.refreshTimer = null;
      void this.refreshList();
    }, 150);
  }

  private onMessage(message: Message): void {
    // The line that removed us may come after the removal: nothing more to show of it. Being added
    // back comes with a conversation-added first.
    if (this.gone.has(message.conversationId)) return;
    const conversation = this.conversations.get(message.conversationId);
    if (!conversation) {
      // A conversation someone just started with us (or added us to): fetch that one.
      this.fetchConversation(message.conversationId, message.seqId);
    } else if (message.seqId > (conversation.lastMessage?.seqId ?? 0)) {
      // Only a message newer than the entry's counts: a conversation we were just added to arrives
      // with its "added you" line already as last message and unread.
      conversation.lastMessage = message;
      conversation.updatedAt = message.sendTime;
      // A hidden (archived) conversation is listed again from its next message on, as the server lists it.
      if (conversation.settings.hidden) conversation.settings = { ...conversation.settings, hidden: false };
      const mine = message.senderId === this.me.userId;
      const watching = this.pane?.conversationId === message.conversationId && document.visibilityState === 'visible';
      // Muted still counts unread (its badge is shown quieter); this app has no sound, title or
      // notification alert, so there is nothing else to hold back for a muted conversation.
      if (!mine && !watching && message.seqId > conversation.lastReadSeq) conversation.unreadCount++;
      this.renderList();
    }
    if (this.pane?.conversationId === message.conversationId) this.pane.onMessage(message);
  }

  /** The read pointer moved (never back: an older frame than what we show is ignored). */
  private onRead(read: ReadResult): void {
    const c = this.conversations.get(read.conversationId);
    if (!c || read.lastReadSeq < c.lastReadSeq) return;
    c.lastReadSeq = read.lastReadSeq;
    c.unreadCount = read.unreadCount;
    this.renderList();
  }

  /** The peer of a 1:1 read further: its entry keeps the pointer, the open pane shows ✓✓. */
  private onReceipt(receipt: ReadReceipt): void {
    const c = this.conversations.get(receipt.conversationId);
    if (c && receipt.lastReadSeq > (c.peerLastReadSeq ?? 0)) c.peerLastReadSeq = receipt.lastReadSeq;
    if (this.pane?.conversationId === receipt.conversationId) this.pane.peerRead(receipt.lastReadSeq);
  }

  /** A message changed: the list's preview follows when it is the last one; the open pane shows it. */
  private onMessageChanged(change: MessageChange): void {
    const c = this.conversations.get(change.conversationId);
    const last = c?.lastMessage;
    if (c && last && last.messageId === change.message.messageId) {
      c.lastMessage = { ...change.message };
      this.renderList();
    }
    if (this.pane?.conversationId === change.conversationId) this.pane.onMessageChanged(change);
  }

  /** A conversation appeared for us (a 1:1 started, a group we were added to): show it now, before any message. */
  private onAdded(conversation: Conversation): void {
    this.gone.delete(conversation.conversationId);
    // A copy: the SDK keeps (and moves on) the very object it emitted, for its kept conversations;
    // this list counts unread against its own lastMessage, so that one must be the list's alone.
    this.merge([structuredClone(conversation)]);
    this.renderList();
  }

  /** A group's name, member count or my role changed: apply the changed items, or read it anew after a gap. */
  private onChanged(update: ConversationUpdate): void {
    const c = this.conversations.get(update.conversationId);
    if (!c || update.changeSeq <= c.changeSeq) return;
    if (update.fromChangeSeq > c.changeSeq + 1) {
      // Frames were missed (a reconnect): the conversation as it is now says all of it.
      this.client.conversation(update.conversationId).then(
        (fresh) => {
          const known = this.conversations.get(update.conversationId);
          if (!known || fresh.changeSeq <= known.changeSeq) return;
          adoptInfo(known, fresh);
          this.renderList();
        },
        () => undefined, // gone for us: its conversation-removed says so
      );
      return;
    }
    for (const item of update.items) {
      if (item.kind === 'group' && item.group) {
        c.name = item.group.name;
        c.avatar = item.group.avatar;
        c.memberCount = item.group.memberCount;
      } else if (item.kind === 'member' && item.userId === this.me.userId && item.member) {
        c.myRole = item.member.role;
      }
    }
    c.changeSeq = update.changeSeq;
    // Message items (recalls, edits, reactions) come as 'message-changed' too: they change neither the
    // name, the members nor my role, so an open group info dialog is not read again for each reaction.
    if (update.items.some((item) => item.kind !== 'message')) this.renderList();
  }

  /** A conversation is gone for us: its entry goes, and an open pane on it says why. */
  private onRemoved(conversationId: string, reason: ConversationRemovedEvent['reason'], seqId: number): void {
    const known = this.conversations.get(conversationId);
    this.gone.set(conversationId, Math.max(this.gone.get(conversationId) ?? 0, seqId, known?.lastMessage?.seqId ?? 0));
    this.conversations.delete(conversationId);
    if (this.pane?.conversationId === conversationId) this.closePane(GONE_NOTICE[reason]);
    else this.renderList();
  }

  /**
   * Fetches one conversation we do not show yet and adds it. A message that arrives while the
   * answer is on its way may be newer than the answer: then it is fetched again, so the entry
   * shows the newest message and counts it unread.
   */
  private fetchConversation(conversationId: string, seqId: number): void {
    const pending = this.fetching.get(conversationId);
    this.fetching.set(conversationId, Math.max(pending ?? 0, seqId));
    if (pending !== undefined) return;
    const fetchOnce = async (attempt: number): Promise<void> => {
      const asOf = this.settingsClock;
      const fetched = await this.client.conversation(conversationId);
      // A live message is committed before it is sent: a read after it sees it (a few tries at most).
      if ((fetched.lastMessage?.seqId ?? 0) < this.fetching.get(conversationId)! && attempt < 3) return fetchOnce(attempt + 1);
      this.fetching.delete(conversationId);
      this.merge([fetched], asOf);
      this.renderList();
    };
    fetchOnce(1).catch((err: unknown) => {
      this.fetching.delete(conversationId);
      this.onListError(err);
      // Not ours to read after all (or the server could not answer): the list page says what is.
      this.scheduleRefresh();
    });
  }

  // ---- my own settings of a conversation: mute, pin, hide ----

  /** Settings changed here or on another device of mine: the entry shows them (pin order, markers, hidden or not). */
  private onSettings(change: ConversationSettingsChanged): void {
    const c = this.conversations.get(change.conversationId);
    if (c) {
      this.applySettings(c, change.settings);
      return;
    }
    // Not shown here (hidden when this list was read, or not read yet): listed again, it is fetched.
    if (!change.settings.hidden && !this.gone.has(change.conversationId)) this.fetchConversation(change.conversationId, 0);
  }

  private applySettings(c: Conversation, settings: ConversationSettings): void {
    this.settingsAt.set(c.conversationId, ++this.settingsClock);
    c.settings = { ...settings };
    if (settings.hidden && this.menuFor === c.conversationId) this.menuFor = null;
    this.renderList();
  }

  /** Asks the server to change a setting; the entry changes with its answer (and every device hears of it). */
  private async changeSettings(conversationId: string, patch: Partial<ConversationSettings>): Promise<void> {
    this.menuFor = null;
    this.menuError = null;
    this.renderList();
    try {
      const updated = await this.client.updateSettings(conversationId, patch);
      const c = this.conversations.get(conversationId);
      if (c) this.applySettings(c, updated.settings);
    } catch (err) {
      this.onListError(err);
      if (!this.conversations.has(conversationId)) return;
      // The menu opens again, saying what went wrong.
      this.menuFor = conversationId;
      this.menuError = describeError(err);
      this.renderList();
    }
  }

  private toggleMenu(conversationId: string): void {
    this.menuFor = this.menuFor === conversationId ? null : conversationId;
    this.menuError = null;
    this.renderList();
    if (this.menuFor) this.list.querySelector<HTMLElement>('.conversation-menu [role="menuitem"]')?.focus();
  }

  private closeMenu(focusButton: boolean): void {
    const id = this.menuFor;
    if (id === null) return;
    this.menuFor = null;
    this.menuError = null;
    this.renderList();
    if (focusButton) this.rowOf(id)?.querySelector<HTMLElement>('[data-testid="conversation-menu"]')?.focus();
  }

  /** A press anywhere outside the open menu's row closes the menu. */
  private readonly onPointerDown = (event: PointerEvent) => {
    if (this.menuFor === null) return;
    const row = this.rowOf(this.menuFor);
    if (!row || !(event.target instanceof Node) || !row.contains(event.target)) this.closeMenu(false);
  };

  private rowOf(conversationId: string): HTMLElement | null {
    for (const row of this.list.querySelectorAll<HTMLElement>('[data-testid="conversation-row"]')) {
      if (row.dataset.conversationId === conversationId) return row;
    }
    return null;
  }

  private renderMenu(c: Conversation): HTMLElement {
    const { muted, pinned } = c.settings;
    const item = (testid: string, label: string, patch: Partial<ConversationSettings>, hint?: string) =>
      el(
        'button',
        { class: 'quiet', testid, attrs: { type: 'button', role: 'menuitem', ...(hint ? { title: hint } : {}) }, on: { click: () => void this.changeSettings(c.conversationId, patch) } },
        label,
      );
    return el(
      'div',
      {
        class: 'conversation-menu',
        testid: 'conversation-menu-items',
        attrs: { role: 'menu', 'aria-label': `Options for ${conversationTitle(c)}` },
        on: {
          keydown: (event) => {
            if (event.key === 'Escape') {
              event.preventDefault();
              this.closeMenu(true);
            } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
              event.preventDefault();
              const items = [...(event.currentTarget as HTMLElement).querySelectorAll<HTMLElement>('[role="menuitem"]')];
              const at = items.indexOf(document.activeElement as HTMLElement);
              items[(at + (event.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length]?.focus();
            }
          },
        },
      },
      item('toggle-pin', pinned ? 'Unpin' : 'Pin to top', { pinned: !pinned }),
      item('toggle-mute', muted ? 'Unmute' : 'Mute', { muted: !muted }, muted ? undefined : 'Messages still arrive and count as unread, without alerting you'),
      item('hide-conversation', 'Hide', { hidden: true }, 'Archive: left out of the list until a new message arrives'),
      this.menuError ? el('p', { class: 'form-error', testid: 'menu-error', attrs: { role: 'alert' } }, this.menuError) : null,
    );
  }

  // ---- the list itself ----

  private renderList(): void {
    // Same order as the server's list: pinned first, then newest activity, then newest conversation.
    // A hidden (archived) conversation is not listed until its next message (or until it is unhidden).
    // Its pane, when open, stays open: hiding tidies the list, it does not end what the user is reading.
    const items = [...this.conversations.values()].filter((c) => !c.settings.hidden).sort(listOrder);
    if (this.menuFor !== null && !items.some((c) => c.conversationId === this.menuFor)) this.menuFor = null;
    // Re-rendering replaces the rows: keep the keyboard focus on the same control of the same row.
    const active = document.activeElement instanceof HTMLElement && this.list.contains(document.activeElement) ? document.activeElement : null;
    const focusRow = active?.closest<HTMLElement>('[data-testid="conversation-row"]')?.dataset.conversationId;
    const focusTestid = active?.dataset.testid;
    replaceChildren(
      this.list,
      ...items.map((c) => {
        const last = c.lastMessage;
        const preview = last ? messagePreview(last, this.me.userId) : 'No messages yet';
        const title = conversationTitle(c);
        const { muted, pinned } = c.settings;
        const menuOpen = this.menuFor === c.conversationId;
        const flags = { pinned: String(pinned), muted: String(muted) };
        return el(
          'li',
          { class: 'conversation-row', testid: 'conversation-row', dataset: { conversationId: c.conversationId, ...flags } },
          el(
            'button',
            {
              class: `conversation${this.pane?.conversationId === c.conversationId ? ' active' : ''}`,
              testid: 'conversation',
              dataset: { conversationId: c.conversationId, type: c.type, ...flags },
              attrs: { type: 'button' },
              on: { click: () => void this.open(c.conversationId) },
            },
            el('span', { class: `avatar ${c.type}`, attrs: { 'aria-hidden': 'true' } }, title.slice(0, 1).toUpperCase()),
            el('span', { class: 'conversation-name', testid: 'conversation-name' }, title),
            el(
              'span',
              { class: 'conversation-meta' },
              muted ? el('span', { class: 'marker muted', testid: 'muted-marker', attrs: { role: 'img', 'aria-label': 'Muted', title: 'Muted' } }) : null,
              pinned ? el('span', { class: 'marker pinned', testid: 'pin-marker', attrs: { role: 'img', 'aria-label': 'Pinned', title: 'Pinned' } }) : null,
              el('time', { class: 'conversation-time', attrs: { datetime: c.updatedAt } }, formatTime(last?.sendTime ?? c.updatedAt)),
            ),
            el('span', { class: 'conversation-last', testid: 'conversation-last' }, preview),
            c.unreadCount > 0
              ? el(
                  'span',
                  {
                    class: `badge${muted ? ' muted' : ''}`,
                    testid: 'unread-badge',
                    dataset: { muted: String(muted) },
                    attrs: { 'aria-label': `${c.unreadCount} unread${muted ? ', muted' : ''}` },
                  },
                  String(c.unreadCount),
                )
              : null,
          ),
          el(
            'button',
            {
              class: 'quiet row-menu',
              testid: 'conversation-menu',
              attrs: { type: 'button', 'aria-haspopup': 'menu', 'aria-expanded': String(menuOpen), 'aria-label': `Options for ${title}`, title: 'Mute, pin or hide' },
              on: { click: () => this.toggleMenu(c.conversationId) },
            },
            '⋯',
          ),
          menuOpen ? this.renderMenu(c) : null,
        );
      }),
      this.nextCursor === null
        ? null
        : el(
            'li',
            { class: 'load-more' },
            el(
              'button',
              { class: 'quiet', testid: 'load-more', attrs: { type: 'button', ...(this.loadingMore ? { disabled: '' } : {}) }, on: { click: () => void this.loadMore() } },
              this.loadingMore ? 'Loading…' : 'Load more',
            ),
          ),
    );
    if (focusRow !== undefined) {
      // A menu item that is gone (the menu closed) hands the focus back to the row's menu button.
      const row = this.rowOf(focusRow);
      (row?.querySelector<HTMLElement>(`[data-testid="${focusTestid}"]`) ?? row?.querySelector<HTMLElement>('[data-testid="conversation-menu"]'))?.focus();
    }
    // The open pane shows the entry as it is now (renamed, members added, my role changed).
    const open = this.pane && this.conversations.get(this.pane.conversationId);
    if (open) this.pane!.update(open);
  }

  private async open(conversationId: string): Promise<void> {
    const conversation = this.conversations.get(conversationId);
    if (!conversation) return;
    this.pane?.dispose();
    this.pane = new ConversationPane(this.client, conversation, this.me, {
      back: () => this.closePane(),
      // The server also says so (conversation-removed); whichever comes first closes the pane.
      gone: (reason) => this.onRemoved(conversationId, reason, 0),
    });
    replaceChildren(this.paneHost, this.pane.element);
    this.shell.classList.add('pane-open');
    conversation.unreadCount = 0;
    this.renderList();
    await this.pane.load();
  }

  /** Closes the open conversation; with a notice, the pane says why (on a phone it stays until Back). */
  private closePane(notice?: string): void {
    this.pane?.dispose();
    this.pane = null;
    if (notice) {
      replaceChildren(
        this.paneHost,
        el(
          'div',
          { class: 'empty-pane pane-notice' },
          el('p', { class: 'notice', testid: 'pane-notice', attrs: { role: 'status' } }, notice),
          el('button', { class: 'quiet to-list', testid: 'notice-back', attrs: { type: 'button' }, on: { click: () => this.closePane() } }, 'Back to conversations'),
        ),
      );
    } else {
      this.shell.classList.remove('pane-open');
      replaceChildren(this.paneHost, el('p', { class: 'empty-pane' }, EMPTY_PANE_TEXT));
    }
    this.renderList();
  }

  /**
   * Shows a conversation just created or opened from a dialog. Resolves once its pane is shown, not
   * once its history is loaded: the dialog closes then, and a modal dialog still open while the pane
   * loads would swallow what the user already types into it (the page behind a modal is inert).
   */
  private async openAndShow(conversation: Conversation): Promise<void> {
    this.conversations.set(conversation.conversationId, this.conversations.get(conversation.conversationId) ?? conversation);
    this.renderList();
    void this.open(conversation.conversationId);
  }

  // ---- dialogs ----

  private openNewChat(): void {
    const input = el('input', { testid: 'new-chat-user', attrs: { required: '', maxlength: '64', placeholder: 'username or user id', 'aria-label': 'Username or user id' } });
    formDialog({
      title: 'Start a chat',
      testid: 'new-chat-dialog',
      fields: [el('label', {}, 'With', input)],
      action: 'Start chat',
      submit: async () => {
        const userId = await resolveUser(this.client, input.value.trim());
        await this.openAndShow(await this.client.openConversation(userId));
      },
    });
    input.focus();
  }

  private openNewGroup(): void {
    const name = el('input', { testid: 'new-group-name', attrs: { required: '', maxlength: '64', 'aria-label': 'Group name' } });
    const members = el('textarea', {
      testid: 'new-group-members',
      attrs: { rows: '3', placeholder: 'usernames or ids, separated by commas or spaces', 'aria-label': 'Members' },
    });
    formDialog({
      title: 'New group',
      testid: 'new-group-dialog',
      fields: [el('label', {}, 'Name', name), el('label', {}, 'Members', members)],
      action: 'Create group',
      submit: async () => {
        const ids = await Promise.all(splitNames(members.value).map((m) => resolveUser(this.client, m)));
        const { conversation } = await this.client.createGroup(name.value.trim(), ids);
        await this.openAndShow(conversation);
      },
    });
    name.focus();
  }
}

/** The server's list order: pinned first, then newest activity, then the newer conversation (larger id). */
function listOrder(a: Conversation, b: Conversation): number {
  return (
    Number(b.settings.pinned) - Number(a.settings.pinned) ||
    (a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : 0) ||
    Number(b.conversationId) - Number(a.conversationId)
  );
}

/** Takes a conversation's shared information (name, members, my role) from a newer read of it. */
function adoptInfo(target: Conversation, from: Conversation): void {
  target.name = from.name;
  target.avatar = from.avatar;
  target.memberCount = from.memberCount;
  target.changeSeq = from.changeSeq;
  if (from.myRole) target.myRole = from.myRole;
  if (from.peer) target.peer = from.peer;
}
