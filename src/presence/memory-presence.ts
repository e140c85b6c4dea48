/** Presence of the embedded default: one process holds every socket, so a count per user is the truth. */
import type { PresenceChange, PresenceOptions, PresenceStore } from './index.js';

export class MemoryPresence implements PresenceStore {
  private readonly graceMs: number;
  private readonly clock: () => number;
  /** Gateways (here: handles) holding each connected user's sockets. */
  private readonly connections = new Map<string, number>();
  /** What others were last told: the users shown online. */
  private readonly shownOnline = new Set<string>();
  /** When each user with a pending change is next looked at (Map order is not time order). */
  private readonly due = new Map<string, number>();
  /** When each user's last connection closed, until its offline is claimed. */
  private readonly leftAt = new Map<string, number>();

  constructor(options: PresenceOptions) {
    this.graceMs = options.graceMs;
    this.clock = options.clock ?? Date.now;
  }

  connected(userId: string): void {
    this.connections.set(userId, (this.connections.get(userId) ?? 0) + 1);
    this.leftAt.delete(userId);
    this.due.set(userId, this.clock());
  }

  disconnected(userId: string): void {
    const held = this.connections.get(userId);
    if (held === undefined) return;
    const left = held - 1;
    if (left > 0) return void this.connections.set(userId, left);
    this.connections.delete(userId);
    const now = this.clock();
    this.leftAt.set(userId, now);
    this.due.set(userId, now + this.graceMs);
  }

  async claimChanges(limit: number): Promise<PresenceChange[]> {
    const now = this.clock();
    const changes: PresenceChange[] = [];
    for (const [userId, at] of this.due) {
      if (changes.length >= limit) break;
      if (at > now) continue;
      this.due.delete(userId);
      const online = this.connections.has(userId);
      if (online === this.shownOnline.has(userId)) continue;
      if (online) {
        this.shownOnline.add(userId);
        changes.push({ userId, online: true });
      } else {
        this.shownOnline.delete(userId);
        const lastSeenAt = this.leftAt.get(userId) ?? now;
        this.leftAt.delete(userId);
        changes.push({ userId, online: false, lastSeenAt });
      }
    }
    return changes;
  }

  async onlineOf(userIds: readonly string[]): Promise<Set<string>> {
    return new Set(userIds.filter((id) => this.shownOnline.has(id) || this.connections.has(id)));
  }

  async close(): Promise<void> {}
}
