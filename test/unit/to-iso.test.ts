import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { toIso } from '../../src/repo/shared.js';

describe('toIso', () => {
  it('matches Date#toISOString at the edges of seconds, days and the representable range', () => {
    const times = [0, 1, 9, 10, 99, 100, 999, 1000, 1_700_000_000_000, 1_700_000_000_005, 1_700_000_000_050, 1_700_000_000_999];
    times.push(253_402_300_799_999, 253_402_300_800_000, 1_700_000_000_000.5);
    for (const t of times) assert.equal(toIso(t), new Date(t).toISOString(), `at ${t}`);
  });

  it('matches Date#toISOString for times in any order, so its per-second cache never leaks', () => {
    let seed = 42;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 20_000; i++) {
      const t = i % 3 === 0 ? 1_700_000_000_000 + Math.floor(next() * 3_000) : Math.floor(next() * 4e12);
      assert.equal(toIso(t), new Date(t).toISOString());
    }
  });
});
