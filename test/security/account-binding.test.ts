/**
 * Tokens are bound to the account they were issued to, not only to its numeric id: a database
 * recreated with the same secret hands the same id to someone else, and the old token must not
 * open that person's account. A validly signed token for a user that does not exist is a 401.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthResult, User } from '../../src/protocol/index.js';
import { Api } from '../helpers/client.js';
import { startServer } from '../helpers/server.js';
import { signToken, TEST_JWT_SECRET } from './forge.js';
import { tryUpgrade } from './wire.js';

const env = { GOCHAT_JWT_SECRET: TEST_JWT_SECRET };

describe('tokens bound to the account', () => {
  it('refuses a token from before the database was recreated, though its user id now exists again', async () => {
    let stale: AuthResult;
    {
      await using first = await startServer({ env });
      stale = await new Api(first.baseUrl).user('alice');
    }
    await using second = await startServer({ env });
    const api = new Api(second.baseUrl);
    const mallory = await api.user('mallory');
    assert.equal(mallory.user.userId, stale.user.userId, 'the new database handed out the same id');
    const res = await api.get('/api/users/info', stale.token);
    assert.deepEqual([res.status, res.body.code], [401, 'UNAUTHORIZED']);
    assert.equal((await tryUpgrade(second.wsUrl, stale.token)).status, 401);
    assert.equal((await api.get<User>('/api/users/info', mallory.token)).body.data.username, mallory.user.username);
  });

  it('answers a validly signed token for a user that does not exist with 401, not 500', async () => {
    await using server = await startServer({ env });
    const api = new Api(server.baseUrl);
    const ghost = await signToken({ userId: '987654', username: 'ghost', isGuest: false });
    const res = await api.get('/api/users/info', ghost);
    assert.deepEqual([res.status, res.body.code], [401, 'UNAUTHORIZED']);
  });

  it('refuses a correctly signed token whose account key is another account\u2019s, or missing', async () => {
    await using server = await startServer({ env });
    const api = new Api(server.baseUrl);
    const alice = await api.user('alice');
    const bob = await api.user('bob');
    const bobKey = JSON.parse(Buffer.from(bob.token.split('.')[1]!, 'base64url').toString()) as { acc: string };
    // Signed with the server's own secret: the signature is fine, the account key alone decides.
    const withBobsKey = await signToken(alice.user, { claims: { acc: bobKey.acc } });
    assert.equal((await api.get('/api/users/info', withBobsKey)).status, 401);
    const withoutKey = await signToken(alice.user);
    assert.equal((await api.get('/api/users/info', withoutKey)).status, 401, 'a token without the account key is refused');
    assert.equal((await api.get('/api/users/info', alice.token)).status, 200);
  });
});
