/** JWT issue and verification (HS256 via `jose`). Only HS256 is accepted: `alg: none` and RS/HS confusion fail. */
import { randomUUID } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import { AppError } from '../protocol/index.js';

export interface TokenClaims {
  userId: string;
  username: string;
  isGuest: boolean;
  jti: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  /** The account's random key when the token was issued: a recreated or re-keyed account no longer matches. */
  accountKey: string;
}

/** Tokens whose signature was already checked; bounded, oldest evicted first. */
const VERIFIED_CACHE_SIZE = 10_000;

export class TokenService {
  /** Imported once: given raw bytes, jose imports a WebCrypto key on every sign and verify. */
  private readonly key: Promise<CryptoKey>;
  /**
   * Exact token string -> its claims. Every request carries the same token again, and the HMAC
   * check was the largest cost of a history read. Expiry is re-checked on every hit; revocation
   * is checked by the caller on every call, so a cached token stops working at logout.
   */
  private readonly verified = new Map<string, Readonly<TokenClaims>>();

  constructor(
    secret: string,
    private readonly ttlSeconds: number,
  ) {
    if (secret.length < 32) throw new Error('The JWT secret must be at least 32 characters');
    this.key = crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  }

  async issue(user: { userId: string; username: string; isGuest: boolean; accountKey: string }): Promise<{ token: string; expiresIn: number }> {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ name: user.username, guest: user.isGuest, acc: user.accountKey })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(user.userId)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + this.ttlSeconds)
      .sign(await this.key);
    return { token, expiresIn: this.ttlSeconds };
  }

  async verify(token: string): Promise<TokenClaims> {
    const cached = this.verified.get(token);
    if (cached) {
      if (Date.now() >= cached.expiresAt) {
        this.verified.delete(token);
        throw new AppError('TOKEN_EXPIRED');
      }
      return cached;
    }
    const claims = await this.verifySignature(token);
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, claims);
    return claims;
  }

  private async verifySignature(token: string): Promise<Readonly<TokenClaims>> {
    try {
      const { payload } = await jwtVerify(token, await this.key, { algorithms: ['HS256'] });
      const { sub, jti, exp, name, guest, acc } = payload;
      if (typeof sub !== 'string' || typeof jti !== 'string' || typeof exp !== 'number' || typeof name !== 'string' || typeof acc !== 'string' || acc === '') {
        throw new AppError('UNAUTHORIZED', 'Malformed token');
      }
      return Object.freeze({ userId: sub, username: name, isGuest: guest === true, jti, expiresAt: exp * 1000, accountKey: acc });
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (err instanceof errors.JWTExpired) throw new AppError('TOKEN_EXPIRED');
      throw new AppError('UNAUTHORIZED', 'Invalid token');
    }
  }
}
