// `npm run load -- --users 500 --duration 60 [--faults] [--interval-ms 5000] [--admins 5] [--idle-sockets 9000]`
// Starts the server, the fake provider and the clients; prints the table; exits 1 on any mismatch.
import { parseArgs } from 'node:util';
import { printReport, runLoad } from './harness.js';

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

const users = num('users', values.users, 1, 20_000);
const store = values.store;
if (store !== undefined && store !== 'memory' && store !== 'sqlite' && store !== 'postgres') {
  process.stderr.write('load: --store must be memory, sqlite or postgres\n');
  process.exit(2);
}
const databaseUrl = process.env['DATABASE_URL'];
const report = await runLoad({
  users,
  durationS: num('duration', values.duration, 5, 3600),
  faults: values.faults,
  messageIntervalMs: num('interval-ms', values['interval-ms'], 100, 600_000),
  admins: values.admins === undefined ? Math.max(1, Math.floor(users / 100)) : num('admins', values.admins, 0, 1000),
  idleSockets: num('idle-sockets', values['idle-sockets'], 0, 50_000),
  ttftMs: num('ttft-ms', values['ttft-ms'], 0, 60_000),
  chunkMs: num('chunk-ms', values['chunk-ms'], 0, 10_000),
  chunks: num('chunks', values.chunks, 1, 1000),
  ...(store === undefined ? {} : { store }),
  ...(databaseUrl === undefined || store === 'memory' || store === 'sqlite' ? {} : { databaseUrl }),
  seed: num('seed', values.seed, 1, 2 ** 31),
});
printReport(report);
process.exit(report.ok ? 0 : 1);
