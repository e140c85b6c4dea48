/**
 * One open conversation: history with scroll-back, live messages, sends that go pending → sent (or
 * failed with retry), and each message's actions: reply (with a quote that jumps to the original),
 * reactions, edit and recall, kept current by the server's pushed changes.
 */
import {
  createTempId,
  type Conversation,
  type GoChatClient,
  type Message,
  type MessageAck,
  type MessageChanged,
  type MessageType,
  type ReactionCount,
  type ReplySnapshot,
  type User,
} from '../../sdk/index.js';
import { confirmDialog } from './dialogs.js';
import { el, replaceChildren } from './dom.js';
import { conversationTitle, describeError, describeSystemMessage, formatTime, memberCount, quoteText, recalledText } from './format.js';
import { GroupInfo } from './group-info.js';
import { QUICK_REACTIONS, canEdit, reactorsDialog, recallKind } from './message-actions.js';

type Status = 'received' | 'pending' | 'sent' | 'failed';
/** One change of a message, as the SDK's 'message-changed' event tells it. */
export type MessageChange = MessageChanged;

interface Item {
  key: string;
  seqId: number | null;
  senderId: string;
  senderName: string;
  content: string;
  messageType: MessageType;
  sendTime: string;
  status: Status;
  /** A server-authored line (someone joined, the group was renamed): shown centred, not as a bubble. */
  system: boolean;
  tempMessageId?: string;
  error?: string;
  /** The message this one answers, as quoted when it was sent. */
  replyTo?: ReplySnapshot;
  editedAt?: string;
  recalledAt?: string;
  recalledBy?: string;
  reactions: ReactionCount[];
  /** The emoji I reacted with. */
  myReactions: string[];
  /** The changeSeq of the last pushed change applied (0: as read from history). An older push is not applied. */
  changeSeq: number;
  /** The pane's clock when this item last changed: an action's answer is applied only if nothing changed it meanwhile. */
  version: number;
  /** Why the last action on it failed. */
  actionError?: string;
}

/** Replying to a message, or editing one of mine (the composer holds the new text; `draft` what was typed before). */
type ComposerContext = { kind: 'reply'; key: string } | { kind: 'edit'; key: string; draft: string; saving: boolean };

export interface PaneEvents {
  back(): void;
  /** The user left or disbanded this group from its info dialog. */
  gone(reason: 'left' | 'disbanded'): void;
}

const PAGE_SIZE = 30;
/** The largest history page the server serves: a jump to an old message reads up to it at once. */
const MAX_PAGE_SIZE = 100;
/** Pushed changes of messages not shown (yet) kept, so a history read that was under way does not undo them. */
const UNSEEN_CHANGES_KEPT = 200;
/** How long the original of a quote stays highlighted after a jump to it. */
const HIGHLIGHT_MS = 3_000;

/** A message's first line, shortened, as quotes and the reply bar show it. */
function previewOf(content: string, max = 100): string {
  const flat = content.replace(/\s+/g, ' ').trim();
  const points = Array.from(flat);
  return points.length <= max ? flat : `${points.slice(0, max - 1).join('')}…`;
}

export class ConversationPane {
  readonly element: HTMLElement;
  private readonly items = new Map<string, Item>();
  private readonly nodes = new Map<string, HTMLElement>();
  /** Pending and failed sends, by tempMessageId, in the order they were written. */
  private readonly outgoing = new Map<string, Item>();
  private readonly list = el('ol', { class: 'messages', testid: 'messages' });
  private readonly scroller: HTMLElement;
  private readonly olderButton: HTMLButtonElement;
  private readonly input: HTMLTextAreaElement;
  /** Above the composer: what the next send replies to, or that the composer edits a message. */
  private readonly contextBar = el('div', { class: 'composer-context' });
  private readonly contextError = el('p', { class: 'form-error', testid: 'composer-error', attrs: { role: 'alert' } });
  /** A short notice of the pane's own (a quote whose original cannot be found, a reply target recalled). */
  private readonly notice = el('p', { class: 'pane-status', testid: 'pane-status', attrs: { role: 'status' } });
  private noticeTimer: number | null = null;
  /** Under the header: who else is typing here ("Ann is typing…"), from the SDK's typingIn. */
  private readonly typingLine = el('p', { class: 'typing-line', testid: 'typing-indicator', attrs: { 'aria-live': 'polite' } });
  /** Re-reads typingIn while someone is shown typing, so an indicator that is not renewed goes away. */
  private typingTimer: number | null = null;
  private readonly offTyping: () => void;
  private hasMore = false;
  private olderLoad: Promise<void> | null = null;
  private readTimer: number | null = null;
  /** The newest seqId shown (history read or live): what a read mark reads up to. */
  private newestSeq = 0;
  private disposed = false;
  private readonly offAck: () => void;
  private readonly title: HTMLElement;
  private readonly subtitle: HTMLElement;
  private info: GroupInfo | null = null;
  private shownChangeSeq = 0;
  /** In a 1:1, the peer's read pointer the bubbles show (✓✓ up to it); it only moves forward. */
  private shownPeerRead = 0;
  private context: ComposerContext | null = null;
  /** The message whose "⋯" menu is open. */
  private menuFor: string | null = null;
  /** The message highlighted after a jump to it, and when the highlight ends. */
  private highlighted: string | null = null;
  private highlightTimer: number | null = null;
  /** Ticks at every change of an item: reads and action answers older than a change do not undo it. */
  private clock = 0;
  /** Pushed changes of messages not shown (a read under way may bring them), with the clock when they came. */
  private readonly unseen = new Map<string, { change: MessageChange; at: number }>();
  /** Messages known to be recalled: a reply to one, read from an older answer, still quotes it as recalled. */
  private readonly recalledIds = new Set<string>();
  /** Reactions being toggled ("messageId emoji"): a second click waits for the first answer. */
  private readonly reacting = new Set<string>();

