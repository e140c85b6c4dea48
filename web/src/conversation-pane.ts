/** One open conversation: history with scroll-back, live messages, and sends that go pending → sent, or failed with retry. */
import { createTempId, type Conversation, type GoChatClient, type Message, type MessageAck, type ReadResult, type User } from '../../sdk/index.js';
import { el } from './dom.js';
import { conversationTitle, describeError, describeSystemMessage, formatTime, memberCount } from './format.js';
import { GroupInfo } from './group-info.js';

type Status = 'received' | 'pending' | 'sent' | 'failed';

interface Item {
  key: string;
  seqId: number | null;
  senderId: string;
  senderName: string;
  content: string;
  sendTime: string;
  status: Status;
  /** A server-authored line (someone joined, the group was renamed): shown centred, not as a bubble. */
  system: boolean;
  tempMessageId?: string;
  error?: string;
}

export interface PaneEvents {
  back(): void;
  markedRead(read: ReadResult): void;
  /** The user left or disbanded this group from its info dialog. */
  gone(reason: 'left' | 'disbanded'): void;
}

const PAGE_SIZE = 30;

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
  private hasMore = false;
  private loadingOlder = false;
  private readTimer: number | null = null;
  private disposed = false;
  private readonly offAck: () => void;
  private readonly title: HTMLElement;
  private readonly subtitle: HTMLElement;
  private info: GroupInfo | null = null;
  private shownChangeSeq = 0;

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
        keydown: (event) => {
          if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            this.submit();
          }
        },
      },
    });
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
    this.element = el('div', { class: 'conversation-view', dataset: { conversationId: conversation.conversationId } }, header, this.scroller, composer);
    this.showHeader();
    // The ack comes just before the message it stands for: turn the pending bubble into the stored one first.
    this.offAck = client.on('ack', (ack) => this.onAck(ack));
    document.addEventListener('visibilitychange', this.onVisible);
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
    if (changed && this.info?.isOpen) this.info.changed(conversation.changeSeq);
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
    document.removeEventListener('visibilitychange', this.onVisible);
    if (this.readTimer !== null) window.clearTimeout(this.readTimer);
  }

  async load(): Promise<void> {
    try {
      const page = await this.client.messages(this.conversationId, { size: PAGE_SIZE });
      if (this.disposed) return;
      for (const m of page.messages) this.addStored(m);
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
    this.addStored(message);
    this.render();
    if (atBottom || message.senderId === this.me.userId) this.scrollToBottom();
    if (message.senderId !== this.me.userId) this.scheduleRead(300);
  }

  // ---- history ----

  private addStored(m: Message): void {
    this.items.set(m.messageId, {
      key: m.messageId,
      seqId: m.seqId,
      senderId: m.senderId,
      senderName: m.senderName,
      content: m.content,
      sendTime: m.sendTime,
      status: m.senderId === this.me.userId ? 'sent' : 'received',
      system: m.messageType === 'system',
    });
  }

  private oldestSeq(): number | null {
    let oldest: number | null = null;
    for (const item of this.items.values()) if (item.seqId !== null && (oldest === null || item.seqId < oldest)) oldest = item.seqId;
    return oldest;
  }

  private onScroll(): void {
    if (this.scroller.scrollTop < 80) void this.loadOlder();
  }

  private async loadOlder(): Promise<void> {
    const oldest = this.oldestSeq();
    if (!this.hasMore || this.loadingOlder || oldest === null || oldest <= 1) return;
    this.loadingOlder = true;
    try {
      const page = await this.client.messages(this.conversationId, { beforeSeq: oldest, size: PAGE_SIZE });
      if (this.disposed) return;
      const before = this.scroller.scrollHeight;
      for (const m of page.messages) this.addStored(m);
      this.hasMore = page.pagination.hasMore && page.messages.length > 0;
      this.render();
      // Keep the message the reader was looking at in place.
      this.scroller.scrollTop += this.scroller.scrollHeight - before;
    } catch {
      // Scrolling up again retries.
    } finally {
      this.loadingOlder = false;
    }
  }

  // ---- sending ----

  private submit(): void {
    const content = this.input.value;
    if (!content.trim()) return;
    this.input.value = '';
    const tempMessageId = createTempId();
    const item: Item = {
      key: `temp:${tempMessageId}`,
      seqId: null,
      senderId: this.me.userId,
      senderName: this.me.username,
      content,
      sendTime: new Date().toISOString(),
      status: 'pending',
      system: false,
      tempMessageId,
    };
    this.outgoing.set(tempMessageId, item);
    this.items.set(item.key, item);
    this.render();
    this.scrollToBottom();
    this.send(item);
  }

  private send(item: Item): void {
    const tempMessageId = item.tempMessageId!;
    this.client.send(this.conversationId, item.content, { tempMessageId }).then(
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
      this.items.set(ack.messageId, { ...item, key: ack.messageId, seqId: ack.seqId, sendTime: ack.sendTime, status: 'sent' });
    }
    this.render();
  }

  // ---- read marks ----

  private readonly onVisible = () => {
    if (document.visibilityState === 'visible') this.scheduleRead(0);
  };

  private scheduleRead(delayMs: number): void {
    if (this.readTimer !== null || document.visibilityState !== 'visible') return;
    this.readTimer = window.setTimeout(() => {
      this.readTimer = null;
      if (this.disposed) return;
      this.client.markRead(this.conversationId).then(
        (read) => this.events.markedRead(read),
        () => undefined,
      );
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

  private renderItem(item: Item): void {
    const old = this.nodes.get(item.key);
    const node = this.build(item);
    this.nodes.set(item.key, node);
    old?.replaceWith(node);
  }

  private build(item: Item): HTMLElement {
    if (item.system) {
      // Text only: names and group names are user data.
      return el(
        'li',
        { class: 'system system-message', testid: 'system-message', dataset: { seq: String(item.seqId) }, attrs: { title: formatTime(item.sendTime) } },
        describeSystemMessage(item, this.me.userId),
      );
    }
    const mine = item.senderId === this.me.userId;
    const showSender = !mine && this.conversation.type !== 'single';
    const status =
      item.status === 'pending'
        ? el('span', { class: 'status', testid: 'message-status' }, 'Sending…')
        : item.status === 'sent'
          ? el('span', { class: 'status', testid: 'message-status', attrs: { 'aria-label': 'sent' } }, '✓')
          : item.status === 'failed'
            ? el(
                'span',
                { class: 'status failed', testid: 'message-status' },
                `Not sent${item.error ? ` (${item.error})` : ''} `,
                el('button', { class: 'retry', testid: 'retry', attrs: { type: 'button' }, on: { click: () => this.retry(item) } }, 'Retry'),
              )
            : null;
    return el(
      'li',
      {
        class: `message ${mine ? 'mine' : 'theirs'}`,
        testid: 'message',
        dataset: { status: item.status, ...(item.seqId !== null ? { seq: String(item.seqId) } : {}) },
      },
      showSender ? el('span', { class: 'sender', testid: 'message-sender' }, item.senderName) : null,
      el('p', { class: 'content', testid: 'message-content' }, item.content),
      el('span', { class: 'meta' }, el('time', { attrs: { datetime: item.sendTime } }, formatTime(item.sendTime)), status),
    );
  }

  private isAtBottom(): boolean {
    return this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < 60;
  }

  private scrollToBottom(): void {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }
}
