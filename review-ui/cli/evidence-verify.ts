import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { verifyEvidencePackage, type CheckResult } from '../evidence/evidence-verifier.js';

/**
 * `npm run evidence:verify -- package.zip [--trust FINGERPRINT]`: re-checks an evidence package
 * with nothing but the file, offline. Exits 0 when every check passes, 1 when one fails, and 2
 * when it could not check at all (no such file, bad arguments).
 */
const USAGE = 'usage: npm run evidence:verify -- <package.zip> [--trust <server key fingerprint>]';

const MARKS: Record<CheckResult['status'], string> = { passed: '✓', failed: '✗', skipped: '–' };

function describe(check: CheckResult): string {
  const lines = [`${MARKS[check.status]} ${check.name}${check.detail ? `: ${check.detail}` : ''}`];
  for (const failure of check.failures) lines.push(`    ${failure}`);
  if (check.moreFailures > 0) lines.push(`    … and ${check.moreFailures} more`);
  return lines.join('\n');
}

function parse(): { file: string; trust: string | undefined } {
  const { values, positionals } = parseArgs({ options: { trust: { type: 'string' } }, allowPositionals: true });
  const [file, ...rest] = positionals;
  if (file === undefined || rest.length > 0) throw new Error('give exactly one package file');
  return { file, trust: values.trust };
}

async function main(): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse();
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(args.file);
  } catch (error) {
    console.error(`cannot read ${args.file}: ${(error as Error).message}`);
    return 2;
  }
  const report = verifyEvidencePackage(bytes, args.trust === undefined ? {} : { trustedServerKeyFingerprint: args.trust });
  console.log(`Evidence package ${args.file}${report.incidentId ? ` (incident ${report.incidentId})` : ''}`);
  for (const check of report.checks) console.log(describe(check));
  const count = (status: CheckResult['status']) => report.checks.filter((check) => check.status === status).length;
  console.log(
    report.ok
      ? `VERIFIED: ${count('passed')} checks passed${count('skipped') > 0 ? `, ${count('skipped')} skipped (see –)` : ''}`
      : `NOT VERIFIED: ${count('failed')} of ${report.checks.length} checks failed`,
  );
  return report.ok ? 0 : 1;
}

process.exitCode = await main();