  constructor(
    private readonly client: GoChatClient,
    private conversation: Conversation,
    private readonly me: User,
    private readonly events: PaneEvents,
  ) {
    this.olderButton = el('button', { class: 'older quiet', testid: 'load-older', attrs: { type: 'button' }, on: { click: () => void this.loadOlder() } }, 'Load older messages');
    this.olderButton.hidden = true;
    this.scroller = el('div', { class: 'scroller', testid: 'message-scroller', on: { scroll: () => this.onScroll() } }, this.olderButton, this.list);
    this.input = el('textarea', {
      testid: 'composer-input',
      attrs: { rows: '1', maxlength: '4000', placeholder: 'Write a message', 'aria-label': 'Message', enterkeyhint: 'send' },
      on: {
        input: () => this.onInput(),
        keydown: (event) => {
          if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            this.submit();
          } else if (event.key === 'Escape' && this.context) {
            event.preventDefault();
            this.endContext();
          }
        },
      },
    });
    this.contextBar.hidden = true;
    const composer = el(
      'form',
      {
        class: 'composer',
        testid: 'composer',
        on: {
          submit: (event) => {
            event.preventDefault();
            this.submit();
          },
        },
      },
      this.input,
      el('button', { testid: 'composer-send', attrs: { type: 'submit' } }, 'Send'),
    );
    this.title = el('h2', { testid: 'conversation-title' });
    this.subtitle = el('span', { class: 'subtitle', testid: 'conversation-subtitle' });
    const header = el(
      'header',
      { class: 'pane-head' },
      el('button', { class: 'back quiet', testid: 'back', attrs: { type: 'button', 'aria-label': 'Back to conversations' }, on: { click: () => events.back() } }, '‹'),
      el(
        'div',
        { class: 'pane-title' },
        this.title,
        this.subtitle,
      ),
      conversation.type === 'group' && conversation.groupId
        ? el('button', { class: 'quiet', testid: 'group-info', attrs: { type: 'button' }, on: { click: () => this.showGroupInfo() } }, 'Info')
        : null,
    );
    this.notice.hidden = true;
    this.element = el(
      'div',
      { class: 'conversation-view', dataset: { conversationId: conversation.conversationId } },
      header,
      this.typingLine,
      this.scroller,
      this.notice,
      this.contextBar,
      composer,
    );
    this.shownPeerRead = conversation.peerLastReadSeq ?? 0;
    this.showHeader();
    // The ack comes just before the message it stands for: turn the pending bubble into the stored one first.
    this.offAck = client.on('ack', (ack) => this.onAck(ack));
    this.offTyping = client.on('typing', (t) => {
      if (t.conversationId === this.conversationId) this.renderTyping();
    });
    this.typingLine.hidden = true;
    this.renderTyping();
    document.addEventListener('visibilitychange', this.onVisible);
    document.addEventListener('pointerdown', this.onPointerDown);
  }

  get conversationId(): string {
    return this.conversation.conversationId;
  }

  /** The conversation's name, members or my role changed: show it, in the info dialog too. */
  update(conversation: Conversation): void {
    // The list changes its entry in place: compare with the changeSeq shown, not with the entry.
    const changed = conversation.changeSeq !== this.shownChangeSeq;
    this.conversation = conversation;
    this.showHeader();
    // A list read after a reconnect may carry a receipt whose frame this tab missed.
    this.peerRead(conversation.peerLastReadSeq ?? 0);
    if (changed && this.info?.isOpen) this.info.changed(conversation.changeSeq);
  }

  /** The peer of this 1:1 read up to `lastReadSeq` (a `read-receipt`, or the list): my messages up to it show ✓✓. */
  peerRead(lastReadSeq: number): void {
    const before = this.shownPeerRead;
    if (this.conversation.type !== 'single' || lastReadSeq <= before) return;
    this.shownPeerRead = lastReadSeq;
    // Only the bubbles that turn read are built again.
    for (const item of this.items.values()) {
      if (item.senderId === this.me.userId && item.status === 'sent' && item.seqId !== null && item.seqId > before && item.seqId <= lastReadSeq) this.renderItem(item);
    }
  }

  /** In a 1:1, whether the peer has read this message of mine (its read pointer is at or past it). */
  private isReadByPeer(item: Item): boolean {
    return this.conversation.type === 'single' && item.seqId !== null && item.seqId <= this.shownPeerRead;
  }

  private showHeader(): void {
    const c = this.conversation;
    this.shownChangeSeq = c.changeSeq;
    this.title.textContent = conversationTitle(c);
    this.subtitle.textContent = c.type === 'single' ? 'direct message' : memberCount(c.memberCount);
  }

  dispose(): void {
    this.disposed = true;
    this.info?.close();
    this.info = null;
    this.offAck();
    this.offTyping();
    // Leaving the conversation: the others stop seeing "typing…" at once.
    this.client.stopTyping(this.conversationId);
    if (this.typingTimer !== null) window.clearTimeout(this.typingTimer);
    document.removeEventListener('visibilitychange', this.onVisible);
    document.removeEventListener('pointerdown', this.onPointerDown);
    if (this.readTimer !== null) window.clearTimeout(this.readTimer);
    if (this.highlightTimer !== null) window.clearTimeout(this.highlightTimer);
    if (this.noticeTimer !== null) window.clearTimeout(this.noticeTimer);
  }

  async load(): Promise<void> {
    const readAt = this.clock;
    try {
      const page = await this.client.messages(this.conversationId, { size: PAGE_SIZE });
      if (this.disposed) return;
      for (const m of page.messages) this.addStored(m, readAt);
      this.hasMore = page.pagination.hasMore;
      this.render();
      this.scrollToBottom();
      this.scheduleRead(0);
      this.element.dataset.loaded = 'true';
    } catch (err) {
      this.list.append(el('li', { class: 'system' }, describeError(err)));
    }
    this.input.focus();
  }

  onMessage(message: Message): void {
    if (this.items.has(message.messageId)) return;
    const atBottom = this.isAtBottom();
    this.addStored(message, this.clock);
    this.render();
    // The SDK drops the sender from typingIn as its message arrives.
    if (message.senderId !== this.me.userId) this.renderTyping();
    if (atBottom || message.senderId === this.me.userId) this.scrollToBottom();
    if (message.senderId !== this.me.userId) this.scheduleRead(300);
  }

  /**
   * A message of this conversation changed (recalled, edited, reacted to), pushed live or caught up
   * after a reconnect. A change older than the one shown is left out; one for a message not shown is
   * kept a while, for a history read that is under way. A recall also turns every reply's quote of it.
   */
  onMessageChanged(change: MessageChange): void {
    const m = change.message;
    if (m.conversationId !== this.conversationId) return;
    this.clock++;
    const item = this.items.get(m.messageId);
    if (!item || item.seqId === null) {
      // Not shown: the replies to it that are shown still say it is gone.
      if (m.recalledAt !== undefined) this.originalRecalled(m.messageId);
      this.unseen.delete(m.messageId);
      this.unseen.set(m.messageId, { change, at: this.clock });
      if (this.unseen.size > UNSEEN_CHANGES_KEPT) this.unseen.delete(this.unseen.keys().next().value!);
      return;
    }
    if (change.changeSeq <= item.changeSeq) return;
    this.applyChange(item, change);
    this.renderItem(item);
  }

  private applyChange(item: Item, change: MessageChange): void {
    const m = change.message;
    let mine: string[];
    if (change.source === 'catch-up' || m.myReactions !== undefined) {
      // Read for me alone: my reactions as they are (none when absent).
      mine = m.myReactions ?? [];
    } else {
      // Shared with every member: only whose reaction changed, mine when it says so.
      const set = new Set(item.myReactions);
      const r = change.reaction;
      if (r && r.userId === this.me.userId) {
        if (r.added) set.add(r.emoji);
        else set.delete(r.emoji);
      }
      mine = [...set];
    }
    this.apply(item, m, mine);
    item.changeSeq = Math.max(item.changeSeq, change.changeSeq);
  }

  // ---- history ----

  private itemOf(m: Message, known: Item | undefined): Item {
    const item: Item = {
      key: m.messageId,
      seqId: m.seqId,
      senderId: m.senderId,
      senderName: m.senderName,
      content: m.content,
      messageType: m.messageType,
      sendTime: m.sendTime,
      status: m.senderId === this.me.userId ? 'sent' : 'received',
      system: m.messageType === 'system',
      reactions: [],
      myReactions: [],
      changeSeq: known?.changeSeq ?? 0,
      version: 0,
    };
    this.apply(item, m, m.myReactions ?? []);
    return item;
  }

  /** A message as a read (begun at clock `readAt`) answered it; a change pushed since is newer and stays. */
  private addStored(m: Message, readAt: number): void {
    if (m.seqId > this.newestSeq) this.newestSeq = m.seqId;
    const known = this.items.get(m.messageId);
    if (known && known.version > readAt) return;
    const item = this.itemOf(m, known);
    this.items.set(m.messageId, item);
    const pushed = this.unseen.get(m.messageId);
    if (pushed) {
      this.unseen.delete(m.messageId);
      if (pushed.at > readAt) this.applyChange(item, pushed.change);
    }
    if (known && this.nodes.has(item.key)) this.renderItem(item);
  }

  /** Takes a message's current state: its text, marks, reactions, and whether it is recalled. */
  private apply(item: Item, m: Message, myReactions: readonly string[]): void {
    item.content = m.content;
    item.messageType = m.messageType;
    item.editedAt = m.editedAt;
    item.recalledAt = m.recalledAt;
    item.recalledBy = m.recalledBy;
    item.reactions = m.recalledAt !== undefined ? [] : [...(m.reactions ?? [])];
    // Mine only among the emoji still counted: a recalled message has none.
    item.myReactions = myReactions.filter((e) => item.reactions.some((r) => r.emoji === e));
    // A recalled message's quote is gone with it; a quote of a message recalled since says so.
    item.replyTo = m.recalledAt !== undefined ? undefined : m.replyTo;
    if (item.replyTo && !item.replyTo.recalled && this.recalledIds.has(item.replyTo.messageId)) item.replyTo = { ...item.replyTo, preview: '', recalled: true };
    item.version = ++this.clock;
    if (m.recalledAt !== undefined) {
      this.originalRecalled(item.key);
      if (this.context?.key === item.key) this.dropContext();
      if (this.menuFor === item.key) this.menuFor = null;
    }
  }

  /** The original of some replies was recalled: their quotes say so, and a reply being written to it ends. */
  private originalRecalled(messageId: string): void {
    this.recalledIds.add(messageId);
    for (const item of this.items.values()) {
      if (item.replyTo?.messageId !== messageId || item.replyTo.recalled) continue;
      item.replyTo = { ...item.replyTo, preview: '', recalled: true };
      item.version = ++this.clock;
      if (this.nodes.has(item.key)) this.renderItem(item);
    }
  }

  private oldestSeq(): number | null {
    let oldest: number | null = null;
    for (const item of this.items.values()) if (item.seqId !== null && (oldest === null || item.seqId < oldest)) oldest = item.seqId;
    return oldest;
  }

  private onScroll(): void {
    if (this.scroller.scrollTop < 80) void this.loadOlder();
  }

  /** The page of history before the oldest shown; one read at a time (a second caller waits for it). */
  private loadOlder(size = PAGE_SIZE): Promise<void> {
    if (this.olderLoad) return this.olderLoad;
    const oldest = this.oldestSeq();
    if (!this.hasMore || oldest === null || oldest <= 1) return Promise.resolve();
    const readAt = this.clock;
    this.olderLoad = (async () => {
      try {
        const page = await this.client.messages(this.conversationId, { beforeSeq: oldest, size });
        if (this.disposed) return;
        const before = this.scroller.scrollHeight;
        for (const m of page.messages) this.addStored(m, readAt);
        this.hasMore = page.pagination.hasMore && page.messages.length > 0;
        this.render();
        // Keep the message the reader was looking at in place.
        this.scroller.scrollTop += this.scroller.scrollHeight - before;
      } catch {
        // Scrolling up again retries.
      }
    })().finally(() => (this.olderLoad = null));
    return this.olderLoad;
  }

  /** Scrolls to the message a quote answers, reading older history until it is there, and highlights it. */
  private async jumpTo(reply: ReplySnapshot): Promise<void> {
    for (;;) {
      if (this.disposed) return;
      if (this.items.has(reply.messageId)) return this.highlight(reply.messageId);
      const oldest = this.oldestSeq();
      if (!this.hasMore || oldest === null || oldest <= reply.seqId) break;
      // Every message from the oldest shown back to the original, in as few reads as the server allows.
      await this.loadOlder(Math.min(MAX_PAGE_SIZE, Math.max(PAGE_SIZE, oldest - reply.seqId)));
      if (this.oldestSeq() === oldest) break; // the read failed
    }
    this.showNotice('The original message could not be found.');
  }

  private highlight(key: string): void {
    const previous = this.highlighted;
    this.highlighted = key;
    if (previous && previous !== key) this.nodes.get(previous)?.removeAttribute('data-highlighted');
    const node = this.nodes.get(key);
    if (!node) return;
    node.dataset.highlighted = 'true';
    node.scrollIntoView({ block: 'center' });
    // The keyboard (and a screen reader) follows the jump.
    node.tabIndex = -1;
    node.focus({ preventScroll: true });
    if (this.highlightTimer !== null) window.clearTimeout(this.highlightTimer);
    this.highlightTimer = window.setTimeout(() => {
      this.highlightTimer = null;
      if (this.highlighted === key) this.highlighted = null;
      this.nodes.get(key)?.removeAttribute('data-highlighted');
    }, HIGHLIGHT_MS);
  }

  private showNotice(text: string): void {
    this.notice.textContent = text;
    this.notice.hidden = false;
    if (this.noticeTimer !== null) window.clearTimeout(this.noticeTimer);
    this.noticeTimer = window.setTimeout(() => {
      this.noticeTimer = null;
      this.notice.hidden = true;
      this.notice.textContent = '';
    }, 5_000);
  }

  // ---- typing ----

  /** A keystroke in the composer: typing while it holds text (not when editing a message), stopped when cleared. */
  private onInput(): void {
    if (this.context?.kind === 'edit') return;
    if (this.input.value.trim()) this.client.typing(this.conversationId);
    else this.client.stopTyping(this.conversationId);
  }

  private renderTyping(): void {
    if (this.typingTimer !== null) window.clearTimeout(this.typingTimer);
    this.typingTimer = null;
    if (this.disposed) return;
    const typers = this.client.typingIn(this.conversationId).filter((t) => t.userId !== this.me.userId);
    this.typingLine.textContent =
      typers.length === 0 ? '' : typers.length === 1 ? `${typers[0]!.username} is typing…` : `${typers.length} people are typing…`;
    this.typingLine.hidden = typers.length === 0;
    if (typers.length > 0) this.typingTimer = window.setTimeout(() => this.renderTyping(), 500);
  }

  // ---- sending ----

  private submit(): void {
    if (this.context?.kind === 'edit') {
      void this.saveEdit(this.context);
      return;
    }
    const content = this.input.value;
    if (!content.trim()) return;
    this.client.stopTyping(this.conversationId);
    const target = this.context?.kind === 'reply' ? this.items.get(this.context.key) : undefined;
    this.input.value = '';
    if (this.context) this.endContext();
    const tempMessageId = createTempId();
    const item: Item = {
      key: `temp:${tempMessageId}`,
      seqId: null,
      senderId: this.me.userId,
      senderName: this.me.username,
      content,
      messageType: 'text',
      sendTime: new Date().toISOString(),
      status: 'pending',
      system: false,
      tempMessageId,
      reactions: [],
      myReactions: [],
      changeSeq: 0,
      version: ++this.clock,
      // The quote as the server will store it; shown at once, while the send is on its way.
      ...(target && target.seqId !== null
        ? {
            replyTo: {
              messageId: target.key,
              seqId: target.seqId,
              senderId: target.senderId,
              senderName: target.senderName,
              messageType: target.messageType,
              preview: previewOf(target.content),
            },
          }
        : {}),
    };
    this.outgoing.set(tempMessageId, item);
    this.items.set(item.key, item);
    this.render();
    this.scrollToBottom();
    this.send(item);
  }

  private send(item: Item): void {
    const tempMessageId = item.tempMessageId!;
    const options = { tempMessageId, ...(item.replyTo ? { replyTo: item.replyTo.messageId } : {}) };
    this.client.send(this.conversationId, item.content, options).then(
      (ack) => this.onAck(ack),
      (err: unknown) => {
        if (this.outgoing.get(tempMessageId) !== item) return;
        item.status = 'failed';
        item.error = describeError(err);
        this.renderItem(item);
      },
    );
  }

  private retry(item: Item): void {
    item.status = 'pending';
    delete item.error;
    this.renderItem(item);
    // The same tempMessageId: if the first try was stored after all, the server answers with that message.
    this.send(item);
  }

  private onAck(ack: MessageAck): void {
    const item = this.outgoing.get(ack.tempMessageId);
    if (!item || ack.conversationId !== this.conversationId) return;
    this.outgoing.delete(ack.tempMessageId);
    this.items.delete(item.key);
    this.nodes.get(item.key)?.remove();
    this.nodes.delete(item.key);
    if (!this.items.has(ack.messageId)) {
      const stored: Item = { ...item, key: ack.messageId, seqId: ack.seqId, sendTime: ack.sendTime, status: 'sent', version: ++this.clock };
      // Recalled while the reply was on its way: its quote says so.
      if (stored.replyTo && !stored.replyTo.recalled && this.recalledIds.has(stored.replyTo.messageId)) stored.replyTo = { ...stored.replyTo, preview: '', recalled: true };
      this.items.set(ack.messageId, stored);
    }
    this.render();
  }

  // ---- reply and edit: the bar above the composer ----

  private startReply(key: string): void {
    if (this.context?.kind === 'edit') this.endContext();
    this.context = { kind: 'reply', key };
    this.contextError.textContent = '';
    this.renderContext();
    this.input.focus();
  }

  private startEdit(key: string): void {
    const item = this.items.get(key);
    if (!item) return;
    const draft = this.context?.kind === 'edit' ? this.context.draft : this.input.value;
    this.context = { kind: 'edit', key, draft, saving: false };
    this.contextError.textContent = '';
    this.input.value = item.content;
    this.renderContext();
    this.input.focus();
    this.input.setSelectionRange(this.input.value.length, this.input.value.length);
  }

  /** Leaves reply or edit mode; an edit gives the composer back what was typed before it. */
  private endContext(): void {
    const context = this.context;
    if (!context) return;
    if (context.kind === 'edit') this.input.value = context.draft;
    this.context = null;
    this.contextError.textContent = '';
    this.renderContext();
    this.input.focus();
  }

  /** The message replied to or being edited was recalled: nothing left to answer or edit. */
  private dropContext(): void {
    const kind = this.context?.kind;
    this.endContext();
    this.showNotice(kind === 'edit' ? 'The message you were editing was recalled.' : 'The message you were replying to was recalled.');
  }

  private renderContext(): void {
    const context = this.context;
    const target = context ? this.items.get(context.key) : undefined;
    if (!context || !target) {
      this.contextBar.hidden = true;
      delete this.contextBar.dataset.testid;
      replaceChildren(this.contextBar);
      return;
    }
    const reply = context.kind === 'reply';
    this.contextBar.hidden = false;
    this.contextBar.dataset.testid = reply ? 'reply-bar' : 'edit-bar';
    this.contextBar.dataset.mode = context.kind;
    const who = target.senderId === this.me.userId ? 'yourself' : target.senderName;
    replaceChildren(
      this.contextBar,
      el(
        'div',
        { class: 'context-text' },
        el('strong', { class: 'context-title', testid: 'context-title' }, reply ? `Replying to ${who}` : 'Editing your message'),
        el('span', { class: 'context-preview', testid: 'context-preview' }, previewOf(target.content)),
      ),
      el(
        'button',
        {
          class: 'quiet context-cancel',
          testid: reply ? 'cancel-reply' : 'cancel-edit',
          attrs: { type: 'button', 'aria-label': reply ? 'Cancel reply' : 'Cancel editing', title: 'Cancel (Esc)' },
          on: { click: () => this.endContext() },
        },
        '✕',
      ),
      this.contextError,
    );
  }

  private async saveEdit(context: Extract<ComposerContext, { kind: 'edit' }>): Promise<void> {
    const item = this.items.get(context.key);
    if (!item || context.saving) return;
    const content = this.input.value;
    if (!content.trim()) {
      this.contextError.textContent = 'A message cannot be empty: recall it instead.';
      return;
    }
    if (content === item.content) return this.endContext();
    context.saving = true;
    this.contextError.textContent = '';
    const version = item.version;
    try {
      const answer = await this.client.editMessage(item.key, content);
      if (this.disposed) return;
      this.applyAnswer(item.key, version, answer);
      if (this.context === context) this.endContext();
    } catch (err) {
      if (this.context === context) this.contextError.textContent = describeError(err);
    } finally {
      context.saving = false;
    }
  }

  // ---- actions: react, recall ----

  /**
   * An action's answer is the message after it, with my reactions. It is applied unless a pushed
   * change came meanwhile: that change is as new or newer (the push of this very action included).
   */
  private applyAnswer(key: string, version: number, answer: Message): void {
    const item = this.items.get(key);
    if (!item) return;
    const hadError = item.actionError !== undefined;
    delete item.actionError;
    if (item.version === version) this.apply(item, answer, answer.myReactions ?? []);
    else if (!hadError) return;
    this.renderItem(item);
  }

  private failed(key: string, err: unknown): void {
    const item = this.items.get(key);
    if (!item || this.disposed) return;
    item.actionError = describeError(err);
    this.renderItem(item);
  }

  /** Adds my reaction with `emoji`, or takes it back when I have it. */
  private async toggleReaction(key: string, emoji: string): Promise<void> {
    const item = this.items.get(key);
    const busy = `${key} ${emoji}`;
    if (!item || item.seqId === null || item.recalledAt !== undefined || this.reacting.has(busy)) return;
    this.reacting.add(busy);
    const version = item.version;
    try {
      const answer = item.myReactions.includes(emoji) ? await this.client.unreact(key, emoji) : await this.client.react(key, emoji);
      if (!this.disposed) this.applyAnswer(key, version, answer);
    } catch (err) {
      this.failed(key, err);
    } finally {
      this.reacting.delete(busy);
    }
  }

  private askRecall(key: string, kind: 'recall' | 'remove'): void {
    const item = this.items.get(key);
    if (!item) return;
    const [title, message, action] =
      kind === 'recall'
        ? ['Recall this message?', 'It is taken back for everyone in the conversation.', 'Recall']
        : ['Remove this message?', `The message from ${item.senderName} is removed for everyone in the group.`, 'Remove'];
    confirmDialog(title, message, action, async () => {
      const version = this.items.get(key)?.version ?? -1;
      const answer = await this.client.recall(key);
      if (!this.disposed) this.applyAnswer(key, version, answer);
    });
  }

  // ---- the "⋯" menu of a message ----

  private hasActions(item: Item): boolean {
    return !item.system && item.seqId !== null && item.recalledAt === undefined && (item.status === 'sent' || item.status === 'received');
  }

  private toggleMenu(key: string): void {
    if (this.menuFor === key) this.closeMenu(true);
    else this.openMenu(key);
  }

  private openMenu(key: string): void {
    this.closeMenu(false);
    const item = this.items.get(key);
    const node = this.nodes.get(key);
    if (!item || !node || !this.hasActions(item)) return;
    this.menuFor = key;
    const menu = this.buildMenu(item);
    node.append(menu);
    node.querySelector('[data-testid="message-actions"]')?.setAttribute('aria-expanded', 'true');
    menu.querySelector<HTMLElement>('[role^="menuitem"]')?.focus();
  }

  private closeMenu(focusButton: boolean): void {
    const key = this.menuFor;
    if (key === null) return;
    this.menuFor = null;
    const node = this.nodes.get(key);
    node?.querySelector('.message-menu')?.remove();
    const button = node?.querySelector<HTMLElement>('[data-testid="message-actions"]');
    button?.setAttribute('aria-expanded', 'false');
    if (focusButton) button?.focus();
  }

  /** A press outside the open menu's message closes the menu. */
  private readonly onPointerDown = (event: PointerEvent) => {
    if (this.menuFor === null) return;
    const node = this.nodes.get(this.menuFor);
    if (!node || !(event.target instanceof Node) || !node.contains(event.target)) this.closeMenu(false);
  };

  private buildMenu(item: Item): HTMLElement {
    const key = item.key;
    const pick = (emoji: string) => {
      const mine = item.myReactions.includes(emoji);
      return el(
        'button',
        {
          class: `quiet pick${mine ? ' mine' : ''}`,
          testid: 'pick-reaction',
          dataset: { emoji },
          attrs: { type: 'button', role: 'menuitemcheckbox', 'aria-checked': String(mine), 'aria-label': `React with ${emoji}`, title: mine ? 'Take back your reaction' : `React with ${emoji}` },
          on: {
            click: () => {
              this.closeMenu(true);
              void this.toggleReaction(key, emoji);
            },
          },
        },
        emoji,
      );
    };
    const action = (testid: string, label: string, run: () => void) =>
      el(
        'button',
        {
          class: 'quiet',
          testid,
          attrs: { type: 'button', role: 'menuitem' },
          on: {
            click: () => {
              this.closeMenu(false);
              run();
            },
          },
        },
        label,
      );
    const recall = recallKind({ ...item, recalled: item.recalledAt !== undefined }, this.conversation, this.me.userId);
    const mine = item.senderId === this.me.userId;
    return el(
      'div',
      {
        class: 'message-menu',
        testid: 'message-menu',
        attrs: { role: 'menu', 'aria-label': mine ? 'Your message' : `Message from ${item.senderName}` },
        on: {
          keydown: (event) => {
            const keys = ['ArrowDown', 'ArrowUp', 'ArrowLeft', 'ArrowRight', 'Home', 'End'];
            if (event.key === 'Escape') {
              event.preventDefault();
              event.stopPropagation();
              this.closeMenu(true);
            } else if (keys.includes(event.key)) {
              event.preventDefault();
              const entries = [...(event.currentTarget as HTMLElement).querySelectorAll<HTMLElement>('[role^="menuitem"]')];
              const at = entries.indexOf(document.activeElement as HTMLElement);
              const next =
                event.key === 'Home'
                  ? 0
                  : event.key === 'End'
                    ? entries.length - 1
                    : (at + (event.key === 'ArrowDown' || event.key === 'ArrowRight' ? 1 : entries.length - 1)) % entries.length;
              entries[next]?.focus();
            }
          },
        },
      },
      el('div', { class: 'emoji-picker', testid: 'emoji-picker', attrs: { role: 'group', 'aria-label': 'React' } }, ...QUICK_REACTIONS.map(pick)),
      action('action-reply', 'Reply', () => this.startReply(key)),
      canEdit({ ...item, recalled: item.recalledAt !== undefined }, this.me.userId) ? action('action-edit', 'Edit', () => this.startEdit(key)) : null,
      recall ? action('action-recall', recall === 'remove' ? 'Remove' : 'Recall', () => this.askRecall(key, recall)) : null,
    );
  }

  // ---- read marks ----

  private readonly onVisible = () => {
    if (document.visibilityState === 'visible') this.scheduleRead(0);
  };

  private scheduleRead(delayMs: number): void {
    if (this.readTimer !== null || document.visibilityState !== 'visible') return;
    this.readTimer = window.setTimeout(() => {
      this.readTimer = null;
      if (this.disposed || this.newestSeq === 0) return;
      // Over the socket, up to what was shown (not past it): the SDK sends the furthest of close marks
      // once, or after reconnecting; the move comes back as conversation-read, to every tab and device.
      this.client.markReadUpTo(this.conversationId, this.newestSeq);
    }, delayMs);
  }

  // ---- group info ----

  private showGroupInfo(): void {
    this.info?.close();
    this.info = new GroupInfo(this.client, this.conversation, this.me, { gone: (reason) => this.events.gone(reason) });
    this.info.open();
  }

  // ---- rendering ----

  private ordered(): Item[] {
    const stored = [...this.items.values()].filter((i) => i.seqId !== null).sort((a, b) => a.seqId! - b.seqId!);
    return [...stored, ...this.outgoing.values()];
  }

  private render(): void {
    this.olderButton.hidden = !this.hasMore;
    const items = this.ordered();
    for (const item of items) if (!this.nodes.has(item.key)) this.nodes.set(item.key, this.build(item));
    // Appending an attached node moves it: this puts every bubble in order without rebuilding any.
    let previous: Element | null = null;
    for (const item of items) {
      const node = this.nodes.get(item.key)!;
      const expected: Element | null = previous ? previous.nextElementSibling : this.list.firstElementChild;
      if (expected !== node) this.list.insertBefore(node, expected);
      previous = node;
    }
  }

  /** Builds one bubble anew in place: its open menu and the keyboard focus inside it stay. */
  private renderItem(item: Item): void {
    const old = this.nodes.get(item.key);
    const atBottom = this.isAtBottom();
    const active = old && document.activeElement instanceof HTMLElement && old.contains(document.activeElement) ? document.activeElement : null;
    const node = this.build(item);
    this.nodes.set(item.key, node);
    old?.replaceWith(node);
    if (this.menuFor === item.key) {
      if (this.hasActions(item)) {
        node.append(this.buildMenu(item));
        node.querySelector('[data-testid="message-actions"]')?.setAttribute('aria-expanded', 'true');
      } else this.menuFor = null;
    }
    if (active) {
      const testid = active.dataset.testid;
      const emoji = active.dataset.emoji;
      const same = testid ? [...node.querySelectorAll<HTMLElement>(`[data-testid="${testid}"]`)].find((n) => n.dataset.emoji === emoji) : undefined;
      const fallback = node.querySelector<HTMLElement>('[data-testid="message-actions"]');
      if (same ?? fallback) (same ?? fallback)!.focus({ preventScroll: true });
      else {
        node.tabIndex = -1;
        node.focus({ preventScroll: true });
      }
    }
    if (atBottom && old) this.scrollToBottom();
    if (this.context?.key === item.key) this.renderContext();
  }

  private build(item: Item): HTMLElement {
    const ids = { ...(item.seqId !== null ? { seq: String(item.seqId), messageId: item.key } : {}), ...(this.highlighted === item.key ? { highlighted: 'true' } : {}) };
    if (item.system) {
      // Text only: names and group names are user data.
      return el(
        'li',
        { class: 'system system-message', testid: 'system-message', dataset: ids, attrs: { title: formatTime(item.sendTime) } },
        describeSystemMessage(item, this.me.userId),
      );
    }
    const mine = item.senderId === this.me.userId;
    const recalled = item.recalledAt !== undefined;
    const showSender = !mine && this.conversation.type !== 'single';
    const status =
      item.status === 'pending'
        ? el('span', { class: 'status', testid: 'message-status' }, 'Sending…')
        : item.status === 'sent'
          ? this.isReadByPeer(item)
            ? el('span', { class: 'status read', testid: 'message-status', attrs: { 'aria-label': 'read', title: 'Read' } }, '✓✓')
            : el('span', { class: 'status', testid: 'message-status', attrs: { 'aria-label': 'sent', title: 'Sent' } }, '✓')
          : item.status === 'failed'
            ? el(
                'span',
                { class: 'status failed', testid: 'message-status' },
                `Not sent${item.error ? ` (${item.error})` : ''} `,
                el('button', { class: 'retry', testid: 'retry', attrs: { type: 'button' }, on: { click: () => this.retry(item) } }, 'Retry'),
              )
            : null;
    const edited =
      item.editedAt !== undefined && !recalled
        ? el('span', { class: 'edited', testid: 'message-edited', attrs: { title: `Edited ${formatTime(item.editedAt)}` } }, 'edited')
        : null;
    const menuButton = this.hasActions(item)
      ? el(
          'button',
          {
            class: 'quiet message-actions',
            testid: 'message-actions',
            attrs: {
              type: 'button',
              'aria-haspopup': 'menu',
              'aria-expanded': 'false',
              'aria-label': mine ? 'Actions for your message' : `Actions for the message from ${item.senderName}`,
              title: 'Reply, react, edit or recall',
            },
            on: { click: () => this.toggleMenu(item.key) },
          },
          '⋯',
        )
      : null;
    return el(
      'li',
      {
        class: `message ${mine ? 'mine' : 'theirs'}${recalled ? ' recalled' : ''}`,
        testid: 'message',
        dataset: { status: item.status, recalled: String(recalled), edited: String(edited !== null), ...ids },
      },
      showSender ? el('span', { class: 'sender', testid: 'message-sender' }, item.senderName) : null,
      item.replyTo && !recalled ? this.buildQuote(item.replyTo) : null,
      recalled
        ? el('p', { class: 'content recalled-text', testid: 'message-recalled' }, recalledText(item, this.me.userId))
        : el('p', { class: 'content', testid: 'message-content' }, item.content),
      item.reactions.length > 0 && !recalled ? this.buildReactions(item) : null,
      el('span', { class: 'meta' }, edited, el('time', { attrs: { datetime: item.sendTime } }, formatTime(item.sendTime)), status, menuButton),
      item.actionError ? el('p', { class: 'form-error action-error', testid: 'message-action-error', attrs: { role: 'alert' } }, item.actionError) : null,
    );
  }

  /** The quote above a reply: who and what it answers; pressed, it shows the original. */
  private buildQuote(reply: ReplySnapshot): HTMLElement {
    const who = reply.senderId === this.me.userId ? 'You' : reply.senderName;
    const text = quoteText(reply);
    return el(
      'button',
      {
        class: `quote${reply.recalled ? ' recalled' : ''}`,
        testid: 'reply-quote',
        dataset: { replyTo: reply.messageId, recalled: String(reply.recalled === true) },
        attrs: { type: 'button', title: 'Show the original message', 'aria-label': `In reply to ${who}: ${text}. Show the original message` },
        on: { click: () => void this.jumpTo(reply) },
      },
      el('span', { class: 'quote-sender', testid: 'reply-quote-sender' }, who),
      el('span', { class: 'quote-text', testid: 'reply-quote-text' }, text),
    );
  }

  /** Each emoji with its count, mine pressed; pressing one adds or takes back mine. "Who?" lists the reactors. */
  private buildReactions(item: Item): HTMLElement {
    return el(
      'div',
      { class: 'reactions', testid: 'reactions', attrs: { role: 'group', 'aria-label': 'Reactions' } },
      ...item.reactions.map((r) => {
        const mine = item.myReactions.includes(r.emoji);
        return el(
          'button',
          {
            class: `reaction${mine ? ' mine' : ''}`,
            testid: 'reaction',
            dataset: { emoji: r.emoji, mine: String(mine), count: String(r.count) },
            attrs: {
              type: 'button',
              'aria-pressed': String(mine),
              'aria-label': `${r.emoji} ${r.count}`,
              title: mine ? `${r.count === 1 ? 'You' : `You and ${r.count - 1} other${r.count === 2 ? '' : 's'}`}: press to take yours back` : `React with ${r.emoji}`,
            },
            on: { click: () => void this.toggleReaction(item.key, r.emoji) },
          },
          el('span', { class: 'reaction-emoji', attrs: { 'aria-hidden': 'true' } }, r.emoji),
          el('span', { class: 'reaction-count', testid: 'reaction-count', attrs: { 'aria-hidden': 'true' } }, String(r.count)),
        );
      }),
      el(
        'button',
        {
          class: 'quiet reactions-who',
          testid: 'reactions-who',
          attrs: { type: 'button', 'aria-label': 'Who reacted', title: 'Who reacted' },
          on: { click: () => reactorsDialog(this.client, item.key, this.me.userId) },
        },
        'Who?',
      ),
    );
  }

  private isAtBottom(): boolean {
    return this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < 60;
  }

  private scrollToBottom(): void {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }
}
