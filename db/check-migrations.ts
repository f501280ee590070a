import { execFileSync } from 'node:child_process';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Fails when db/schema.ts has changes no migration captures: drizzle-kit generates into a
 * copy of the migrations folder, and any new file there is a migration someone forgot.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const migrations = path.join(here, 'migrations');
const scratch = await mkdtemp(path.join(os.tmpdir(), 'verity-migrations-'));
try {
  await cp(migrations, scratch, { recursive: true });
  const before = new Set(await readdir(scratch));
  // drizzle-kit prefixes --out with './', so it must be given a relative path.
  const out = path.relative(process.cwd(), scratch);
  const report = execFileSync(
    'npx',
    [
      'drizzle-kit',
      'generate',
      '--dialect',
      'postgresql',
      '--schema',
      path.relative(process.cwd(), path.join(here, 'schema.ts')),
      '--out',
      out,
    ],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const added = (await readdir(scratch)).filter((file) => !before.has(file));
  if (added.length > 0) {
    console.error(`db/schema.ts changed without a migration: run \`npm run db:generate\` (it would add ${added.join(', ')})`);
    process.exit(1);
  }
  // drizzle-kit exits 0 even when it fails, so only its explicit verdict counts as a pass.
  if (!report.includes('No schema changes')) {
    console.error(`drizzle-kit did not confirm the migrations are current:\n${report}`);
    process.exit(1);
  }
  console.log('Migrations match db/schema.ts');
} finally {
  await rm(scratch, { recursive: true, force: true });
}
