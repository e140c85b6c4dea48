/** Token forgery for the authorization tests: the tokens an attacker (or the clock) would produce. */
import { randomUUID } from 'node:crypto';
import { SignJWT, decodeJwt } from 'jose';

/** The secret the security suites start the server with, so they can mint expired tokens. */
export const TEST_JWT_SECRET = 'security-suite-secret-0123456789-abcdefghijklmnop';
export const OTHER_SECRET = 'an-attackers-own-secret-0123456789-abcdefghijklmn';

interface Subject {
  userId: string;
  username: string;
  isGuest: boolean;
}

const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The claims GoChat issues, signed with `secret` and `alg`, valid from `iat` to `exp` (seconds). */
export async function signToken(
  subject: Subject,
  options: { secret?: string; alg?: 'HS256' | 'HS384' | 'HS512'; iat?: number; exp?: number; claims?: Record<string, unknown> } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ name: subject.username, guest: subject.isGuest, ...options.claims })
    .setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' })
    .setSubject(subject.userId)
    .setJti(randomUUID())
    .setIssuedAt(options.iat ?? now)
    .setExpirationTime(options.exp ?? now + 3600)
    .sign(new TextEncoder().encode(options.secret ?? TEST_JWT_SECRET));
}

/** Correct secret and claims, but expired a minute ago. */
export function expiredToken(subject: Subject): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return signToken(subject, { iat: now - 120, exp: now - 60 });
}

/** `alg: none` with no signature: must never be accepted. */
export function unsignedToken(subject: Subject): string {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url({ alg: 'none', typ: 'JWT' });
  const payload = b64url({ sub: subject.userId, name: subject.username, guest: subject.isGuest, jti: randomUUID(), iat: now, exp: now + 3600 });
  return `${header}.${payload}.`;
}

/** A genuine token whose payload was edited (claims changed) while the signature was kept. */
export function tamperedToken(genuine: string, changes: Record<string, unknown>): string {
  const [header, , signature] = genuine.split('.');
  const claims = { ...decodeJwt(genuine), ...changes };
  return `${header}.${b64url(claims)}.${signature}`;
}
