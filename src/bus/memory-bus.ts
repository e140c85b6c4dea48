/** The in-process bus of the embedded default: publish calls the subscribers directly, in order. */
import type { Bus, BusEvent, BusHandler } from './index.js';

export class MemoryBus implements Bus {
  private readonly handlers: BusHandler[] = [];

  async publish(event: BusEvent): Promise<void> {
    for (const handler of this.handlers) handler(event);
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
