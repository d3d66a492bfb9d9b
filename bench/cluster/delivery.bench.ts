// Several replicas: what does Redis cost?
//  1. Cross-replica delivery: each streamed chunk reaches a socket on the owner replica and one on
//     another replica; the extra time of the remote socket (arrival there minus arrival on the
//     owner's socket), against a second socket on the owner itself (the same-replica baseline),
//     p50/p99 side by side, plus the server's own publish-to-hand-off histogram.
//  2. Server CPU per chat turn, one replica, same load, with REDIS_URL set vs without.
// Real server processes, PostgreSQL (own schema), Redis on 127.0.0.1:6379 (own key prefix).
import { startFakeLlmServer } from '../../test/support/fake-llm-server.js';
import type { Frame, TestClient } from '../../test/support/ws-client.js';
import { startReplicaSet, type Replica, type ReplicaSet } from '../../test/cluster/support.js';

const TURNS = Number(process.env['BENCH_TURNS'] ?? 120);
const CHUNKS = 20;

const fake = await startFakeLlmServer({ realistic: { firstTokenMs: 5, chunkMs: 3, chunks: CHUNKS } });
const llmEnv = { OPENAI_API_KEY: 'sk-bench', OPENAI_BASE_URL: fake.baseUrls.openai, OPENAI_MODEL: 'gpt-bench', RATE_LIMIT_PER_MINUTE: '100000' };

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};
const isChunk = (f: Frame): boolean => f.type === 'ai_response' && f.sender === 'ai' && f.metadata?.['done'] === 'false';
const isDone = (f: Frame): boolean => f.type === 'ai_response' && f.sender === 'ai' && f.metadata?.['done'] === 'true';

/** Arrival times (performance.now()) of every chunk frame, per socket. */
function stamp(c: TestClient): number[] {
  const at: number[] = [];
  c.socket.on('message', (data) => {
    const f = JSON.parse(String(data)) as Frame;
    if (isChunk(f)) at.push(performance.now());
  });
  return at;
}

async function turns(sender: TestClient, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const from = sender.frames.length;
    sender.send({ type: 'user_message', content: `turn ${i}` });
    await sender.next(isDone, { from, timeoutMs: 20_000 });
  }
}

// ---- 1. delivery --------------------------------------------------------------------------
let set: ReplicaSet = await startReplicaSet({ count: 2, env: llmEnv });
{
  const [r1, r2] = set.replicas as [Replica, Replica];
  const token = await set.token('bench-user');
  const owner = await set.connect(r1, token);
  await owner.next((f) => f.type === 'connection_status');
  // The first turn creates the session on r1 (the owner); the others join it.
  await turns(owner, 1);
  const sid = owner.frames.find((f) => f.session_id !== undefined)?.session_id as string;
  const sameSocket = await set.connect(r1, token, sid);
  const remote = await set.connect(r2, token, sid);
  for (const c of [sameSocket, remote]) await c.next((f) => f.type === 'connection_status');
  const tOwner = stamp(owner);
  const tSame = stamp(sameSocket);
  const tRemote = stamp(remote);
  await turns(owner, TURNS);
  await remote.next(isDone, { from: 0, timeoutMs: 5000 });
  const n = Math.min(tOwner.length, tSame.length, tRemote.length);
  const same = Array.from({ length: n }, (_, i) => (tSame[i] as number) - (tOwner[i] as number));
  const cross = Array.from({ length: n }, (_, i) => (tRemote[i] as number) - (tOwner[i] as number));
  const x = await set.scrape(r2);
  const count = x.value('chatbox_cluster_delivery_seconds_count') ?? 0;
  const sum = x.value('chatbox_cluster_delivery_seconds_sum') ?? 0;
  const le = (b: string): number => x.value('chatbox_cluster_delivery_seconds_bucket', { le: b }) ?? 0;
  const buckets = ['0.0005', '0.001', '0.0025', '0.005', '0.01'].map((b) => `<=${Number(b) * 1000}ms ${((100 * le(b)) / Math.max(1, count)).toFixed(0)}%`);
  console.log(`\ncross-replica delivery, ${n} chunks (${TURNS} turns x ${CHUNKS} chunks), extra time after the owner's own socket got the chunk:`);
  console.log(`  second socket on the owner    p50 ${quantile(same, 0.5).toFixed(3)} ms   p99 ${quantile(same, 0.99).toFixed(3)} ms`);
  console.log(`  socket on another replica     p50 ${quantile(cross, 0.5).toFixed(3)} ms   p99 ${quantile(cross, 0.99).toFixed(3)} ms`);
  console.log(`  ratio (other / same)          p50 ${(quantile(cross, 0.5) / Math.max(0.001, quantile(same, 0.5))).toFixed(1)}x`);
  console.log(`  server side, publish -> hand-off on r2 (chatbox_cluster_delivery_seconds): mean ${((1000 * sum) / Math.max(1, count)).toFixed(3)} ms over ${count}; ${buckets.join(', ')}`);
  for (const c of [owner, sameSocket, remote]) c.terminate();
}
await set.stop();

// ---- 2. CPU per chat turn -----------------------------------------------------------------
/** Messages the replica published to Redis so far (chatbox_cluster_messages_total, out). */
async function published(r: Replica): Promise<number> {
  const text = await (await fetch(`${r.url}/metrics`)).text();
  const m = /^chatbox_cluster_messages_total\{direction="published"\} (\S+)$/m.exec(text);
  return m === null ? 0 : Number(m[1]);
}
let publishedPerTurn = Number.NaN;
async function cpuPerTurn(withRedis: boolean): Promise<number> {
  set = await startReplicaSet({ count: 1, env: { ...llmEnv, ...(withRedis ? {} : { REDIS_URL: '' }) } });
  const [r] = set.replicas as [Replica];
  const users = await Promise.all(
    Array.from({ length: 4 }, async (_, i) => {
      const c = await set.connect(r, await set.token(`cpu-${i}`));
      await c.next((f) => f.type === 'connection_status');
      return c;
    }),
  );
  await Promise.all(users.map((c) => turns(c, 5))); // warm-up
  const before = r.proc.cpuSeconds();
  const published0 = await published(r);
  await Promise.all(users.map((c) => turns(c, TURNS / 4)));
  const used = r.proc.cpuSeconds() - before;
  if (withRedis) publishedPerTurn = ((await published(r)) - published0) / TURNS;
  for (const c of users) c.terminate();
  await set.stop();
  return (1000 * used) / TURNS;
}
const without = await cpuPerTurn(false);
const withRedis = await cpuPerTurn(true);
const without2 = await cpuPerTurn(false);
console.log(`\nserver CPU per chat turn (${TURNS} turns, ${CHUNKS} chunks each, 4 users, one replica):`);
console.log(`  without REDIS_URL   ${without.toFixed(2)} ms (again after: ${without2.toFixed(2)} ms)`);
console.log(`  with REDIS_URL      ${withRedis.toFixed(2)} ms (Redis messages published per turn: ${publishedPerTurn.toFixed(1)})`);
console.log(`  ratio               ${(withRedis / ((without + without2) / 2)).toFixed(2)}x`);
await fake.close();
process.exit(0);
