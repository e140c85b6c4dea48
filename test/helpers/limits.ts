/**
 * The server's abuse limits are sized for a public server; a test suite registers hundreds of
 * users, opens hundreds of sockets and sends bursts from 127.0.0.1 within seconds. Test servers
 * start with these raised (a test of a limit sets its own value, which wins). The defaults
 * themselves are exercised by the attack scenarios of `npm run bench`.
 */
const HIGH = '100000000';

export const RAISED_LIMITS_ENV: Readonly<Record<string, string>> = {
  GOCHAT_RATE_SEND_PER_USER: HIGH,
  GOCHAT_RATE_SEND_PER_GUEST: HIGH,
  GOCHAT_RATE_SEND_BYTES_PER_USER: HIGH,
  GOCHAT_RATE_SEND_BYTES_PER_GUEST: HIGH,
  GOCHAT_RATE_REGISTER_PER_IP: HIGH,
  GOCHAT_RATE_GUEST_PER_IP: HIGH,
  GOCHAT_RATE_LOGIN_PER_IP: HIGH,
  GOCHAT_RATE_LOGIN_PER_USERNAME: HIGH,
  GOCHAT_RATE_GROUPS_PER_USER: HIGH,
  GOCHAT_RATE_LOOKUPS_PER_USER: HIGH,
  GOCHAT_RATE_LOOKUPS_PER_GUEST: HIGH,
  GOCHAT_RATE_WS_FRAMES: HIGH,
  GOCHAT_RATE_WS_FRAMES_PER_USER: HIGH,
  GOCHAT_RATE_WS_FRAMES_PER_IP: HIGH,
  GOCHAT_MAX_CONNECTIONS_PER_IP: '0',
  GOCHAT_MAX_SOCKETS_PER_IP: '0',
  // Refusals answer at once: the tests of limits wait on them (test/abuse/http-edge checks the hold).
  GOCHAT_RATE_LIMITED_DELAY_MS: '0',
  GOCHAT_KDF_REGISTER_QUEUE: '100000',
  GOCHAT_KDF_LOGIN_QUEUE: '100000',
};

/**
 * scrypt cost of the password hashes test servers make. At the server's default (16384) each hash
 * takes ~60 ms of a core, and a suite that registers and logs in hundreds of users would spend most
 * of its time there. 16 keeps the whole path (a real scrypt hash, stored and verified) at ~0.1 ms;
 * it is a power of two above the config's minimum of 2. A test about hashing sets its own cost.
 */
export const TEST_SCRYPT_COST = 16;

export const CHEAP_HASHING_ENV: Readonly<Record<string, string>> = { GOCHAT_SCRYPT_COST: String(TEST_SCRYPT_COST) };
