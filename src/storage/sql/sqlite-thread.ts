// better-sqlite3 in a worker thread. SQLite calls are synchronous: on the main thread a
// group-committed batch of 500 rows, and FULL's fsync after it, stall the event loop for the
// whole write (bench/README.md: loop p99 ~100-175 ms under the 1,000-writer bench). Here the
// main thread only posts each statement and awaits its rows; the worker owns the connection
// (and so the DATA_DIR lock, which is per process and lives as long as the worker's handle).
//
// The worker is plain CommonJS evaluated from a string, so the same code runs from src/ (tsx,
// vitest) and dist/. It caches prepared statements by their text: the store's statements are
// few and fixed.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { ChatboxError } from '../../errors.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.addon);
const cache = new Map();
let db;
const fail = (id, e) => parentPort.postMessage({ id, error: { message: String((e && e.message) || e), code: e && e.code } });
try {
  db = new Database(workerData.file, { timeout: 0 });
  for (const p of workerData.open) db.exec(p);
  parentPort.postMessage({ id: 0, rows: [] });
} catch (e) {
  try { if (db) db.close(); } catch {}
  fail(0, e);
  db = undefined;
}
function prepared(sql) {
  let s = cache.get(sql);
  if (s === undefined) {
    s = db.prepare(sql);
    if (cache.size >= 256) cache.delete(cache.keys().next().value);
    cache.set(sql, s);
  }
  return s;
}
parentPort.on('message', (m) => {
  if (m.op === 'close') {
    try { if (db) db.close(); db = undefined; parentPort.postMessage({ id: m.id, rows: [] }); } catch (e) { fail(m.id, e); }
    return;
  }
  try {
    if (db === undefined) throw new Error('the SQLite connection is closed');
    const s = prepared(m.sql);
    if (s.reader) parentPort.postMessage({ id: m.id, rows: s.all(m.params) });
    else parentPort.postMessage({ id: m.id, rows: [], changes: s.run(m.params).changes });
  } catch (e) { fail(m.id, e); }
});
`;

interface Reply {
  readonly id: number;
  readonly rows?: Record<string, unknown>[];
  readonly changes?: number;
  readonly error?: { readonly message: string; readonly code?: string };
}

/** An error from the worker, with SQLite's result code (SQLITE_BUSY...). */
export class SqliteError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export interface SqliteThread {
  run(sql: string, params: readonly unknown[]): Promise<{ rows: Record<string, unknown>[]; changes: number }>;
  close(): Promise<void>;
}

/** Opens `file` in a worker and runs the `open` statements there (pragmas, the lock's write). */
export async function openSqliteThread(file: string, open: readonly string[]): Promise<SqliteThread> {
  const addon = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { addon, file, open } });
  const pending = new Map<number, { resolve: (reply: Reply) => void; reject: (error: unknown) => void }>();
  let nextId = 1;
  let dead: Error | undefined;

  // The worker keeps the process alive only while a statement is in flight.
  const settle = (id: number) => {
    const waiter = pending.get(id);
    pending.delete(id);
    if (pending.size === 0) worker.unref();
    return waiter;
  };
  worker.on('message', (reply: Reply) => {
    const waiter = settle(reply.id);
    if (waiter === undefined) return;
    if (reply.error !== undefined) waiter.reject(new SqliteError(reply.error.message, reply.error.code));
    else waiter.resolve(reply);
  });
  const die = (error: Error): void => {
    dead ??= error;
    for (const id of [...pending.keys()]) settle(id)?.reject(error);
  };
  worker.on('error', (error) => die(new ChatboxError('INTERNAL', `SQLite worker failed: ${error.message}`, true, { cause: error })));
  worker.on('exit', () => die(new ChatboxError('INTERNAL', 'SQLite worker has stopped', true)));

  function call(id: number, message: object): Promise<Reply> {
    if (dead !== undefined) return Promise.reject(dead);
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage(message);
    });
  }

  try {
    await new Promise<Reply>((resolve, reject) => {
      pending.set(0, { resolve, reject });
      worker.ref();
    });
  } catch (error) {
    await worker.terminate();
    throw error;
  }

  return {
    async run(sql, params) {
      const id = nextId++;
      const reply = await call(id, { id, sql, params });
      return { rows: reply.rows ?? [], changes: reply.changes ?? 0 };
    },
    async close() {
      if (dead !== undefined) return;
      const id = nextId++;
      try {
        await call(id, { op: 'close', id });
      } finally {
        dead = new ChatboxError('INTERNAL', 'SQLite store is closed', false);
        await worker.terminate();
      }
    },
  };
}
