// The simulated users: one who chats, reloads, vanishes and opens second devices, and one who
// connects and stays quiet for the whole run. Each tallies what its sockets saw into the run's
// counts, which the harness reconciles against /metrics and the store.
import { randomUUID } from 'node:crypto';
import { arrivedAt, type LoadSocket } from './client.js';
import { MAX_MESSAGE_BYTES, mint, REPLY_TIMEOUT_MS, sleep, type RunState } from './run-state.js';

export async function userLoop(state: RunState, i: number): Promise<void> {
  const { options, log, random, tally, counts, mismatches, run, deadline, available, takenOver, sessionsUsed, connect } = state;
  const token = await mint(`${run}-user-${i}`, false);
  const sessionId = randomUUID();
  // Stagger arrivals over the first interval.
  await sleep(random() * options.messageIntervalMs);
  // What this user's sockets were told about a human holding the session (the admin loop's
  // own bookkeeping lags behind the frames).
  let heldByAdmin = false;
  const watch = (s: LoadSocket, tag: string): LoadSocket => {
    s.tag = tag;
    s.onFrame = (f) => {
      if (f.type === 'admin_join') heldByAdmin = true;
      else if (f.type === 'admin_leave') heldByAdmin = false;
    };
    return s;
  };
  /**
   * Lets an admin who holds this session hand it back, then the last frames for `s` arrive,
   * so none is in flight when the user leaves (the server counted them as sent).
   */
  const settled = async (s: LoadSocket): Promise<void> => {
    while (takenOver.has(sessionId)) await sleep(50);
    await s.quiet(300, REPLY_TIMEOUT_MS);
  };
  /** A socket the server closed without being asked: counted by close code, and logged. */
  const closedUnasked = (s: LoadSocket, what: string, then: string): void => {
    const code = s.closeCode ?? 0;
    counts.unexpectedCloses.set(code, (counts.unexpectedCloses.get(code) ?? 0) + 1);
    log(`load: user ${i}: server closed ${what} (${s.recent()})${then}`);
  };
  let sock = watch(await connect(token, sessionId), 'first');
  await sock.wait((f) => f.type === 'connection_status', 10_000, 0);
  while (Date.now() < deadline) {
    await sleep(options.messageIntervalMs * (0.5 + random()));
    if (Date.now() >= deadline) break;
    if (!sock.open) {
      // The server dropped this socket on its own: a real client reconnects, and so do we.
      closedUnasked(sock, 'the socket', '; reconnecting');
      sock = watch(await connect(token, sessionId), 'after-unexpected-close');
      await sock.wait((f) => f.type === 'connection_status', 10_000, 0);
      counts.reconnects++;
    }
    const r = random();
    if (options.faults && r < 0.04) {
      counts.malformed++;
      sock.sendRaw(r < 0.02 ? '{"type": "user_message", "content": ' : JSON.stringify({ type: 'user_message', content: 42 }));
      await sock.wait((f) => f.type === 'error', 10_000);
      continue;
    }
    if (options.faults && r < 0.06) {
      counts.oversize++;
      tally.oversizeSent++;
      available.delete(sessionId);
      sock.sendRaw(JSON.stringify({ type: 'user_message', content: 'x'.repeat(MAX_MESSAGE_BYTES + 100) }));
      await sock.closed;
      sock = watch(await connect(token, sessionId), 'after-oversize');
      counts.reconnects++;
      continue;
    }
    if (r > 0.9 && r < 0.95) {
      // Reconnect (a page reload) or vanish without a close frame, then come back.
      available.delete(sessionId);
      if (r < 0.925) {
        await sock.close();
      } else {
        counts.abandoned++;
        // Vanishing drops whatever the server had already written to this socket, which it
        // counted as sent (no new takeover starts: the session is no longer available).
        await settled(sock);
        await sock.terminate();
      }
      counts.reconnects++;
      sock = watch(await connect(token, sessionId), r < 0.925 ? 'after-reload' : 'after-abandon');
      await sock.wait((f) => f.type === 'connection_status', 10_000, 0);
    }
    const second = r > 0.97 ? await connect(token, sessionId) : undefined;
    if (second !== undefined) {
      second.tag = 'second-device';
      counts.secondDevices++;
      await second.wait((f) => f.type === 'connection_status', 10_000, 0);
    }
    const wasTakenOver = heldByAdmin || takenOver.has(sessionId);
    if (!sock.open) {
      // Dropped while opening a second device: reconnect first (the second device goes too).
      await second?.close();
      continue;
    }
    const content = `message ${counts.userMessages} from user ${i}`;
    const sentAt = sock.count;
    const t0 = performance.now();
    sock.send({ type: 'user_message', content });
    counts.userMessages++;
    counts.sentContents.push(content);
    const opening = !sessionsUsed.has(sessionId);
    sessionsUsed.add(sessionId);
    // The server answers a message either with `loading` (the AI path) or, when a human holds
    // the session, with nothing: the message goes to the admin.
    const started = await sock.wait(
      (f) => f.type === 'loading' || f.type === 'error' || f.type === 'admin_join',
      wasTakenOver ? 2000 : REPLY_TIMEOUT_MS,
      sentAt,
    );
    if (started === undefined && !sock.open) {
      // The socket went away under us; the next turn reconnects and counts it.
    } else if (started === undefined || started.type === 'admin_join') {
      if (wasTakenOver || takenOver.has(sessionId) || started?.type === 'admin_join') counts.noReplyTakenOver++;
      else {
        counts.hung++;
        mismatches.push(`user ${i}: nothing came back within ${REPLY_TIMEOUT_MS} ms (session ${sessionId}, last frames ${sock.recent()})`);
      }
    } else if (started.type === 'error') {
      if (started.error?.code === 'LLM_UNAVAILABLE') counts.llmUnavailable++;
    } else {
      const first = await sock.wait(
        (f) => (f.type === 'ai_response' && f.sender === 'ai') || f.type === 'error',
        REPLY_TIMEOUT_MS,
        sentAt,
      );
      if (first === undefined && !sock.open) {
        // dropped mid-reply: counted on reconnect
      } else if (first === undefined) {
        counts.hung++;
        mismatches.push(`user ${i}: loading but no reply within ${REPLY_TIMEOUT_MS} ms`);
      } else if (first.type === 'error') {
        if (first.error?.code === 'LLM_UNAVAILABLE') counts.llmUnavailable++;
      } else {
        if (first.metadata?.['cancelled'] === undefined) {
          const firstAt = arrivedAt(first);
          counts.firstChunkMs.push(firstAt - t0);
          counts.pending.set(content, { sentAt: t0, firstAt, opensSession: opening });
        }
        const done =
          first.metadata?.['done'] === 'true'
            ? first
            : await sock.wait((f) => (f.type === 'ai_response' && f.metadata?.['done'] === 'true') || f.type === 'error', REPLY_TIMEOUT_MS, sentAt);
        if (done === undefined && !sock.open) {
          // dropped mid-reply: counted on reconnect
        } else if (done === undefined) {
          counts.hung++;
          mismatches.push(`user ${i}: a reply started but never finished (session ${sessionId}, last frames ${sock.recent()})`);
        } else if (done.type === 'error') {
          if (done.error?.code === 'LLM_UNAVAILABLE') counts.llmUnavailable++;
        } else if (done.metadata?.['cancelled'] !== undefined) {
          counts.repliesCancelled++;
        } else {
          counts.repliesCompleted++;
          counts.answeredContents.add(content);
        }
      }
    }
    if (sock.open && !takenOver.has(sessionId)) available.add(sessionId);
    if (second !== undefined) {
      // Closed by the server before we close it: as unasked as a first socket's close.
      if (!second.open) closedUnasked(second, 'a second device', '');
      await second.close();
    }
    // The turn's waits are over: its frames need not outlive it (see forget()).
    sock.forget();
  }
  available.delete(sessionId);
  await settled(sock);
  await sock.close();
}

/** A user who connects, says nothing and must stay connected until the run ends. */
export async function idleLoop(state: RunState, k: number): Promise<void> {
  const { options, random, counts, mismatches, run, deadline, connect } = state;
  const token = await mint(`${run}-idle-${k}`, false);
  await sleep(random() * options.messageIntervalMs);
  let sock: LoadSocket;
  try {
    sock = await connect(token);
  } catch (error) {
    counts.idleLost++;
    mismatches.push(`idle socket ${k}: could not connect: ${(error as Error).message}`);
    return;
  }
  sock.tag = 'idle';
  await sock.wait((f) => f.type === 'connection_status', 30_000, 0);
  await Promise.race([sock.closed, sleep(deadline - Date.now())]);
  if (!sock.open) {
    counts.idleLost++;
    mismatches.push(`idle socket ${k}: the server closed it mid-run (${sock.recent()})`);
    return;
  }
  counts.idleHeld++;
  await sock.close();
}
