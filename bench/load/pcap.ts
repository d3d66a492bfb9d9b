// Reads a classic libpcap file (what `tcpdump -w` writes) into TCP payloads per direction, in
// capture order. Only what a loopback capture of a load run needs: Ethernet (Linux `lo`) or
// Linux cooked (`-i any`), IPv4 or IPv6 without extension headers, TCP. On loopback nothing is
// lost or reordered, so a flow's bytes are its segments' payloads in order; a retransmission
// (a segment at or below what was already seen) is skipped.

export interface Segment {
  /** Capture time in ms (Unix epoch), the moment the writer's send() handed the segment on. */
  readonly at: number;
  /** `src>dst`, each `address:port`: one direction of one connection. */
  readonly flow: string;
  /** The opposite direction's key. */
  readonly reverse: string;
  readonly srcPort: number;
  readonly dstPort: number;
  /** A SYN opened this direction: whatever was known of an earlier connection on it is gone. */
  readonly syn: boolean;
  readonly payload: Buffer;
}

const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const LINK_ETHERNET = 1;
const LINK_LINUX_SLL = 113;

function ipv6(b: Buffer, o: number): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(o + i).toString(16));
  return `[${words.join(':')}]`;
}

/** Every TCP segment of the capture, payload or not (SYNs matter), in capture order. */
export function* segments(file: Buffer): Generator<Segment> {
  if (file.length < 24) throw new Error('not a pcap file: too short');
  const magicLe = file.readUInt32LE(0);
  const le = magicLe === MAGIC_US || magicLe === MAGIC_NS;
  const magic = le ? magicLe : file.readUInt32BE(0);
  if (magic !== MAGIC_US && magic !== MAGIC_NS) throw new Error('not a classic pcap file (pcapng? write with tcpdump -w)');
  const u32 = (o: number): number => (le ? file.readUInt32LE(o) : file.readUInt32BE(o));
  const fracMs = magic === MAGIC_NS ? 1e-6 : 1e-3;
  const link = u32(20) & 0x0fffffff;
  if (link !== LINK_ETHERNET && link !== LINK_LINUX_SLL) throw new Error(`link type ${link} not supported`);
  const seen = new Map<string, number>();
  let o = 24;
  while (o + 16 <= file.length) {
    const at = u32(o) * 1000 + u32(o + 4) * fracMs;
    const caplen = u32(o + 8);
    const start = o + 16;
    o = start + caplen;
    if (o > file.length) break; // a capture cut while being written
    let p = start + (link === LINK_ETHERNET ? 14 : 16);
    const etherType = file.readUInt16BE(p - 2);
    let src: string;
    let dst: string;
    let end: number;
    if (etherType === 0x0800) {
      if (file[p + 9] !== 6) continue;
      end = Math.min(o, p + file.readUInt16BE(p + 2));
      src = `${file[p + 12]}.${file[p + 13]}.${file[p + 14]}.${file[p + 15]}`;
      dst = `${file[p + 16]}.${file[p + 17]}.${file[p + 18]}.${file[p + 19]}`;
      p += ((file[p] as number) & 0x0f) * 4;
    } else if (etherType === 0x86dd) {
      if (file[p + 6] !== 6) continue;
      end = Math.min(o, p + 40 + file.readUInt16BE(p + 4));
      src = ipv6(file, p + 8);
      dst = ipv6(file, p + 24);
      p += 40;
    } else continue;
    const sport = file.readUInt16BE(p);
    const dport = file.readUInt16BE(p + 2);
    const seq = file.readUInt32BE(p + 4);
    const flags = file[p + 13] as number;
    const syn = (flags & 0x02) !== 0;
    const payload = file.subarray(p + ((file[p + 12] as number) >> 4) * 4, end);
    const flow = `${src}:${sport}>${dst}:${dport}`;
    if (syn) seen.set(flow, (seq + 1) >>> 0);
    else if (payload.length > 0) {
      const next = seen.get(flow);
      // Sequence numbers wrap: "already seen" is a distance under half the space.
      if (next !== undefined && ((next - seq) >>> 0) > 0 && ((next - seq) >>> 0) < 0x80000000) continue;
      seen.set(flow, (seq + payload.length) >>> 0);
    }
    yield { at, flow, reverse: `${dst}:${dport}>${src}:${sport}`, srcPort: sport, dstPort: dport, syn, payload };
  }
}
