/**
 * Per-conversation reorder stage for a gateway fed by several publishers. With several logic
 * instances (and fan-out workers) committing one conversation, deliveries can reach a gateway
 * out of seqId order, or twice (a fan-out batch retried after a worker died). Every connection
 * must see a conversation in seqId order, once, so this stage:
 * - passes the next expected seqId straight through, plus anything held that now follows it;
 * - holds a delivery that arrives early, until the gap fills or `waitMs` passes (the missing
 *   message was published to no one here, or lost with a dead process; clients catch up
 *   with `afterSeq`), then releases what it holds in order;
 * - drops anything at or below the last released seqId (duplicates, stragglers).
 * Memory is bounded: at most `maxConversations` states and `maxHeld` held deliveries each.
 */
import { unobserved, type OperationObserver } from '../ports/observer.js';
import type { Delivery } from './index.js';

export interface OrderedDeliveryOptions {
  /** How long an early delivery waits for the gap before it is released anyway. */
  waitMs: number;
  /**
   * A conversation seen for the first time (here, or since its idle reset) has no known last
   * seqId: its first delivery (unless seqId 1) is held this long so that an earlier one still
   * in flight from another publisher is not mistaken for a repeat.
   */
  firstWaitMs: number;
  /** A conversation silent this long starts fresh (no wait for seqIds this gateway never got). */
  idleResetMs: number;
  maxConversations: number;
  maxHeld: number;
}

export const DEFAULT_ORDERED_DELIVERY: OrderedDeliveryOptions = {
  waitMs: 300,
  firstWaitMs: 25,
  idleResetMs: 10_000,
  maxConversations: 100_000,
  maxHeld: 1_000,
};

interface ConversationState {
  last: number;
  /** No baseline yet: everything is held until the first flush, lower seqIds lower the baseline. */
  fresh: boolean;
  held: Map<number, Delivery>;
  timer: NodeJS.Timeout | null;
  touchedAt: number;
}

export class OrderedDelivery {
  private readonly states = new Map<string, ConversationState>();

  constructor(
    private readonly deliver: (delivery: Delivery) => void,
    private readonly options: OrderedDeliveryOptions = DEFAULT_ORDERED_DELIVERY,
    private readonly now: () => number = Date.now,
    /** Told of each delivery dropped because its seqId was already released (`deliver`, "duplicate") and each gap given up on after `waitMs` (`reorder`, "gap-skipped"). */
    private readonly observe: OperationObserver = unobserved,
  ) {}

  push(delivery: Delivery): void {
    const now = this.now();
    let state = this.states.get(delivery.conversationId);
    if (state && state.held.size === 0 && now - state.touchedAt > this.options.idleResetMs) {
      this.states.delete(delivery.conversationId);
      state = undefined;
    }
    if (!state) {
      state = { last: delivery.seqId - 1, fresh: delivery.seqId > 1, held: new Map(), timer: null, touchedAt: now };
      this.evictIfFull();
    } else {
      // Re-insert: Map order is then least-recently-used first, for eviction.
      this.states.delete(delivery.conversationId);
    }
    this.states.set(delivery.conversationId, state);
    state.touchedAt = now;

    if (state.fresh) {
      if (state.held.has(delivery.seqId)) return this.dropped();
      state.last = Math.min(state.last, delivery.seqId - 1);
      state.held.set(delivery.seqId, delivery);
      if (state.held.size > this.options.maxHeld) return this.flush(state);
      state.timer ??= setTimeout(() => this.flush(state), this.options.firstWaitMs);
      state.timer.unref?.();
      return;
    }
    if (delivery.seqId <= state.last || state.held.has(delivery.seqId)) return this.dropped();
    if (delivery.seqId === state.last + 1) {
      this.release(state, delivery);
      this.releaseConsecutive(state);
      return;
    }
    state.held.set(delivery.seqId, delivery);
    if (state.held.size > this.options.maxHeld) return this.flush(state);
    state.timer ??= setTimeout(() => this.flush(state), this.options.waitMs);
    state.timer.unref?.();
  }

  /** Releases everything held (used on shutdown). */
  close(): void {
    for (const state of this.states.values()) this.flush(state);
    this.states.clear();
  }

  get trackedConversations(): number {
    return this.states.size;
  }

  private dropped(): void {
    this.observe('deliver', 0, 'duplicate');
  }

  private release(state: ConversationState, delivery: Delivery): void {
    state.last = delivery.seqId;
    this.deliver(delivery);
  }

  private releaseConsecutive(state: ConversationState): void {
    for (let next = state.held.get(state.last + 1); next; next = state.held.get(state.last + 1)) {
      state.held.delete(next.seqId);
      this.release(state, next);
    }
    if (state.held.size === 0 && state.timer) {
      clearTimeout(state.timer);
      state.timer = null;
    }
  }

  /** Gives up on the gap: releases what is held, in order. */
  private flush(state: ConversationState): void {
    if (state.timer) clearTimeout(state.timer);
    state.timer = null;
    const wasFresh = state.fresh;
    state.fresh = false;
    if (state.held.size === 0) return;
    const seqs = [...state.held.keys()].sort((a, b) => a - b);
    const contiguous = seqs.every((seq, i) => seq === state.last + 1 + i);
    if (!wasFresh || !contiguous) {
      this.observe('reorder', 0, 'gap-skipped');
    }
    for (const seq of seqs) {
      const delivery = state.held.get(seq)!;
      state.held.delete(seq);
      this.release(state, delivery);
    }
  }

  private evictIfFull(): void {
    if (this.states.size < this.options.maxConversations) return;
    const [oldestId, oldest] = this.states.entries().next().value as [string, ConversationState];
    this.flush(oldest);
    this.states.delete(oldestId);
  }
}
