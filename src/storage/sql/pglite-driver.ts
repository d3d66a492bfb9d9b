// PGlite (Postgres compiled to WebAssembly), persisted in a directory. PGlite executes queries
// synchronously inside its WebAssembly instance, which would stall the event loop for the length
// of every statement (a 1,000-row insert takes ~25 ms), so it runs in a worker thread and this
// driver only posts statements to it and awaits the rows.
//
// PGlite is single-connection and single-process: one data directory serves one process.
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { ChatboxError } from '../../errors.js';
import type { Query, Row, SqlDriver } from './driver.js';

// Plain CommonJS, evaluated in the worker, so the same code runs from src/ (tsx, vitest) and dist/.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require(workerData.pglite);
let db;
const fail = (id, e) => parentPort.postMessage({ id, error: { message: String(e && e.message || e), code: e && e.code } });
parentPort.on('message', async (m) => {
  if (m.op === 'close') {
    try { if (db) await db.close(); parentPort.postMessage({ id: m.id, rows: [] }); } catch (e) { fail(m.id, e); }
    return;
  }
  try {
    const r = await db.query(m.text, m.params);
    parentPort.postMessage({ id: m.id, rows: r.rows });
  } catch (e) { fail(m.id, e); }
});
PGlite.create(workerData.dataDir).then(
  (d) => { db = d; parentPort.postMessage({ id: 0, rows: [] }); },
  (e) => fail(0, e),
);
`;

interface Reply {
  readonly id: number;
  readonly rows?: Row[];
  readonly error?: { readonly message: string; readonly code?: string };
}

class PgliteError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export async function createPgliteDriver(options: { readonly dataDir: string }): Promise<SqlDriver> {
  mkdirSync(options.dataDir, { recursive: true });
  const pglite = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { pglite, dataDir: options.dataDir } });
  const pending = new Map<number, { resolve: (rows: Row[]) => void; reject: (error: unknown) => void }>();
  let nextId = 1;
  let dead: Error | undefined;

  // The worker keeps the process alive only while a statement is in flight.
  const settle = (id: number): { resolve: (rows: Row[]) => void; reject: (error: unknown) => void } | undefined => {
    const waiter = pending.get(id);
    pending.delete(id);
    if (pending.size === 0) worker.unref();
    return waiter;
  };
  worker.on('message', (reply: Reply) => {
    const waiter = settle(reply.id);
    if (waiter === undefined) return;
    if (reply.error !== undefined) waiter.reject(new PgliteError(reply.error.message, reply.error.code));
    else waiter.resolve(reply.rows ?? []);
  });
  const die = (error: Error): void => {
    dead ??= error;
    for (const id of [...pending.keys()]) settle(id)?.reject(error);
  };
  worker.on('error', (error) => die(new ChatboxError('INTERNAL', `PGlite worker failed: ${error.message}`, true, { cause: error })));
  worker.on('exit', () => die(new ChatboxError('INTERNAL', 'PGlite worker has stopped', true)));

  function call(id: number, message: object): Promise<Row[]> {
    if (dead !== undefined) return Promise.reject(dead);
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage(message);
    });
  }

  const ready = new Promise<Row[]>((resolve, reject) => {
    pending.set(0, { resolve, reject });
  });
  try {
    await ready;
  } catch (error) {
    await worker.terminate();
    throw new ChatboxError('INTERNAL', `PGlite could not open ${options.dataDir}: ${(error as Error).message}`, false, { cause: error });
  }

  const query: Query = async <R extends Row>(text: string, params?: readonly unknown[]) => {
    const id = nextId++;
    return (await call(id, { op: 'query', id, text, params: params ?? [] })) as R[];
  };

  return {
    kind: 'pglite',
    query,
    // One connection, one process: nothing else can migrate concurrently.
    exclusive: (fn) => fn(query),
    async close() {
      if (dead !== undefined) return;
      const id = nextId++;
      try {
        await call(id, { op: 'close', id });
      } finally {
        dead = new ChatboxError('INTERNAL', 'PGlite driver is closed', false);
        await worker.terminate();
      }
    },
  };
}
