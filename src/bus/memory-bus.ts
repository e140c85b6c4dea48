/** The in-process bus of the embedded default: publish calls the subscribers directly, in order. */
import { unobserved, type OperationObserver } from '../ports/observer.js';
import type { Bus, BusEvent, BusHandler } from './index.js';

export interface MemoryBusOptions {
  /** Reports `publish` (seconds, including the subscribers' work) and each delivery handed to a subscriber (`deliver`, "ok"). */
  observe?: OperationObserver;
}

export class MemoryBus implements Bus {
  private readonly handlers: BusHandler[] = [];
  private readonly observe: OperationObserver;

  constructor(options: MemoryBusOptions = {}) {
    this.observe = options.observe ?? unobserved;
  }

  async publish(event: BusEvent): Promise<void> {
    const started = performance.now();
    const isDelivery = event.kind === 'message' || event.kind === 'broadcast';
    let outcome = 'ok';
    try {
      for (const handler of this.handlers) {
        handler(event);
        if (isDelivery) this.observe('deliver', 0, 'ok');
      }
    } catch (err) {
      outcome = 'error';
      throw err;
    } finally {
      this.observe('publish', (performance.now() - started) / 1000, outcome);
    }
  }

  async subscribe(handler: BusHandler): Promise<void> {
    this.handlers.push(handler);
  }

  userOnline(_userId: string): void {}

  userOffline(_userId: string): void {}

  async close(): Promise<void> {
    this.handlers.length = 0;
  }
}
