// Child process for the kill -9 test: opens the SQLite store in argv[2] as instance argv[3],
// creates a session and appends messages one after another, printing each acknowledged seq.
import { createSqliteDriver } from '../../src/storage/sql/sqlite-driver.js';
import { createSqlStore } from '../../src/storage/sql/sql-store.js';

const [dataDir, instanceId, sessionId] = process.argv.slice(2) as [string, string, string];
const store = createSqlStore(await createSqliteDriver({ dataDir }), { instanceId });
await store.init();
await store.createSession({ id: sessionId, userId: 'crash-user', modelId: 'm' });
process.stdout.write('ready\n');
for (let i = 1; i <= 100_000; i++) {
  const record = await store.appendMessage(sessionId, { sender: i % 2 === 1 ? 'user' : 'ai', content: `message ${i}` });
  process.stdout.write(`ack ${record.seq}\n`);
}
