/** System message content: every event round-trips, and anything else reads as null, never as an error. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeSystemContent, GROUP_ROLES, parseSystemContent, type SystemContent } from '../../src/protocol/index.js';

const ann = { userId: '1', username: 'ann' };
const ben = { userId: '2', username: 'ben' };

// Plain objects, as JSON.parse returns (fast-check's records have a null prototype).
const plain = <T extends object>(arb: fc.Arbitrary<T>): fc.Arbitrary<T> => arb.map((value) => ({ ...value }));

const userRef = plain(fc.record({ userId: fc.stringMatching(/^[1-9][0-9]{0,8}$/), username: fc.string({ minLength: 1, maxLength: 32 }) }));
const content: fc.Arbitrary<SystemContent> = fc.oneof(
  plain(fc.record({ event: fc.constant('members-added' as const), users: fc.array(userRef, { minLength: 1, maxLength: 5 }) })),
  plain(fc.record({ event: fc.constant('member-removed' as const), user: userRef })),
  fc.constant({ event: 'member-left' as const }),
  plain(fc.record({ event: fc.constant('role-changed' as const), user: userRef, role: fc.constantFrom(...GROUP_ROLES) })),
  plain(fc.record({ event: fc.constant('owner-transferred' as const), user: userRef })),
  plain(fc.record({ event: fc.constant('group-updated' as const), name: fc.string(), avatar: fc.string(), description: fc.string() }, { requiredKeys: ['event'] })),
  fc.constant({ event: 'group-disbanded' as const }),
);

describe('system message content', () => {
  it('each event reads back as written', () => {
    const all: SystemContent[] = [
      { event: 'members-added', users: [ben] },
      { event: 'member-removed', user: ben },
      { event: 'member-left' },
      { event: 'role-changed', user: ben, role: 'admin' },
      { event: 'owner-transferred', user: ann },
      { event: 'group-updated', name: 'Book club II' },
      { event: 'group-disbanded' },
    ];
    for (const c of all) assert.deepEqual(parseSystemContent(encodeSystemContent(c)), c);
    assert.equal(encodeSystemContent({ event: 'member-removed', user: ben }), '{"event":"member-removed","user":{"userId":"2","username":"ben"}}');
  });

  it('any valid content round-trips (property)', () => {
    fc.assert(fc.property(content, (c) => assert.deepEqual(parseSystemContent(encodeSystemContent(c)), c)), { seed: 13, numRuns: 300 });
  });

  it('reads what it does not know as null: not JSON, an unknown event, a wrong shape', () => {
    for (const text of ['', 'Ann added Ben', '[]', 'null', '{"event":"message-pinned"}', '{"event":"members-added","users":[]}', '{"event":"member-removed","user":{"userId":2}}', '{"event":"role-changed","user":{"userId":"2","username":"ben"},"role":"king"}', '{"event":"group-updated","name":7}']) {
      assert.equal(parseSystemContent(text), null, text);
    }
  });

  it('never throws, whatever the text (property)', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.json()), (text) => void parseSystemContent(text)), { seed: 13, numRuns: 500 });
  });
});
