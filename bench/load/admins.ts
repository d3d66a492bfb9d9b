// The simulated admins: each takes over a session some user is chatting in, writes in it and hands
// it back, again and again; a takeover or handback that fails is a mismatch of the run.
import type { Frame } from './client.js';
import { mint, REPLY_TIMEOUT_MS, sleep, type RunState } from './run-state.js';

export async function adminLoop(state: RunState, j: number): Promise<void> {
  const { log, random, counts, mismatches, run, deadline, available, takenOver, connect } = state;
  const adminToken = await mint(`${run}-admin-${j}`, true);
  let sock = await connect(adminToken);
  await sock.wait((f) => f.type === 'connection_status', 10_000, 0);
  while (Date.now() < deadline - 4000) {
    await sleep(1500 + random() * 2000);
    if (!sock.open) {
      const code = sock.closeCode ?? 0;
      counts.unexpectedCloses.set(code, (counts.unexpectedCloses.get(code) ?? 0) + 1);
      log(`load: admin ${j}: server closed the socket (${sock.recent()}); reconnecting`);
      sock = await connect(adminToken);
      await sock.wait((f) => f.type === 'connection_status', 10_000, 0);
    }
    const candidates = [...available];
    if (candidates.length === 0) continue;
    const target = candidates[Math.floor(random() * candidates.length)] as string;
    available.delete(target);
    takenOver.add(target);
    sock.send({ type: 'admin_join', session_id: target });
    const joined = await sock.wait((f: Frame) => (f.type === 'connection_status' && f.session_id === target) || f.type === 'error', REPLY_TIMEOUT_MS);
    if (joined === undefined || joined.type === 'error') {
      takenOver.delete(target);
      mismatches.push(`admin ${j}: admin_join on ${target} failed: ${JSON.stringify(joined)}`);
      continue;
    }
    counts.takeovers++;
    await sleep(500 + random() * 1000);
    sock.send({ type: 'user_message', session_id: target, content: `admin ${j} here` });
    counts.adminMessages++;
    await sleep(500 + random() * 1000);
    sock.send({ type: 'admin_leave', session_id: target });
    const left = await sock.wait((f) => (f.type === 'admin_leave' && f.session_id === target) || f.type === 'error', REPLY_TIMEOUT_MS);
    if (left?.type === 'admin_leave') counts.handbacks++;
    else mismatches.push(`admin ${j}: admin_leave on ${target} failed: ${JSON.stringify(left)}`);
    takenOver.delete(target);
  }
  await sock.close();
}
