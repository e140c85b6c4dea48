/** The bus interface suite against the in-process bus of the embedded default. */
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { busSuite } from './bus.suite.js';

busSuite('MemoryBus', async () => {
  const bus = new MemoryBus();
  const observed: MemoryBus[] = [];
  return {
    gateway: async () => bus,
    publisher: async () => bus,
    observed: async (_id, observe) => {
      const one = new MemoryBus({ observe });
      observed.push(one);
      return { gateway: one, publisher: one };
    },
    timesPublishes: false,
    cleanup: async () => {
      await Promise.all([bus, ...observed].map((b) => b.close()));
    },
  };
});
