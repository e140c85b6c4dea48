/**
 * The `task` role: fans out large conversations. The bus queues each committed message of a
 * conversation above the large-group threshold in the fan-out queue; workers in one consumer
 * group read it, look up the members, and route the delivery to the gateways holding them.
 * An entry is acknowledged only after it was routed, so a worker that dies mid-batch leaves
 * its entries pending, and a live worker claims them once they sit idle past `claimIdleMs`.
 * A retried entry may reach a gateway twice; the gateway's ordered delivery drops the copy.
 *
 * Recipients are the members at the version the commit checked (`membersSeq`), not whoever is a
 * member when the entry is read: a member removed after the message was committed still gets it
 * (it was theirs), and one removed before never does. The worker keeps the member set it read last
 * per conversation with its version; an entry of another version reads the set again, and when the
 * set has moved on past the message, undoes the changes after it, read from their system messages.
 */
import type { DeliveryRouter, FanoutDelivery, FanoutEntry, FanoutQueue } from '../bus/fanout-queue.js';
import { unmeasured, type MeasurementObserver } from '../ports/observer.js';
import { parseSystemContent } from '../protocol/system-content.js';

/** Where members come from (the Repo provides it). */
export interface MemberSource {
  getMemberIds(conversationId: string): Promise<string[]>;
  getMembersAt(conversationId: string): Promise<{ membersSeq: number; ids: string[] } | null>;
  systemMessagesBetween(conversationId: string, afterSeq: number, toSeq: number, limit: number): Promise<Array<{ seqId: number; senderId: string; content: string }>>;
}

/**
 * Most membership changes undone to name a message's members. Entries are routed within moments of
 * their commit, so this is never reached but by a backlog; past it, the members now are used.
 */
const MAX_CHANGES_UNDONE = 1_000;

export interface FanoutWorkerConfig {
  /** This worker's consumer name in the group: unique per process. */
  consumer: string;
  batchSize: number;
  blockMs: number;
  /** An entry unacknowledged this long belongs to a dead worker and is taken over. */
  claimIdleMs: number;
  /**
   * An entry without a member-set version (published by an older logic) reuses a conversation's
   * member list this long; entries with one reuse it exactly while the version matches.
   */
  memberCacheMs: number;
  /**
   * Reports, per entry handled, "lag": seconds from queueing to routing; and per entry routed,
   * "routed": the gateway publishes that routing made.
   */
  observe?: MeasurementObserver;
}

export interface WorkerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const MAX_CACHED_CONVERSATIONS = 10_000;

export class FanoutWorker {
  private running = false;
  private loop: Promise<void> | null = null;
  private readonly members = new Map<string, { ids: string[]; loadedAt: number; membersSeq?: number }>();
  private lastClaim = 0;
  private readonly observe: MeasurementObserver;

  constructor(
    private readonly config: FanoutWorkerConfig,
    private readonly queue: FanoutQueue,
    private readonly router: DeliveryRouter,
    private readonly source: MemberSource,
    private readonly log: WorkerLogger,
  ) {
    this.observe = config.observe ?? unmeasured;
  }

  async start(): Promise<void> {
    await this.queue.ensureGroup();
    this.running = true;
    this.loop = this.run();
    this.log.info({ consumer: this.config.consumer }, 'fan-out worker started');
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        const now = Date.now();
        if (now - this.lastClaim >= this.config.claimIdleMs / 2) {
          this.lastClaim = now;
          const claimed = await this.queue.claimStale(this.config.consumer, this.config.claimIdleMs, this.config.batchSize);
          if (claimed.length > 0) this.log.warn({ count: claimed.length }, 'took over fan-out entries of a dead worker');
          await this.process(claimed);
        }
        await this.process(await this.queue.read(this.config.consumer, this.config.batchSize, this.config.blockMs));
        failures = 0;
      } catch (err) {
        if (!this.running) break;
        failures++;
        const message = (err as Error).message ?? String(err);
        if (failures === 1) this.log.warn({ err: message }, 'fan-out read failed; retrying');
        // The stream and its group vanish with a Redis restart that lost its data.
        if (message.includes('NOGROUP')) await this.queue.ensureGroup().catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * failures, 1000)));
      }
    }
  }

  private async process(entries: readonly FanoutEntry[]): Promise<void> {
    if (entries.length === 0) return;
    for (const entry of entries) {
      const { delivery } = entry;
      if (delivery.conversationId) {
        const recipients =
          delivery.recipients ??
          (delivery.membersSeq === undefined ? await this.membersOf(delivery.conversationId) : await this.membersAtVersion(delivery, delivery.membersSeq));
        const routed = await this.router.route({ ...delivery, recipients });
        this.observe('routed', routed);
      }
      this.observe('lag', Math.max(0, Date.now() - entry.queuedAt) / 1000);
    }
    await this.queue.ack(entries.map((e) => e.id));
  }

  private async membersOf(conversationId: string): Promise<string[]> {
    const cached = this.members.get(conversationId);
    if (cached && cached.membersSeq === undefined && Date.now() - cached.loadedAt < this.config.memberCacheMs) return cached.ids;
    const ids = await this.source.getMemberIds(conversationId);
    this.remember(conversationId, { ids, loadedAt: Date.now() });
    return ids;
  }

  /** The members of the version the message's commit checked. */
  private async membersAtVersion(delivery: FanoutDelivery, membersSeq: number): Promise<string[]> {
    const { conversationId, seqId } = delivery;
    const cached = this.members.get(conversationId);
    if (cached?.membersSeq === membersSeq) return cached.ids;
    const now = await this.source.getMembersAt(conversationId);
    if (!now) return [];
    this.remember(conversationId, { ids: now.ids, loadedAt: Date.now(), membersSeq: now.membersSeq });
    // Equal: the set is the message's. Older (cannot be after the commit): the best there is.
    if (now.membersSeq <= membersSeq) return now.ids;
    // The set changed after the message: undo those changes, newest first.
    const changes = await this.source.systemMessagesBetween(conversationId, seqId, now.membersSeq, MAX_CHANGES_UNDONE);
    if (changes.length === MAX_CHANGES_UNDONE) {
      this.log.warn({ conversationId }, 'too many membership changes since a queued message; routed to the members now');
      return now.ids;
    }
    const members = new Set(now.ids);
    for (const change of changes.reverse()) {
      const event = parseSystemContent(change.content);
      if (event?.event === 'members-added') for (const user of event.users) members.delete(user.userId);
      else if (event?.event === 'member-removed') members.add(event.user.userId);
      else if (event?.event === 'member-left') members.add(change.senderId);
      // A disband names nobody: the group is gone for all, so the message is not delivered live
      // to its former members (none of whom can read the group any more).
    }
    return [...members];
  }

  private remember(conversationId: string, entry: { ids: string[]; loadedAt: number; membersSeq?: number }): void {
    this.members.delete(conversationId);
    if (this.members.size >= MAX_CACHED_CONVERSATIONS) this.members.delete(this.members.keys().next().value!);
    this.members.set(conversationId, entry);
  }
}
