/**
 * Generated hostile input for the fuzzers. Seeded: set GOCHAT_FUZZ_SEED to replay a failure
 * (fast-check prints the seed and the shrunk counterexample); GOCHAT_FUZZ_RUNS scales the run.
 */
import fc from 'fast-check';
import { ERROR_CODES, type ErrorCode } from '../../src/protocol/index.js';

export const FUZZ_SEED = Number(process.env.GOCHAT_FUZZ_SEED ?? 20_261_126);
export const fuzzRuns = (fallback: number) => Number(process.env.GOCHAT_FUZZ_RUNS ?? fallback);

/** Ids that try to escape their slot: traversal, encodings, SQL, numbers that are not ids. */
export const PATH_TRICKS = [
  '..', '..%2F..%2Fetc%2Fpasswd', '%2e%2e', '1%00', '1%2F2', "1'%20OR%20'1'%3D'1", '1%3B%20DROP%20TABLE%20messages',
  '-1', '0', '01', '1e3', '0x1', '%201', '1.0', '9'.repeat(40), '%ZZ', '%', '%3Cscript%3E', '__proto__', 'constructor',
  '%E2%80%AE', '%F0%9F%92%A9', '%C0%AE%C0%AE',
];

/** Strings an injection or XSS attempt would use; they must be stored and returned verbatim. */
export const INJECTION_STRINGS = [
  "'; DROP TABLE messages; --",
  "' OR '1'='1",
  '" OR ""="',
  '1; SELECT * FROM users WHERE 1=1',
  "Robert'); DELETE FROM conversation_members; --",
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '"><svg/onload=alert(1)>',
  '{{constructor.constructor("alert(1)")()}}',
  '${process.exit(1)}',
  '%s%s%s%n',
  '\\u0000 is not a NUL',
  '../../../../etc/passwd',
  '\u202Egnp.exe',
  'e\u0301 vs \u00e9',
  '👩‍👩‍👧‍👦 family',
  '\t tab and\nnewline\r\n',
];

const hugeNumbers = fc.constantFrom('1e400', '-1e400', '123456789012345678901234567890', '0.0000000000000000000001', '-0', '1E+2', '9007199254740993');

/** A JSON text with one hostile number literal spliced in where a value belongs. */
const withHugeNumber = fc.tuple(fc.constantFrom('username', 'targetUserId', 'members', 'groupName', 'guestName', 'x'), hugeNumbers).map(
  ([key, n]) => `{"${key}":${n}}`,
);

const deepNesting = fc.tuple(fc.integer({ min: 50, max: 20_000 }), fc.constantFrom('[', '{"a":')).map(([depth, open]) =>
  open === '[' ? '['.repeat(depth) + ']'.repeat(depth) : `${open.repeat(depth)}1${'}'.repeat(depth)}`,
);

const controlChars = fc.string({ unit: fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 8 });

/** Body texts: mostly wrong, occasionally well-formed. */
export const bodyText: fc.Arbitrary<string | Buffer> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'),
  fc.record(
    {
      username: fc.oneof(fc.string(), fc.jsonValue({ maxDepth: 2 }), controlChars),
      password: fc.oneof(fc.string({ maxLength: 200 }), fc.integer()),
      guestName: fc.oneof(fc.string(), controlChars, fc.constantFrom(...INJECTION_STRINGS)),
      targetUserId: fc.oneof(fc.constantFrom(...PATH_TRICKS.map(decodeURIComponentSafe)), fc.integer(), fc.string()),
      groupName: fc.oneof(fc.string({ maxLength: 100 }), fc.constant(''), fc.constantFrom(...INJECTION_STRINGS)),
      members: fc.oneof(fc.array(fc.string(), { maxLength: 5 }), fc.string(), fc.array(fc.integer())),
      ['__proto__']: fc.jsonValue({ maxDepth: 1 }),
      extra: fc.jsonValue({ maxDepth: 1 }),
    },
    { requiredKeys: [] },
  ).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 50 }),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
  fc.jsonValue({ maxDepth: 2 }).map((v) => (JSON.stringify(v) ?? '').slice(0, -1)),
  withHugeNumber,
  deepNesting,
  controlChars.map((c) => `{"username":"a${c}b","password":"passwordpassword"}`),
  fc.constantFrom('{"a":"\\ud800"}', '{"guestName":"x\\udfff"}', '\ufeff{}', '{"a":1,"a":2}', 'null', '[]', '""', 'true', '{'),
);

function decodeURIComponentSafe(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** A path id: sometimes real, sometimes a trick, sometimes arbitrary text. */
export function pathId(realIds: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(...realIds),
    fc.constantFrom(...PATH_TRICKS),
    fc.string({ maxLength: 30 }).map(encodeURIComponent),
    fc.nat().map(String),
  );
}

export const queryString = fc
  .array(
    fc.tuple(
      fc.constantFrom('page', 'size', 'afterSeq', 'beforeSeq', 'x', '__proto__', 'page[]'),
      fc.oneof(fc.constantFrom('1', '0', '-1', '1.5', '1e400', '99999999999999999999', 'NaN', 'null', '', 'true'), fc.string({ maxLength: 10 })),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}`));

/** What every answer to hostile input must look like: the contract's envelope with a code from the table. */
export function contractViolation(status: number, body: unknown): string | null {
  if (body === null || typeof body !== 'object') return `body is not an object: ${JSON.stringify(body)}`;
  const envelope = body as { success?: unknown; message?: unknown; code?: unknown };
  if (typeof envelope.message !== 'string') return 'no message string';
  if (envelope.success === true) return status >= 200 && status < 300 ? null : `success with status ${status}`;
  if (envelope.success !== false) return 'success is not a boolean';
  if (typeof envelope.code !== 'string' || !(envelope.code in ERROR_CODES)) return `unknown code ${String(envelope.code)}`;
  const code = envelope.code as ErrorCode;
  if (code === 'INTERNAL_ERROR') return 'INTERNAL_ERROR on client input';
  if (ERROR_CODES[code].http !== status) return `code ${code} with status ${status}`;
  if (/\bat .+:\d+:\d+|SQLITE|sqlite|syntax error/.test(envelope.message)) return `message leaks internals: ${envelope.message}`;
  return null;
}
