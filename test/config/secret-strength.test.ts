// RFC 8725 on HS256 secrets: production refuses short, repetitive, blank or placeholder secrets
// and says why; development starts but warns. NODE_ENV is read case-insensitively.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { secretWeakness } from '../../src/config/secret-strength.js';

const prod = (secret: string, nodeEnv = 'production') => () => loadConfig({ NODE_ENV: nodeEnv, JWT_SECRET: secret });

describe('JWT_SECRET strength', () => {
  it.each([
    ['32 a', 'a'.repeat(32), /one character repeated/],
    ['32 spaces', ' '.repeat(32), /only whitespace/],
    ['tabs and newlines', '\t\n '.repeat(16), /only whitespace/],
    ['a 3-byte secret', 'abc', /too short: 3 bytes/],
    ['two characters alternating', 'ab'.repeat(20), /too little variety/],
    ['a short pattern repeated', 'Xy7#kQ2!'.repeat(5), /repeats a pattern of 8 characters/],
    ['changeme', 'changeme'.repeat(5), /placeholder/],
    ['your-256-bit-secret', 'your-256-bit-secret-your-256-bit-secret', /placeholder/],
    ['secret with digits', 'secret-secret-secret-1234567890-secret', /placeholder/],
    ['my super secret key', 'my_super_secret_jwt_key_change_me_please!'.replace('please', 'here'), /placeholder/],
    ['digits counted up', '0123456789'.repeat(4), /repeats a pattern of 10 characters/],
  ])('refuses %s in production, saying why', (_label, secret, why) => {
    expect(prod(secret)).toThrowError(why);
    expect(prod(secret)).toThrowError(/JWT_SECRET is refused in production/);
  });

  it('reads NODE_ENV case-insensitively', () => {
    for (const env of ['Production', 'PRODUCTION', ' production ']) {
      expect(prod('abc', env)).toThrowError(/too short: 3 bytes/);
      expect(() => loadConfig({ NODE_ENV: env })).toThrowError(/JWT_SECRET is required/);
    }
  });

  it('warns in development instead of refusing', () => {
    const c = loadConfig({ NODE_ENV: 'development', JWT_SECRET: 'hello' });
    expect(c.production).toBe(false);
    expect(c.warnings.join('\n')).toMatch(/JWT_SECRET would be refused in production: it is too short: 5 bytes/);
    expect(loadConfig({ JWT_SECRET: randomBytes(48).toString('base64url') }).warnings).toEqual([]);
  });

  it('property: random secrets of 32 bytes or more, base64 or hex, are accepted', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 64 }), fc.boolean(), (bytes, hex) => {
        const secret = Buffer.from(bytes).toString(hex ? 'hex' : 'base64');
        expect(secretWeakness(secret)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });
});

describe('JWT_MAX_TTL_S and TRUSTED_PROXIES', () => {
  it('parses both, and refuses an entry that is not an address or CIDR range', () => {
    const c = loadConfig({ JWT_MAX_TTL_S: '3600', TRUSTED_PROXIES: '10.0.0.0/8, ::1,192.168.1.7' });
    expect(c.jwtMaxTtlSeconds).toBe(3600);
    expect(c.trustedProxies).toEqual(['10.0.0.0/8', '::1', '192.168.1.7']);
    expect(() => loadConfig({ TRUSTED_PROXIES: '10.0.0.0/33' })).toThrowError(/TRUSTED_PROXIES: "10.0.0.0\/33"/);
    expect(() => loadConfig({ TRUSTED_PROXIES: 'proxy.local' })).toThrowError(/not an IP address or CIDR range/);
    expect(() => loadConfig({ JWT_MAX_TTL_S: 'soon' })).toThrowError(/JWT_MAX_TTL_S/);
  });
});
