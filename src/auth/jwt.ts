// JWT (HS256) verification for sockets and REST, and minting for development tokens.
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { ChatboxError } from '../errors.js';

export interface Principal {
  readonly userId: string;
  readonly name: string;
  readonly roles: readonly string[];
  readonly isAdmin: boolean;
}

const ADMIN_ROLES = new Set(['admin', 'chat_admin']);

export interface Authenticator {
  verify(token: string): Promise<Principal>;
  mint(claims: { userId: string; name?: string; roles?: readonly string[] }, expiresIn?: string): Promise<string>;
}

export function createAuthenticator(secret: string): Authenticator {
  const key = new TextEncoder().encode(secret);
  return {
    async verify(token) {
      let payload: Record<string, unknown>;
      try {
        // algorithms pinned: `none` and every other algorithm are refused.
        ({ payload } = await jwtVerify(token, key, { algorithms: ['HS256'] }));
      } catch (error) {
        const expired = error instanceof joseErrors.JWTExpired;
        throw new ChatboxError('UNAUTHORIZED', expired ? 'token expired' : 'invalid token', false, { cause: error });
      }
      const userId = payload['user_id'];
      const roles = payload['roles'];
      const name = payload['name'];
      if (typeof userId !== 'string' || userId === '' || userId.length > 256) {
        throw new ChatboxError('UNAUTHORIZED', 'token lacks a user_id claim');
      }
      if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) {
        throw new ChatboxError('UNAUTHORIZED', 'token lacks a roles claim (array of strings)');
      }
      return {
        userId,
        name: typeof name === 'string' && name !== '' ? name : userId,
        roles,
        isAdmin: roles.some((r) => ADMIN_ROLES.has(r)),
      };
    },
    mint({ userId, name, roles = ['user'] }, expiresIn = '12h') {
      return new SignJWT({ user_id: userId, ...(name === undefined ? {} : { name }), roles: [...roles] })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuedAt()
        .setExpirationTime(expiresIn)
        .sign(key);
    },
  };
}

/** The token from `Authorization: Bearer ...` or, for browsers' WebSockets, `?token=`. */
export function tokenFrom(header: string | undefined, query: URLSearchParams): string | undefined {
  if (header !== undefined && header.toLowerCase().startsWith('bearer ')) return header.slice(7).trim();
  const q = query.get('token');
  return q === null || q === '' ? undefined : q;
}
