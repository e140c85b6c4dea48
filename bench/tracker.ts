/**
 * Accounts for every message the load generator sends: when it was sent, whether it was acked,
 * how many of the other members' connections received it, and how long each step took.
 * The send time and a key travel inside the content, so a delivery needs no lookup by server id.
 */
import { Samples, type Percentiles } from './stats.js';
import type { LatencySummary } from './types.js';

interface Sent {
  at: number;
  expected: number;
  delivered: number;
  state: 'pending' | 'acked' | 'error';
}

export class MessageTracker {
  private readonly sent = new Map<string, Sent>();
  private readonly padding: string;
  windowStart = Number.POSITIVE_INFINITY;
  windowEnd = Number.POSITIVE_INFINITY;
  sentCount = 0;
  ackedCount = 0;
  errorCount = 0;
  deliveredCount = 0;
  acksInWindow = 0;
  deliveriesInWindow = 0;
  /** Deliveries of a key the tracker never sent, or more deliveries than members: both are bugs. */
  unexpectedDeliveries = 0;
  readonly ackLatency = new Samples();
  readonly deliveryLatency = new Samples();
  private outstanding = 0;
  private settledWaiters: Array<() => void> = [];

  constructor(contentChars: number) {
    this.padding = 'x'.repeat(contentChars);
  }

  /** Records a send and returns its content. `expected` is how many connections should receive it. */
  content(key: string, expected: number, now: number): string {
    this.sent.set(key, { at: now, expected, delivered: 0, state: 'pending' });
    this.sentCount++;
    this.outstanding += 1 + expected;
    const head = `${key}|${now.toFixed(3)}|`;
    return head + this.padding.slice(head.length);
  }

  private inWindow(t: number): boolean {
    return t >= this.windowStart && t < this.windowEnd;
  }

  ack(key: string, now: number): void {
    const entry = this.sent.get(key);
    if (!entry || entry.state !== 'pending') return;
    entry.state = 'acked';
    this.ackedCount++;
    if (this.inWindow(now)) this.acksInWindow++;
    if (this.inWindow(entry.at)) this.ackLatency.add(now - entry.at);
    this.settle(1);
  }

  error(key: string): void {
    const entry = this.sent.get(key);
    if (!entry || entry.state !== 'pending') return;
    entry.state = 'error';
    this.errorCount++;
    this.settle(1 + entry.expected);
  }

  delivery(content: string, now: number): void {
    const end = content.indexOf('|');
    const entry = this.sent.get(content.slice(0, end));
    if (!entry || entry.delivered >= entry.expected) {
      this.unexpectedDeliveries++;
      return;
    }
    entry.delivered++;
    this.deliveredCount++;
    if (this.inWindow(now)) this.deliveriesInWindow++;
    if (this.inWindow(entry.at)) this.deliveryLatency.add(now - entry.at);
    this.settle(1);
  }

  private settle(n: number): void {
    this.outstanding -= n;
    if (this.outstanding <= 0) for (const resolve of this.settledWaiters.splice(0)) resolve();
  }

  /** Resolves when every send is acked (or refused) and every delivery arrived, or at the timeout. */
  settled(timeoutMs: number): Promise<void> {
    if (this.outstanding <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.settledWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Sent and never answered; acked and not received by every other member's connection. */
  losses(): { unacked: number; undelivered: number } {
    let unacked = 0;
    let undelivered = 0;
    for (const entry of this.sent.values()) {
      if (entry.state === 'pending') unacked++;
      else if (entry.state === 'acked' && entry.delivered < entry.expected) undelivered++;
    }
    return { unacked, undelivered };
  }
}

export function summary(p: Percentiles): LatencySummary {
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return { p50: round(p.p50), p90: round(p.p90), p99: round(p.p99), max: round(p.max) };
}
