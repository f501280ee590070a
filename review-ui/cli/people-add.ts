import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../core/domain/config.js';
import { ROLES, type Role } from '../../core/domain/roles.js';
import { openDatabase } from '../../db/client.js';
import { createPerson } from '../people/people.js';

const usage = `Adds a person who can log in to the review server.

  npm run people:add -- --username NAME --name "Display Name" --roles reviewer[,legal_reviewer...]
                        [--certificate NUMBER --certificate-expires YYYY-MM-DD] [--devices ID,ID]

Roles: ${ROLES.join(', ')}. Reviewers and legal reviewers need an enforcement certificate.
A random password is printed once; set PERSON_PASSWORD to choose it instead.`;

const { values } = parseArgs({
  options: {
    username: { type: 'string' },
    name: { type: 'string' },
    roles: { type: 'string' },
    certificate: { type: 'string' },
    'certificate-expires': { type: 'string' },
    devices: { type: 'string' },
    help: { type: 'boolean' },
  },
});

if (values.help || !values.username || !values.roles) {
  console.log(usage);
  process.exit(values.help ? 0 : 2);
}

const roles = values.roles.split(',').map((role) => role.trim());
const unknown = roles.filter((role) => !(ROLES as readonly string[]).includes(role));
if (unknown.length > 0) {
  console.error(`Unknown role(s): ${unknown.join(', ')}. Roles: ${ROLES.join(', ')}`);
  process.exit(2);
}
if (Boolean(values.certificate) !== Boolean(values['certificate-expires'])) {
  console.error('--certificate and --certificate-expires go together');
  process.exit(2);
}

const password = process.env.PERSON_PASSWORD ?? randomBytes(12).toString('base64url');
const config = loadConfig();
const database = await openDatabase(config.database);
try {
  await database.migrate();
  const outcome = await createPerson(database.db, 'system:people-cli', {
    username: values.username,
    displayName: values.name ?? values.username,
    password,
    roles: roles as Role[],
    certificate: values.certificate
      ? { number: values.certificate, expiresAt: new Date(`${values['certificate-expires']}T23:59:59Z`).toISOString() }
      : null,
    administeredDeviceIds: values.devices ? values.devices.split(',').map((id) => id.trim()) : [],
  });
  if (!outcome.ok) {
    console.error(outcome.error);
    process.exitCode = 1;
  } else {
    console.log(`Added ${outcome.person.username} (${outcome.person.roles.join(', ')}).`);
    if (!process.env.PERSON_PASSWORD) console.log(`Password (shown once): ${password}`);
  }
} finally {
  await database.close();
}
