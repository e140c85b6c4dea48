/**
 * The fan-out queue port: a durable queue between the publisher of a large conversation's
 * messages (the bus, on logic) and the `task` workers that look up its members and route each
 * delivery to the gateways holding them. Workers read it as one consumer group: every entry
 * reaches one worker, and an entry stays pending until that worker acknowledges it, so a worker
 * that dies mid-batch leaves its entries for a live one to claim.
 * `RedisFanoutQueue` (a Redis Stream) implements it.
 */
import type { MessageDelivery } from './index.js';

/**
 * A committed message of a large conversation, without recipients: the worker looks them up.
 * A group change's system message (with frames attached) carries its recipients: they include
 * members it removed, whom no member list read later names. It still takes the queue, so it
 * stays in order with the conversation's other messages.
 */
export type FanoutDelivery = Omit<MessageDelivery, 'recipients'> & { recipients?: readonly string[] };

/** A queued delivery as a worker reads it. */
export interface FanoutEntry {
  id: string;
  /** Milliseconds since the epoch when it was queued. */
  queuedAt: number;
  delivery: FanoutDelivery;
}

/** The publisher's side: what the bus needs. */
export interface FanoutPublisher {
  enqueue(delivery: FanoutDelivery): Promise<void>;
}

/** Both sides, as the composition root holds it; workers use the consumer half. */
export interface FanoutQueue extends FanoutPublisher {
  /** Creates the consumer group (and the queue) unless it exists. */
  ensureGroup(): Promise<void>;
  /** New entries for `consumer`, waiting up to `blockMs` when there are none. */
  read(consumer: string, count: number, blockMs: number): Promise<FanoutEntry[]>;
  /** Takes over entries another consumer read but did not acknowledge within `minIdleMs` (it died). */
  claimStale(consumer: string, minIdleMs: number, count: number): Promise<FanoutEntry[]>;
  ack(ids: readonly string[]): Promise<void>;
  /** Entries read by some consumer and not yet acknowledged. */
  pending(): Promise<number>;
  close(): Promise<void>;
}

/** Routes one delivery to the gateways that hold its recipients (the Redis bus does). */
export interface DeliveryRouter {
  /** Resolves with the number of gateways it was published to. */
  route(delivery: MessageDelivery): Promise<number>;
}
