import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { verifyEvidencePackage, type CheckResult } from '../evidence/evidence-verifier.js';

/**
 * `npm run evidence:verify -- package.zip [--trust FINGERPRINT]`: re-checks an evidence package
 * with nothing but the file, offline. Exits 0 when every check passes, 1 when one fails, and 2
 * when it could not check at all (no such file, bad arguments).
 */
const USAGE = 'usage: npm run evidence:verify -- <package.zip> [--trust <server key fingerprint>]';

/** Where the command writes, a whole line at a time. */
export interface EvidenceVerifyIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const consoleIo: EvidenceVerifyIo = { out: console.log, err: console.error };

const MARKS: Record<CheckResult['status'], string> = { passed: '✓', failed: '✗', skipped: '–' };

function describe(check: CheckResult): string {
  const lines = [`${MARKS[check.status]} ${check.name}${check.detail ? `: ${check.detail}` : ''}`];
  for (const failure of check.failures) lines.push(`    ${failure}`);
  if (check.moreFailures > 0) lines.push(`    … and ${check.moreFailures} more`);
  return lines.join('\n');
}

function parse(argv: string[]): { file: string; trust: string | undefined } {
  const { values, positionals } = parseArgs({ args: argv, options: { trust: { type: 'string' } }, allowPositionals: true });
  const [file, ...rest] = positionals;
  if (file === undefined || rest.length > 0) throw new Error('give exactly one package file');
  return { file, trust: values.trust };
}

/** Verifies the package argv names and returns the exit code; callers other than the script need no process. */
export async function runEvidenceVerifyCli(argv: string[], io: EvidenceVerifyIo): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (error) {
    io.err(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(args.file);
  } catch (error) {
    io.err(`cannot read ${args.file}: ${(error as Error).message}`);
    return 2;
  }
  const report = verifyEvidencePackage(bytes, args.trust === undefined ? {} : { trustedServerKeyFingerprint: args.trust });
  io.out(`Evidence package ${args.file}${report.incidentId ? ` (incident ${report.incidentId})` : ''}`);
  for (const check of report.checks) io.out(describe(check));
  const count = (status: CheckResult['status']) => report.checks.filter((check) => check.status === status).length;
  io.out(
    report.ok
      ? `VERIFIED: ${count('passed')} checks passed${count('skipped') > 0 ? `, ${count('skipped')} skipped (see –)` : ''}`
      : `NOT VERIFIED: ${count('failed')} of ${report.checks.length} checks failed`,
  );
  return report.ok ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await runEvidenceVerifyCli(process.argv.slice(2), consoleIo);
}
