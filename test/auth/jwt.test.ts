// Token rules per RFC 8725: HS256 only, `exp` required, lifetime bounded by JWT_MAX_TTL_S when set,
// one spelling per token (canonical base64url). Each refusal carries the reason that
// chatbox_auth_failures_total counts.
import { SignJWT } from 'jose';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAuthenticator, isCanonicalBase64url } from '../../src/auth/jwt.js';

const SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';
const key = new TextEncoder().encode(SECRET);
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const nowS = (): number => Math.floor(Date.now() / 1000);

const sign = (claims: Record<string, unknown>, exp?: number, iat?: number) => {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' });
  if (iat !== undefined) jwt.setIssuedAt(iat);
  if (exp !== undefined) jwt.setExpirationTime(exp);
  return jwt.sign(key);
};

/** The same signature bytes spelled differently: the last character's unused low bits flipped. */
function respell(token: string): string {
  const last = token.at(-1) as string;
  return token.slice(0, -1) + (ALPHABET[ALPHABET.indexOf(last) ^ 1] as string);
}

describe('createAuthenticator', () => {
  const auth = createAuthenticator(SECRET);
  const user = { user_id: 'u1', roles: ['user'] };

  it('accepts a well-formed token with exp, and what mint makes (exp included)', async () => {
    await expect(auth.verify(await sign(user, nowS() + 600))).resolves.toMatchObject({ userId: 'u1', isAdmin: false });
    const minted = await auth.mint({ userId: 'u2' });
    const payload = JSON.parse(Buffer.from(minted.split('.')[1] as string, 'base64url').toString()) as Record<string, number>;
    expect(payload['exp']).toBeGreaterThan(nowS());
    await expect(auth.verify(minted)).resolves.toMatchObject({ userId: 'u2' });
  });

  it.each([
    ['no exp', () => sign(user), 'claims'],
    ['expired', () => sign(user, nowS() - 60), 'expired'],
    ['no user_id', () => sign({ roles: ['user'] }, nowS() + 60), 'claims'],
    ['roles not an array', () => sign({ user_id: 'x', roles: 'admin' }, nowS() + 60), 'claims'],
    ['another secret', () => new SignJWT(user).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode('x'.repeat(40))), 'signature'],
    ['alg none', async () => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ ...user, exp: nowS() + 60 })).toString('base64url')}.`, 'signature'],
    ['padding on the signature', async () => `${await sign(user, nowS() + 60)}=`, 'signature'],
    ['stray bits in the last character', async () => respell(await sign(user, nowS() + 60)), 'signature'],
    ['two parts', async () => 'abc.def', 'malformed'],
    ['garbage', async () => 'garbage', 'malformed'],
    ['a huge token', async () => `${'a'.repeat(10_000)}.b.c`, 'malformed'],
  ])('refuses a token with %s (reason %s)', async (_label, make, reason) => {
    const token = await make();
    await expect(auth.verify(token)).rejects.toMatchObject({ code: 'UNAUTHORIZED', reason });
  });

  it('bounds the lifetime with JWT_MAX_TTL_S: exp - iat, or exp - now without iat', async () => {
    const bounded = createAuthenticator(SECRET, { maxTtlSeconds: 3600 });
    await expect(bounded.verify(await sign(user, nowS() + 1800, nowS()))).resolves.toMatchObject({ userId: 'u1' });
    await expect(bounded.verify(await sign(user, nowS() + 7200, nowS()))).rejects.toMatchObject({ reason: 'claims' });
    await expect(bounded.verify(await sign(user, nowS() + 7200))).rejects.toMatchObject({ reason: 'claims' });
    // An old iat with a far exp is over the bound even though little of it is left.
    await expect(bounded.verify(await sign(user, nowS() + 600, nowS() - 7200))).rejects.toMatchObject({ reason: 'claims' });
    // What it mints fits its own bound.
    await expect(bounded.verify(await bounded.mint({ userId: 'm' }))).resolves.toMatchObject({ userId: 'm' });
  });

  it('property: every non-canonical spelling of a valid token is refused, the canonical one accepted', async () => {
    const token = await sign(user, nowS() + 600);
    await expect(auth.verify(token)).resolves.toBeDefined();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0, 1, 2), fc.constantFrom('=', '==', ' ', '+', '/'), async (part, extra) => {
        const parts = token.split('.');
        parts[part] = `${parts[part] as string}${extra}`;
        await expect(auth.verify(parts.join('.'))).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const canonical = Buffer.from(bytes).toString('base64url');
        expect(isCanonicalBase64url(canonical)).toBe(true);
        if (canonical !== '') expect(isCanonicalBase64url(`${canonical}=`)).toBe(false);
      }),
    );
  });
});
