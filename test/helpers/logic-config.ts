/**
 * A LogicConfig for tests and micro-benchmarks that build `Logic` in-process: every abuse limit out
 * of the way, cheap password hashing, no commit pacing. Pass what the test is about as `overrides`.
 */
import type { LogicConfig } from '../../src/logic/logic.js';
import { TEST_SCRYPT_COST } from './limits.js';

const unlimited = { limit: 1_000_000, windowMs: 60_000 };

export function unlimitedLogicConfig(overrides: Partial<LogicConfig> = {}): LogicConfig {
  return {
    jwtSecret: 'in-process-test-secret-0123456789abcdefghij',
    tokenTtlSeconds: 3600,
    scryptCost: TEST_SCRYPT_COST,
    maxContentChars: 4000,
    worldRoom: true,
    maxGroupMembers: 2000,
    commitWindowMs: 0,
    typingMaxMembers: 100,
    messageActions: { recallWindowSeconds: 120, editWindowSeconds: 0, maxReactionsPerMessage: 20 },
    limits: {
      sendPerUser: unlimited,
      sendPerGuest: unlimited,
      sendBytesPerUser: unlimited,
      sendBytesPerGuest: unlimited,
      loginPerUsername: unlimited,
      loginPerIp: unlimited,
      registerPerIp: unlimited,
      guestPerIp: unlimited,
      groupsPerUser: unlimited,
      membersAddedPerUser: unlimited,
      lookupsPerUser: unlimited,
      lookupsPerGuest: unlimited,
    },
    kdf: { register: { concurrency: 2, maxQueued: 1000 }, login: { concurrency: 2, maxQueued: 1000 } },
    ...overrides,
  };
}
