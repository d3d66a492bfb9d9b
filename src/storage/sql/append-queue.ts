// The append path of the SQL store: validate, seal, queue, and write in group-committed batches
// (append.ts). A caller's promise settles once its batch committed or failed.
import type { Kysely } from 'kysely';
import { ChatboxError } from '../../errors.js';
import type { Cipher } from '../cipher.js';
import type { MessageInput, MessageRecord } from '../types.js';
import { checkMessage, isSessionId, nameFrom, notFound, type CheckedMessage } from '../validate.js';
import { createBatchWriter, type MessageRow, type SessionBump } from './append.js';
import { storageError, type SqlKind } from './driver.js';
import type { Database } from './schema.js';

interface PendingAppend {
  readonly sessionId: string;
  readonly message: CheckedMessage;
  /** Content as stored (sealed when encrypting). */
  readonly stored: string;
  resolve(record: MessageRecord): void;
  reject(error: unknown): void;
}

export interface AppendQueueOptions {
  readonly db: Kysely<Database>;
  readonly kind: SqlKind;
  readonly cipher: Cipher | undefined;
  readonly now: () => Date;
  readonly maxContentBytes: number;
  readonly batching: boolean;
  readonly maxBatchRows: number;
  readonly isClosing: () => boolean;
}

const RESOLVE_CHUNK = 64;
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const failure = storageError;

export function createAppendQueue(options: AppendQueueOptions) {
  const { cipher, now, maxContentBytes, batching, maxBatchRows } = options;
  const write = createBatchWriter(options.db, options.kind);
  const seal = (plain: string, sessionId: string): string => (cipher === undefined ? plain : cipher.seal(plain, sessionId));
  const outstanding = new Set<Promise<unknown>>();

  /** Writes one batch; settles every entry, never throws. */
  async function writeBatch(batch: readonly PendingAppend[]): Promise<void> {
    const groups = new Map<string, PendingAppend[]>();
    for (const p of batch) {
      const g = groups.get(p.sessionId);
      if (g === undefined) groups.set(p.sessionId, [p]);
      else g.push(p);
    }
    const sessions: SessionBump[] = [];
    const messages: MessageRow[] = [];
    const encrypted = cipher !== undefined;
    for (const [id, g] of groups) {
      const firstUser = g.find((p) => p.message.sender === 'user');
      let tokens = 0;
      let last = 0;
      let k = 0;
      for (const p of g) {
        const m = p.message;
        tokens += m.inputTokens + m.outputTokens;
        last = Math.max(last, m.createdAt.getTime());
        messages.push({
          session_id: id,
          k: ++k,
          sender: m.sender,
          content: p.stored,
          content_enc: encrypted,
          created_at: m.createdAt.getTime(),
          metadata: m.metadata,
          input_tokens: m.inputTokens,
          output_tokens: m.outputTokens,
          response_ms: m.responseMs,
        });
      }
      sessions.push({
        id,
        n: g.length,
        tokens,
        last,
        name: firstUser === undefined ? null : seal(nameFrom(firstUser.message.content), id),
        nameEnc: firstUser !== undefined && encrypted,
      });
    }
    let first: Map<string, number>;
    try {
      first = await write(sessions, messages);
    } catch (error) {
      const reason = failure(error);
      for (const p of batch) p.reject(reason);
      return;
    }
    let settled = 0;
    for (const [id, g] of groups) {
      const base = first.get(id);
      for (let k = 0; k < g.length; k++) {
        const p = g[k] as PendingAppend;
        if (base === undefined) p.reject(notFound());
        else p.resolve({ sessionId: id, seq: base + k, ...p.message });
        // Each resolution runs its caller's continuation (often the next append) in the same
        // microtask flush; yielding every so often keeps a big batch from holding the loop.
        if (++settled % RESOLVE_CHUNK === 0) await yieldToLoop();
      }
    }
  }

  const queue: PendingAppend[] = [];
  let scheduled = false;
  let running = false;
  function kick(): void {
    if (scheduled || running) return;
    scheduled = true;
    // setImmediate, not a microtask: appends made by every callback of this turn join the batch.
    setImmediate(drain);
  }
  async function drain(): Promise<void> {
    scheduled = false;
    running = true;
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, maxBatchRows);
        // writeBatch settles its entries itself; this only guards against a bug leaving them hanging.
        await writeBatch(batch).catch((error: unknown) => {
          for (const p of batch) p.reject(failure(error));
        });
      }
    } finally {
      running = false;
      if (queue.length > 0) kick();
    }
  }

  // Unbatched: one transaction per append, serialised per session so seq follows call order.
  const chains = new Map<string, Promise<void>>();
  function writeAlone(p: PendingAppend): void {
    const previous = chains.get(p.sessionId) ?? Promise.resolve();
    const next = previous.then(() => writeBatch([p]));
    chains.set(p.sessionId, next);
    void next.then(() => {
      if (chains.get(p.sessionId) === next) chains.delete(p.sessionId);
    });
  }

  return {
    append(sessionId: string, input: MessageInput): Promise<MessageRecord> {
      if (options.isClosing()) return Promise.reject(new ChatboxError('INTERNAL', 'session store is closed', true));
      let pending: Promise<MessageRecord>;
      try {
        const message = checkMessage(input, maxContentBytes, now);
        // A malformed id cannot name a stored session: it is unknown, like any other unknown id.
        if (!isSessionId(sessionId)) return Promise.reject(notFound());
        const stored = seal(message.content, sessionId);
        pending = new Promise<MessageRecord>((resolve, reject) => {
          const entry: PendingAppend = { sessionId, message, stored, resolve, reject };
          if (batching) {
            queue.push(entry);
            kick();
          } else writeAlone(entry);
        });
      } catch (error) {
        return Promise.reject(error);
      }
      outstanding.add(pending);
      const forget = (): void => {
        outstanding.delete(pending);
      };
      pending.then(forget, forget);
      return pending;
    },
    /** Resolves once every append accepted so far has settled. */
    async drained(): Promise<void> {
      while (outstanding.size > 0) await Promise.allSettled([...outstanding]);
    },
  };
}
