// JWT (HS256) verification for sockets and REST, and minting for development tokens. Held to
// RFC 8725: one pinned algorithm, `exp` required (optionally bounded by JWT_MAX_TTL_S), and only
// canonical base64url accepted, so one token has exactly one spelling.
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import type { AuthFailureReason } from '../events/catalog.js';
import { ChatboxError } from '../errors.js';

export interface Principal {
  readonly userId: string;
  readonly name: string;
  readonly roles: readonly string[];
  readonly isAdmin: boolean;
}

const ADMIN_ROLES = new Set(['admin', 'chat_admin']);
/** Far beyond any real token; a longer one is refused before any decoding work. */
const MAX_TOKEN_CHARS = 8192;
const SEGMENT = /^[A-Za-z0-9_-]*$/;

/** A refused token: UNAUTHORIZED on the wire, with the reason the auth-failure counter uses. */
export class AuthError extends ChatboxError {
  constructor(
    readonly reason: AuthFailureReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('UNAUTHORIZED', message, false, options);
  }
}

export const isAuthError = (e: unknown): e is AuthError => e instanceof AuthError;

export interface Authenticator {
  verify(token: string): Promise<Principal>;
  mint(claims: { userId: string; name?: string; roles?: readonly string[] }, expiresIn?: string | number): Promise<string>;
}

export interface AuthOptions {
  /** Longest lifetime accepted: exp - iat, or exp - now for a token without iat. */
  readonly maxTtlSeconds?: number | undefined;
}

/** True when `s` is base64url as RFC 7515 writes it: no padding, no stray bits in the last character. */
export function isCanonicalBase64url(s: string): boolean {
  return SEGMENT.test(s) && Buffer.from(s, 'base64url').toString('base64url') === s;
}

function reasonOf(error: unknown): { reason: AuthFailureReason; message: string } {
  if (error instanceof joseErrors.JWTExpired) return { reason: 'expired', message: 'token expired' };
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return { reason: 'claims', message: error.claim === 'exp' ? 'token has no exp claim' : `token claim ${error.claim} is invalid` };
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed || error instanceof joseErrors.JOSEAlgNotAllowed) {
    return { reason: 'signature', message: 'invalid token signature' };
  }
  return { reason: 'malformed', message: 'malformed token' };
}

export function createAuthenticator(secret: string, options: AuthOptions = {}): Authenticator {
  // Imported once: given raw bytes, jose imports a WebCrypto key on every verify (a second
  // thread-pool job per upgrade, ~0.15 ms here); the HS256 key itself never changes.
  const key = crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  // Settled before anyone awaits it (a key that cannot be imported fails verify and mint alike).
  key.catch(() => {});
  const maxTtl = options.maxTtlSeconds;
  return {
    async verify(token) {
      if (token.length > MAX_TOKEN_CHARS) throw new AuthError('malformed', 'malformed token');
      const parts = token.split('.');
      if (parts.length !== 3) throw new AuthError('malformed', 'malformed token');
      const [header, body, signature] = parts as [string, string, string];
      if (!isCanonicalBase64url(header) || !isCanonicalBase64url(body)) throw new AuthError('malformed', 'malformed token');
      // jose decodes padded or stray-bit spellings to the same bytes: one token would have many forms.
      if (!isCanonicalBase64url(signature)) throw new AuthError('signature', 'invalid token signature');
      let payload: Record<string, unknown>;
      try {
        // algorithms pinned: `none` and every other algorithm are refused.
        ({ payload } = await jwtVerify(token, await key, { algorithms: ['HS256'], requiredClaims: ['exp'] }));
      } catch (error) {
        const { reason, message } = reasonOf(error);
        throw new AuthError(reason, message, { cause: error });
      }
      if (maxTtl !== undefined) {
        const exp = payload.exp as number;
        const from = typeof payload.iat === 'number' ? payload.iat : Date.now() / 1000;
        if (exp - from > maxTtl) throw new AuthError('claims', `token lifetime is over JWT_MAX_TTL_S (${maxTtl} s)`);
      }
      const userId = payload['user_id'];
      const roles = payload['roles'];
      const name = payload['name'];
      if (typeof userId !== 'string' || userId === '' || userId.length > 256) {
        throw new AuthError('claims', 'token lacks a user_id claim');
      }
      if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) {
        throw new AuthError('claims', 'token lacks a roles claim (array of strings)');
      }
      return {
        userId,
        name: typeof name === 'string' && name !== '' ? name : userId,
        roles,
        isAdmin: roles.some((r) => ADMIN_ROLES.has(r)),
      };
    },
    async mint({ userId, name, roles = ['user'] }, expiresIn = maxTtl === undefined ? '12h' : Math.min(maxTtl, 12 * 3600)) {
      const exp = typeof expiresIn === 'number' ? Math.floor(Date.now() / 1000) + expiresIn : expiresIn;
      return new SignJWT({ user_id: userId, ...(name === undefined ? {} : { name }), roles: [...roles] })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuedAt()
        .setExpirationTime(exp)
        .sign(await key);
    },
  };
}

/** The token from `Authorization: Bearer ...` or, for browsers' WebSockets, `?token=`. */
export function tokenFrom(header: string | undefined, query: URLSearchParams): string | undefined {
  if (header !== undefined && header.toLowerCase().startsWith('bearer ')) return header.slice(7).trim();
  const q = query.get('token');
  return q === null || q === '' ? undefined : q;
}
