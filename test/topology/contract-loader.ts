/**
 * Module resolve hook for test/topology/contract.test.ts: whoever imports
 * test/helpers/server.js gets test/topology/cluster-as-server.js instead.
 */
const HELPER = '/dist/test/helpers/server.js';
const REPLACEMENT = new URL('./cluster-as-server.js', import.meta.url).href;

type Resolved = { url: string; shortCircuit?: boolean };
type NextResolve = (specifier: string, context: unknown) => Promise<Resolved>;

export async function resolve(specifier: string, context: unknown, nextResolve: NextResolve): Promise<Resolved> {
  const resolved = await nextResolve(specifier, context);
  if (resolved.url.endsWith(HELPER)) return { url: REPLACEMENT, shortCircuit: true };
  return resolved;
}
