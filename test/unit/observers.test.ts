/** What the composition root's observers make of the ports' reports. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '../../src/metrics/metrics.js';
import { observeFanoutWorker, observeRepo, observeRpcClient } from '../../src/metrics/observers.js';

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

it("a gateway's gRPC call is timed by method and the code it ended with, OK when it succeeded", async () => {
  const metrics = new Metrics('test', 'unit');
  const observe = observeRpcClient(metrics);
  observe('AuthService.Login', 0.003, 'ok');
  observe('AuthService.Login', 0.001, 'INVALID_CREDENTIALS');
  observe('MessageService.SendMessage', 0.2, 'SERVICE_UNAVAILABLE');
  const text = await metrics.registry.metrics();
  assert.match(text, /^gochat_grpc_client_duration_seconds_count\{[^}]*method="AuthService\.Login",code="OK"[^}]*\} 1$/m);
  assert.match(text, /^gochat_grpc_client_duration_seconds_count\{[^}]*method="AuthService\.Login",code="INVALID_CREDENTIALS"[^}]*\} 1$/m);
  assert.match(text, /^gochat_grpc_client_duration_seconds_sum\{[^}]*method="MessageService\.SendMessage",code="SERVICE_UNAVAILABLE"[^}]*\} 0\.2$/m);
  assert.doesNotMatch(text, /^gochat_grpc_client_duration_seconds_count\{[^}]*code="ok"/m);
});

it("the fan-out worker's lag is a histogram of seconds, its routings a count of gateway publishes", async () => {
  const metrics = new Metrics('test', 'unit');
  const observe = observeFanoutWorker(metrics);
  observe('lag', 0.02);
  observe('routed', 3);
  observe('lag', 0.5);
  observe('routed', 2);
  observe('something new', 7);
  const text = await metrics.registry.metrics();
  assert.match(text, /^gochat_fanout_lag_seconds_count\{[^}]*\} 2$/m);
  assert.match(text, /^gochat_fanout_lag_seconds_sum\{[^}]*\} 0\.52$/m);
  assert.match(text, /^gochat_fanout_gateway_publishes_total\{[^}]*\} 5$/m);
});
