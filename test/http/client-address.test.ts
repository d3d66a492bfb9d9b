// TRUSTED_PROXIES: the client address is the peer's unless the peer is a trusted proxy; then
// X-Forwarded-For is walked from the right past trusted hops. A client cannot pick its address.
import { describe, expect, it } from 'vitest';
import { clientAddressResolver, invalidProxyEntry, normalizeAddress } from '../../src/http/client-address.js';
import { sampledLog } from '../../src/logging/sampled.js';

describe('clientAddressResolver', () => {
  it('without trusted proxies, ignores X-Forwarded-For', () => {
    const resolve = clientAddressResolver([]);
    expect(resolve('203.0.113.9', '1.2.3.4')).toBe('203.0.113.9');
  });

  it('believes X-Forwarded-For only from trusted peers, and only up to the first untrusted hop', () => {
    const resolve = clientAddressResolver(['10.0.0.0/8', '::1']);
    expect(resolve('10.1.2.3', '198.51.100.7')).toBe('198.51.100.7');
    expect(resolve('10.1.2.3', '6.6.6.6, 198.51.100.7, 10.9.9.9')).toBe('198.51.100.7');
    expect(resolve('203.0.113.9', '198.51.100.7')).toBe('203.0.113.9');
    expect(resolve('::1', '2001:db8::5')).toBe('2001:db8::5');
    expect(resolve('10.1.2.3', undefined)).toBe('10.1.2.3');
    expect(resolve('10.1.2.3', 'not-an-ip')).toBe('10.1.2.3');
    expect(resolve('10.1.2.3', '10.4.4.4, 10.5.5.5')).toBe('10.4.4.4');
  });

  it('spells IPv4-mapped IPv6 (uWS, dual-stack sockets) as IPv4', () => {
    expect(normalizeAddress('0000:0000:0000:0000:0000:ffff:7f00:0001')).toBe('127.0.0.1');
    expect(normalizeAddress('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(clientAddressResolver(['127.0.0.1'])('0000:0000:0000:0000:0000:ffff:7f00:0001', '192.0.2.44')).toBe('192.0.2.44');
  });

  it('validates entries', () => {
    expect(invalidProxyEntry('10.0.0.0/8')).toBe(false);
    expect(invalidProxyEntry('fd00::/8')).toBe(false);
    expect(invalidProxyEntry('10.0.0.0/40')).toBe(true);
    expect(invalidProxyEntry('localhost')).toBe(true);
  });
});

describe('sampledLog', () => {
  it('logs the first line, then at most one per interval with the count left out', () => {
    const lines: Record<string, unknown>[] = [];
    let now = 0;
    const log = sampledLog((fields) => lines.push(fields), 1000, () => now);
    for (let i = 0; i < 300; i++) {
      log.note({ i }, 'refused');
      now += 10;
    }
    expect(lines.length).toBe(3);
    expect(lines[0]).toEqual({ i: 0 });
    expect(lines[1]).toEqual({ i: 100, suppressed: 99 });
  });
});
