import { chown, chmod, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../core/domain/config.js';
import { listBrokerAccounts } from '../../db/devices.js';
import { openDatabase } from '../../db/client.js';
import { passwordFileContents } from '../devices/broker-password-file.js';

const usage = `Writes Mosquitto's password file from the device registry.

  npm run broker:passwords -- --out FILE

Every device not revoked that was issued a broker password gets a line (username = its id);
the service accounts (usernames starting verity-) already in FILE are kept. The file is
replaced in one step, keeping its owner and mode (new files: 0600). Mosquitto reads it again
on SIGHUP: docker compose kill -s SIGHUP mosquitto (docs/deployment.md).`;

const { values } = parseArgs({ options: { out: { type: 'string' }, help: { type: 'boolean' } } });
if (values.help || !values.out) {
  console.log(usage);
  process.exit(values.help ? 0 : 2);
}

const out = path.resolve(values.out);
const existing = await readFile(out, 'utf8').catch((error: NodeJS.ErrnoException) => {
  if (error.code === 'ENOENT') return '';
  throw error;
});
const previous = await stat(out).catch(() => undefined);
const config = loadConfig();
const database = await openDatabase(config.database);
try {
  await database.migrate();
  const contents = passwordFileContents(existing, await listBrokerAccounts(database.db));
  // Written beside it and renamed over it, so the broker never reads half a file.
  const temporary = `${out}.${process.pid}.tmp`;
  await writeFile(temporary, contents.text, { mode: 0o600 });
  if (previous) {
    await chmod(temporary, previous.mode & 0o777);
    // Mosquitto reads the file as its own user: a root-run rewrite must leave it that user's.
    if (process.getuid?.() === 0) await chown(temporary, previous.uid, previous.gid);
  }
  await rename(temporary, out);
  for (const id of contents.refused) console.error(`left out device ${id}: ids starting verity- are reserved for service accounts`);
  console.log(
    `wrote ${out}: ${contents.devices.length} device account(s), service accounts kept: ${contents.serviceAccounts.join(', ') || 'none'}`,
  );
} finally {
  await database.close();
}
