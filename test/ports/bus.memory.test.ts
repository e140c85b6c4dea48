/** The bus interface suite against the in-process bus of the embedded default. */
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { busSuite } from './bus.suite.js';

busSuite('MemoryBus', async () => {
  const bus = new MemoryBus();
  return { gateway: async () => bus, publisher: async () => bus, cleanup: () => bus.close() };
});
