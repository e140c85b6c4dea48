/**
 * Presence as users see it (issue 15): a user is online while any of its devices holds a socket
 * on any gateway; going offline is confirmed only after a grace period (the original GoChat waits
 * 30 s), so a reload or a network blip shows nothing to anyone.
 *
 * Three sides use the store:
 * - gateways report a user's first socket opening and last socket closing on that gateway
 *   (`connected`, `disconnected`) and keep a lease, so a gateway that dies without a word has its
 *   users taken offline once the lease runs out;
 * - the presence notifier (task role) claims the changes that are due (`claimChanges`), each
 *   claimed by exactly one claimer, and tells the people allowed to see them;
 * - logic answers status queries (`onlineOf`).
 *
 * `MemoryPresence` serves one process; `RedisPresence` a cluster. Both pass
 * test/ports/presence.suite.ts. Times are milliseconds from the injected clock.
 */

/** A change others may be told of: the user came online, or its offline was confirmed. */
export interface PresenceChange {
  userId: string;
  online: boolean;
  /** When the user's last connection closed (an offline change only). */
  lastSeenAt?: number;
}

/** What a gateway reports. Fire-and-forget: a failure is repaired by the next announcement. */
export interface GatewayPresence {
  /** The user's first socket on this gateway opened. */
  connected(userId: string): void;
  /** The user's last socket on this gateway closed. */
  disconnected(userId: string): void;
}

export interface PresenceStore extends GatewayPresence {
  /**
   * Claims at most `limit` due changes: users who came online since they were last claimed, and
   * users whose last connection closed `graceMs` ago or more (or whose gateway's lease ran out)
   * and who did not come back. A user who left and came back within the grace period, or came
   * and left between two claims, yields nothing.
   */
  claimChanges(limit: number): Promise<PresenceChange[]>;
  /** Which of `userIds` are online (a user inside its grace period still is). */
  onlineOf(userIds: readonly string[]): Promise<Set<string>>;
  /** Stops the lease; a gateway's users are reported disconnected first, so they get the grace period. */
  close(): Promise<void>;
}

export interface PresenceOptions {
  /** How long after its last connection closed a user is confirmed offline. */
  graceMs: number;
  clock?: () => number;
}
