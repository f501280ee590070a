import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openDatabase } from '../../db/client.js';
import { testServices } from './services.js';

const migrationsFolder = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'db', 'migrations');
// Any constant shared by every session building templates; advisory locks are per database and all take it on `postgres`.
const TEMPLATE_LOCK = 0x7665_7269;

async function migrationsHash(): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else
        hash
          .update(path.relative(migrationsFolder, full))
          .update('\0')
          .update(await readFile(full))
          .update('\0');
    }
  };
  await walk(migrationsFolder);
  return hash.digest('hex').slice(0, 16);
}

function databaseUrl(name: string): string {
  const url = new URL(testServices.postgresUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Creates, once per set of migrations, a migrated database that test databases are cloned from.
 * Its name carries a hash of db/migrations, so a branch with other migrations gets its own. It is
 * built under another name and renamed when complete, under an advisory lock, so parallel runs
 * (other worktrees too) neither build it twice nor clone a half-migrated one.
 */
async function ensureTemplate(): Promise<string> {
  const name = `verity_tpl_${await migrationsHash()}`;
  const admin = new pg.Client({ connectionString: testServices.postgresUrl });
  await admin.connect();
  try {
    const exists = async () => (await admin.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1;
    if (await exists()) return name;
    await admin.query('select pg_advisory_lock($1)', [TEMPLATE_LOCK]);
    try {
      if (await exists()) return name;
      const building = `verity_tplbuild_${randomBytes(4).toString('hex')}`;
      await admin.query(`CREATE DATABASE ${building}`);
      try {
        const database = await openDatabase({ url: databaseUrl(building), pgliteDir: '', poolSize: 1 });
        try {
          await database.migrate();
        } finally {
          await database.close();
        }
        await admin.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
        // No connections: CREATE DATABASE ... TEMPLATE refuses while anyone is connected to it.
        await admin.query(`ALTER DATABASE ${name} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
      } catch (error) {
        await admin.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`).catch(() => undefined);
        throw error;
      }
      return name;
    } finally {
      await admin.query('select pg_advisory_unlock($1)', [TEMPLATE_LOCK]).catch(() => undefined);
    }
  } finally {
    await admin.end();
  }
}

let template: Promise<string> | undefined;

/** The name of the migrated template database for this checkout's migrations, built on first use. */
export function templateDatabase(): Promise<string> {
  template ??= ensureTemplate().catch((error: unknown) => {
    template = undefined;
    throw error;
  });
  return template;
}

/** vitest globalSetup: builds the template before any worker starts, so files do not queue behind its migration. */
export default async function buildTemplateDatabase(): Promise<void> {
  await templateDatabase();
}
