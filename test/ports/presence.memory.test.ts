/** The presence store suite against the in-process store of the embedded default. */
import { MemoryPresence } from '../../src/presence/memory-presence.js';
import { GRACE_MS, presenceSuite } from './presence.suite.js';

presenceSuite('MemoryPresence', async (clock) => {
  // One process: every gateway and claimer is the one store.
  const store = new MemoryPresence({ graceMs: GRACE_MS, clock: clock.now });
  return { gateway: () => store, claimer: () => store, cleanup: () => store.close() };
});
