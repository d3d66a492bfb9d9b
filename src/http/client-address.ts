// The client's address for per-client limits and logs. Behind a reverse proxy the peer is the
// proxy; with TRUSTED_PROXIES set, X-Forwarded-For is read from the right, skipping trusted hops,
// and the first untrusted address is the client (entries further left are the client's own
// claims, so they are never believed).
import { BlockList, isIP } from 'node:net';

export type ClientAddress = (peer: string, forwardedFor: string | undefined) => string;

const MAPPED_DOTTED = /^(?:0{0,4}:){2,5}ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;
const MAPPED_HEX = /^(?:0{0,4}:){2,5}ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i;

/** One spelling per address: IPv4-mapped IPv6 (as uWS and dual-stack sockets write it) as IPv4. */
export function normalizeAddress(raw: string): string {
  let a = raw.trim();
  if (a.startsWith('[')) a = a.slice(1, a.indexOf(']') === -1 ? undefined : a.indexOf(']'));
  const dotted = MAPPED_DOTTED.exec(a);
  if (dotted !== null) return dotted[1] as string;
  const hex = MAPPED_HEX.exec(a);
  if (hex !== null) {
    const hi = parseInt(hex[1] as string, 16);
    const lo = parseInt(hex[2] as string, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return a.toLowerCase();
}

function parseEntry(entry: string): { address: string; prefix: number | undefined; family: 'ipv4' | 'ipv6' } | undefined {
  const slash = entry.indexOf('/');
  const address = normalizeAddress(slash === -1 ? entry : entry.slice(0, slash));
  const version = isIP(address);
  if (version === 0) return undefined;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  if (slash === -1) return { address, prefix: undefined, family };
  const bits = entry.slice(slash + 1);
  const prefix = Number(bits);
  if (!/^\d{1,3}$/.test(bits) || prefix > (version === 4 ? 32 : 128)) return undefined;
  return { address, prefix, family };
}

/** True when a TRUSTED_PROXIES entry is neither an IP address nor a CIDR range. */
export const invalidProxyEntry = (entry: string): boolean => parseEntry(entry) === undefined;

const familyOf = (address: string): 'ipv4' | 'ipv6' | undefined => {
  const v = isIP(address);
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : undefined;
};

export function clientAddressResolver(trusted: readonly string[]): ClientAddress {
  if (trusted.length === 0) return (peer) => normalizeAddress(peer);
  const list = new BlockList();
  for (const entry of trusted) {
    const e = parseEntry(entry);
    if (e === undefined) throw new Error(`not an IP address or CIDR range: ${entry}`);
    if (e.prefix === undefined) list.addAddress(e.address, e.family);
    else list.addSubnet(e.address, e.prefix, e.family);
  }
  const isTrusted = (address: string): boolean => {
    const family = familyOf(address);
    return family !== undefined && list.check(address, family);
  };
  return function clientAddress(peer, forwardedFor) {
    const direct = normalizeAddress(peer);
    if (forwardedFor === undefined || !isTrusted(direct)) return direct;
    const hops = forwardedFor.split(',');
    let client = direct;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalizeAddress(hops[i] as string);
      // Garbage in the header ends the walk: the last address we could trust is the answer.
      if (familyOf(hop) === undefined) break;
      client = hop;
      if (!isTrusted(hop)) break;
    }
    return client;
  };
}
