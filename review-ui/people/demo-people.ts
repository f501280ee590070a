import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Role } from '../../core/domain/roles.js';
import type { Db } from '../../db/client.js';
import { hasAnyPerson } from '../../db/people.js';
import { createPerson } from './people.js';

export interface DemoAccount {
  username: string;
  password: string;
  roles: Role[];
}

/** One person per role, two reviewers so the two-person rule can be tried, for the all-in-one demo only. */
const DEMO_PEOPLE: { username: string; displayName: string; roles: Role[]; certified: boolean }[] = [
  { username: 'reviewer1', displayName: 'Li Wei (reviewer)', roles: ['reviewer'], certified: true },
  { username: 'reviewer2', displayName: 'Zhang Min (reviewer)', roles: ['reviewer'], certified: true },
  { username: 'legal', displayName: 'Chen Jing (legal reviewer)', roles: ['legal_reviewer'], certified: true },
  { username: 'assistant', displayName: 'Wang Fang (auxiliary staff)', roles: ['auxiliary'], certified: false },
  { username: 'analyst', displayName: 'Liu Yang (analyst)', roles: ['analyst'], certified: false },
  { username: 'auditor', displayName: 'Zhao Lei (auditor)', roles: ['auditor'], certified: false },
  { username: 'devices', displayName: 'Sun Hui (device administrator)', roles: ['device_admin'], certified: false },
  { username: 'admin', displayName: 'Zhou Qiang (system administrator)', roles: ['system_admin'], certified: false },
];

/**
 * On an empty database, creates the demo people with random passwords and keeps the
 * passwords in DATA_DIR (owner-readable only) so every later start can show them again.
 */
export async function ensureDemoPeople(db: Db, dataDir: string): Promise<DemoAccount[]> {
  const file = path.join(dataDir, 'demo-accounts.json');
  if (await hasAnyPerson(db)) {
    return readFile(file, 'utf8').then(
      (text) => JSON.parse(text) as DemoAccount[],
      () => [],
    );
  }
  const inAYear = new Date(Date.now() + 365 * 24 * 3600 * 1000).toISOString();
  const accounts: DemoAccount[] = [];
  for (const [index, demo] of DEMO_PEOPLE.entries()) {
    const password = randomBytes(9).toString('base64url');
    const outcome = await createPerson(db, 'system:all-in-one', {
      username: demo.username,
      displayName: demo.displayName,
      password,
      roles: demo.roles,
      certificate: demo.certified ? { number: `DEMO-ENF-${String(index + 1).padStart(4, '0')}`, expiresAt: inAYear } : null,
    });
    if (!outcome.ok) throw new Error(`demo person ${demo.username}: ${outcome.error}`);
    accounts.push({ username: demo.username, password, roles: demo.roles });
  }
  await writeFile(file, JSON.stringify(accounts, null, 2), { mode: 0o600 });
  return accounts;
}
