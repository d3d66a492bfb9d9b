// One AI reply of a session, streamed to the session's sockets (through the fan-out) and stored.
import type { Bus } from '../events/bus.js';
import type { LlmCancelCause } from '../events/catalog.js';
import { isChatboxError } from '../errors.js';
import type { ReplySource, Usage } from '../llm/types.js';
import { errorFrame } from '../protocol/frames.js';
import type { SessionStore } from '../storage/types.js';
import type { Fanout } from './fanout.js';
import { remember, type LiveSession, type PendingWrite } from './live-session.js';
import { ReplyControl } from './reply-control.js';
import { sessionFrame } from './server-frames.js';

export interface ReplyDeps {
  readonly bus: Bus;
  readonly store: SessionStore;
  readonly replies: ReplySource;
  readonly fanout: Fanout;
  readonly stopping: () => boolean;
  readonly internal: (error: unknown) => void;
}

const ignore = (): void => {};
/** The metadata of every streamed chunk but the last: one shared object (frames are serialised at once, never changed). */
const STREAMING = Object.freeze({ streaming: 'true', done: 'false' } as const);

/** The last frame of a streamed reply (`done: "true"`, empty content), to every socket of the session. */
function sendLast(fanout: Fanout, live: LiveSession, metadata: Readonly<Record<string, string>>): void {
  fanout.toSession(live.id, sessionFrame(live.id, { type: 'ai_response', sender: 'ai', content: '', metadata }));
}

/**
 * The done frame's metadata of a reply that finished, one frozen object per model (the models
 * are configured, so few): frozen metadata's JSON is written once (protocol/frame-text.ts).
 */
const doneByModel = new Map<string, Readonly<Record<string, string>>>();
function doneMetadata(modelId: string): Readonly<Record<string, string>> {
  let metadata = doneByModel.get(modelId);
  if (metadata === undefined) {
    metadata = Object.freeze({ streaming: 'true', done: 'true', model_id: modelId });
    doneByModel.set(modelId, metadata);
  }
  return metadata;
}

/**
 * Answers the session's latest user message. With `write` (that message's append, still in
 * flight) the provider is asked at once and nothing is sent until the write has landed, so the
 * store's latency hides inside the time to first token; a failed write cancels the request.
 */
/** `askedAt`: when the user's message arrived (Date.now()), for the stored response time. */
export async function reply(deps: ReplyDeps, live: LiveSession, askedAt: number, write?: PendingWrite): Promise<void> {
  const { bus, store, replies, fanout, internal } = deps;
  if (live.admin !== undefined || deps.stopping() || write?.failed === true) return;
  const control = new ReplyControl();
  live.reply = control;
  // Answered long before the first chunk (the provider's time to first token).
  fanout.checkListeners(live.id);
  const chunks = replies
    .stream({
      model: live.modelId,
      // A snapshot: the history grows while this reply streams.
      messages: live.history.slice(),
      signal: control.signal,
      sessionId: live.id,
      userId: live.userId,
    })
    [Symbol.asyncIterator]();
  // The request goes out now; its outcome is read below (the catch only marks it handled).
  const first = chunks.next();
  first.catch(ignore);
  if (write !== undefined) {
    let stored = true;
    try {
      await write.done;
    } catch {
      // The user gets the storage error from the message handler; this reply never happened.
      stored = false;
      control.stop('aborted');
    }
    if (!stored || control.stopped) {
      // Stopped before the user saw any of it (a takeover shows as admin_join): nothing to send.
      // Closing the stream settles its attempt (llmCancelled) without reading it further.
      void chunks.return?.()?.catch(internal);
      if (live.reply === control) live.reply = undefined;
      return;
    }
  }
  fanout.toSession(live.id, sessionFrame(live.id, { type: 'loading', sender: 'ai', model_id: live.modelId }));
  let text = '';
  let responseMs: number | undefined;
  let usage: Usage = { inputTokens: 0, outputTokens: 0 };
  let ended = false;
  try {
    // Each chunk is raced against stop(): the stream is closed in the background (below).
    for (let r = await control.race(first); ; r = await control.next(chunks)) {
      if (r.done === true) {
        ended = true;
        break;
      }
      const chunk = r.value;
      if (chunk.type === 'done') {
        usage = chunk.usage;
        continue;
      }
      text += chunk.text;
      responseMs ??= Math.max(0, Date.now() - askedAt);
      fanout.toSession(live.id, sessionFrame(live.id, { type: 'ai_response', sender: 'ai', content: chunk.text, metadata: STREAMING }));
    }
    remember(live, { role: 'assistant', content: text });
    await store.appendMessage(live.id, {
      sender: 'ai',
      content: text,
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      metadata: { model_id: live.modelId },
      responseMs,
    });
    sendLast(fanout, live, doneMetadata(live.modelId));
  } catch (error) {
    const cancelled = control.stopped;
    if (text !== '') {
      // A cut reply is kept as far as the user saw it.
      remember(live, { role: 'assistant', content: text });
      await store.appendMessage(live.id, { sender: 'ai', content: text, metadata: { model_id: live.modelId, cut: 'true' } }).catch(internal);
    }
    if (cancelled) {
      const cause = control.cause as LlmCancelCause;
      if (cause !== 'shutdown' && cause !== 'client_left') sendLast(fanout, live, { streaming: 'true', done: 'true', cancelled: cause });
      return;
    }
    const known = isChatboxError(error);
    if (!known) internal(error);
    bus.emit('messageFailed', { code: 'LLM_UNAVAILABLE' });
    fanout.toSession(
      live.id,
      errorFrame('LLM_UNAVAILABLE', known ? error.message : 'the AI could not answer; try again', { sessionId: live.id, recoverable: true }),
    );
  } finally {
    // Closes the stream if this loop left it early, so the reply source settles its attempt and
    // clears its timers. A stream that ended has nothing to close (and return() would cost two
    // promises per reply).
    if (!ended) void chunks.return?.()?.catch(internal);
    if (live.reply === control) live.reply = undefined;
  }
}
