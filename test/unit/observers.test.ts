/** What the composition root's observers make of the ports' reports. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '../../src/metrics/metrics.js';
import { observeRepo } from '../../src/metrics/observers.js';

it('a storage call is timed by operation, and a failed one counted by its outcome', async () => {
  const metrics = new Metrics('test', 'unit');
  const observe = observeRepo(metrics);
  observe('appendMessages', 0.002, 'ok');
  observe('appendMessages', 0.004, 'SERVICE_UNAVAILABLE');
  const text = await metrics.registry.metrics();
  assert.match(text, /^gochat_db_duration_seconds_count\{[^}]*operation="appendMessages"[^}]*\} 2$/m);
  assert.match(text, /^gochat_db_failures_total\{[^}]*operation="appendMessages",outcome="SERVICE_UNAVAILABLE"[^}]*\} 1$/m);
  assert.doesNotMatch(text, /^gochat_db_failures_total\{[^}]*outcome="ok"/m);
});
