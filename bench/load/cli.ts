// `npm run load -- --users 500 --duration 60 [--faults] [--interval-ms 5000] [--admins 5] [--idle-sockets 9000]`
// `npm run load -- --replicas 3 [--faults] [--users 50]`: several replicas on PostgreSQL and Redis (replicas.ts).
// `npm run load -- --users 300 --duration 60 --marginal`: two runs, at the interval and at a quarter
// of it, then the server CPU split into what each extra message costs and what the run costs anyway.
// `npm run load -- --users 2000 --duration 60 --capture --pauses`: the server also logs its GC pauses
// and event-loop gaps, and the report says which of them the slowest messages met (pauses.ts).
// Starts the server, the fake provider and the clients; prints the table; exits 1 on any mismatch.
import { parseArgs } from 'node:util';
import { printReport, runLoad, type LoadOptions } from './harness.js';
import { runReplicaLoad } from './replicas.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '200' },
    duration: { type: 'string', default: '30' },
    faults: { type: 'boolean', default: false },
    'interval-ms': { type: 'string', default: '5000' },
    admins: { type: 'string' },
    'idle-sockets': { type: 'string', default: '0' },
    'ttft-ms': { type: 'string', default: '300' },
    'chunk-ms': { type: 'string', default: '40' },
    chunks: { type: 'string', default: '8' },
    store: { type: 'string' },
    seed: { type: 'string', default: '42' },
    replicas: { type: 'string' },
    marginal: { type: 'boolean', default: false },
    capture: { type: 'boolean', default: false },
    pauses: { type: 'boolean', default: false },
  },
});

const num = (name: string, v: string | undefined, min: number, max: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`load: --${name} must be a whole number from ${min} to ${max}\n`);
    process.exit(2);
  }
  return n;
};

if (values.pauses && (!values.capture || values.replicas !== undefined)) {
  process.stderr.write('load: --pauses needs --capture (it matches the server\'s pauses against the packets) and one replica\n');
  process.exit(2);
}

if (values.replicas !== undefined) {
  const report = await runReplicaLoad({
    replicas: num('replicas', values.replicas, 2, 10),
    users: num('users', values.users === '200' ? '50' : values.users, 1, 2000),
    durationS: num('duration', values.duration, 5, 3600),
    faults: values.faults,
    messageIntervalMs: num('interval-ms', values['interval-ms'] === '5000' ? '1000' : values['interval-ms'], 100, 600_000),
  });
  printReport(report);
  process.exit(report.ok ? 0 : 1);
}

const users = num('users', values.users, 1, 20_000);
const store = values.store;
if (store !== undefined && store !== 'memory' && store !== 'sqlite' && store !== 'postgres') {
  process.stderr.write('load: --store must be memory, sqlite or postgres\n');
  process.exit(2);
}
const databaseUrl = process.env['DATABASE_URL'];
const intervalMs = num('interval-ms', values['interval-ms'], 100, 600_000);
const options: Omit<LoadOptions, 'messageIntervalMs'> = {
  users,
  durationS: num('duration', values.duration, 5, 3600),
  faults: values.faults,
  admins: values.admins === undefined ? Math.max(1, Math.floor(users / 100)) : num('admins', values.admins, 0, 1000),
  idleSockets: num('idle-sockets', values['idle-sockets'], 0, 50_000),
  ttftMs: num('ttft-ms', values['ttft-ms'], 0, 60_000),
  chunkMs: num('chunk-ms', values['chunk-ms'], 0, 10_000),
  chunks: num('chunks', values.chunks, 1, 1000),
  ...(store === undefined ? {} : { store }),
  ...(databaseUrl === undefined || store === 'memory' || store === 'sqlite' ? {} : { databaseUrl }),
  seed: num('seed', values.seed, 1, 2 ** 31),
  capture: values.capture,
  pauses: values.pauses,
};
const load = (messageIntervalMs: number) => runLoad({ ...options, messageIntervalMs });
const report = await load(intervalMs);
printReport(report);
if (values.marginal) {
  // The table's "ms per user message" divides everything the server did by the messages; the
  // same users at four times the rate separate the cost of a message from the run's own.
  const fast = await load(Math.max(100, Math.round(intervalMs / 4)));
  printReport(fast);
  const a = report.cpu;
  const b = fast.cpu;
  if (a !== undefined && b !== undefined && b.userMessages > a.userMessages) {
    const marginalS = (b.seconds - a.seconds) / (b.userMessages - a.userMessages);
    const fixedS = a.seconds - marginalS * a.userMessages;
    printReport({
      rows: [
        ['server CPU per additional user message (marginal)', `${(marginalS * 1000).toFixed(2)} ms`],
        ['server CPU the run costs at any message rate (fixed)', `${fixedS.toFixed(1)} s (${((fixedS * 1000) / a.userMessages).toFixed(2)} ms per message of the first run)`],
      ],
      mismatches: [],
      ok: true,
    });
  }
  process.exit(report.ok && fast.ok ? 0 : 1);
}
process.exit(report.ok ? 0 : 1);
