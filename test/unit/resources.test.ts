/** The resource stack of the composition root: one list for a failed start and for the shutdown. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ResourceStack, StopError } from '../../src/app/resources.js';

/** A stack whose stops record their names in `stopped`. */
function recording() {
  const stopped: string[] = [];
  const stack = new ResourceStack();
  const add = (name: string) => stack.add(name, () => name, (value) => void stopped.push(value));
  return { stack, stopped, add };
}

describe('ResourceStack', () => {
  it('stops its resources last started first', async () => {
    const { stack, stopped, add } = recording();
    await add('store');
    await add('bus');
    await add('edge');
    await stack.stop();
    assert.deepEqual(stopped, ['edge', 'bus', 'store']);
  });

  it('hands each stop what its start returned, and add resolves with it', async () => {
    const stack = new ResourceStack();
    let closed: { port: number } | null = null;
    const server = await stack.add('server', async () => ({ port: 8080 }), (s) => void (closed = s));
    assert.deepEqual(server, { port: 8080 });
    await stack.stop();
    assert.equal(closed, server);
  });

  it('after a start that fails, stops only what had started, in reverse', async () => {
    const { stack, stopped, add } = recording();
    await add('store');
    await add('bus');
    let failedStopped = false;
    const failure = new Error('EADDRINUSE');
    await assert.rejects(
      stack.add(
        'edge',
        () => Promise.reject(failure),
        () => void (failedStopped = true),
      ),
      (err) => err === failure,
    );
    await stack.stop();
    assert.deepEqual(stopped, ['bus', 'store']);
    assert.equal(failedStopped, false, 'the resource that failed to start is not stopped');
  });

  it('runs every stop although one throws, then reports that one by name', async () => {
    const { stack, stopped, add } = recording();
    await add('store');
    const broken = new Error('socket hang up');
    await stack.add(
      'bus',
      () => 'bus',
      () => {
        throw broken;
      },
    );
    await stack.add('queue', () => 'queue', () => Promise.reject(new Error('gone')));
    await add('edge');
    const err = await stack.stop().then(
      () => assert.fail('stop resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof StopError);
    assert.deepEqual(stopped, ['edge', 'store']);
    assert.deepEqual(
      err.failures.map((f) => f.name),
      ['queue', 'bus'],
    );
    assert.equal(err.errors[1], broken);
    assert.match(err.message, /queue, bus/);
  });

  it('stops each resource once, however often stop is called', async () => {
    const { stack, stopped, add } = recording();
    await add('store');
    await add('edge');
    const first = stack.stop();
    const second = stack.stop();
    assert.equal(first, second);
    await first;
    await stack.stop();
    assert.deepEqual(stopped, ['edge', 'store']);
  });

  it('waits for each stop before the next one', async () => {
    const order: string[] = [];
    const stack = new ResourceStack();
    await stack.add('store', () => 'store', () => void order.push('store closed'));
    await stack.add(
      'edge',
      () => 'edge',
      async () => {
        await new Promise((resolve) => setImmediate(resolve));
        order.push('edge drained');
      },
    );
    await stack.stop();
    assert.deepEqual(order, ['edge drained', 'store closed']);
  });

  it('refuses to start anything once it is stopping', async () => {
    const { stack, add } = recording();
    await add('store');
    void stack.stop();
    let started = false;
    await assert.rejects(stack.add('late', () => void (started = true), () => {}), /cannot start late/);
    assert.equal(started, false);
  });
});
