import { createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../../core/domain/config.js';
import { loadOrCreateSigningKey } from '../../core/infrastructure/signing-key.js';
import { signChainHead } from '../../db/audit-checkpoints.js';
import { auditExportSchema, type AuditExport } from '../../core/domain/audit-export.js';
import {
  verifyAuditChain,
  verifyAuditExport,
  type AuditExportReport,
  type AuditVerifyProgress,
  type AuditVerifyReport,
  type ChainProblem,
  type CheckpointProblemKind,
} from '../../db/audit-verify.js';
import { openDatabase, type Database } from '../../db/client.js';

/** Exit codes: 0 the log verified (or the head was signed), 1 it did not, 2 it could not be checked. */
const EXIT_OK = 0;
const EXIT_BROKEN = 1;
const EXIT_ERROR = 2;

const USAGE = `Usage:
  npm run audit:verify -- [--json] [--public-key FILE]... [--export FILE]
      Recomputes the audit chain and checks every signed head. Exit 0 intact, 1 broken, 2 could not check.
      --public-key FILE  a PEM key checkpoints may be signed with (repeat for rotated keys);
                         default: the public half of SIGNING_KEY_FILE
      --export FILE      check a range exported from the audit page instead of the database;
                         no database needed (default key: the one named in the file)
      --json             the report as JSON on stdout
  npm run audit:sign-head
      Signs the current last row with SIGNING_KEY_FILE (created on first use).`;

/** Where the command writes: whole lines to out and err, and progress, rewritten in place on a terminal. */
export interface AuditCliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  progress: { write: (text: string) => unknown; isTTY?: boolean };
}

const consoleIo: AuditCliIo = { out: console.log, err: console.error, progress: process.stderr };

class UsageError extends Error {}

/** Runs `audit verify|sign-head [options]` and returns its exit code; callers other than the script need no process. */
export async function runAuditCli(argv: string[], env: NodeJS.ProcessEnv, io: AuditCliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        'public-key': { type: 'string', multiple: true },
        export: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${USAGE}`);
    return EXIT_ERROR;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(USAGE);
    return EXIT_OK;
  }
  try {
    const config = loadConfig(env);
    const [command, ...rest] = positionals;
    if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
    if (command === 'verify' && values.export !== undefined) {
      return await verifyExport(values.export, values['public-key'] ?? [], values.json ?? false, io);
    }
    if (command === 'verify') return await verify(config, values['public-key'] ?? [], values.json ?? false, io);
    if (command === 'sign-head') return await signHead(config, io);
    throw new UsageError(command === undefined ? 'no command given' : `unknown command ${command}`);
  } catch (error) {
    io.err(error instanceof UsageError ? `${error.message}\n\n${USAGE}` : `audit: ${(error as Error).message}`);
    return EXIT_ERROR;
  }
}

async function verify(config: Config, keyFiles: string[], json: boolean, io: AuditCliIo): Promise<number> {
  const publicKeys = await readPublicKeys(config, keyFiles, io);
  const progress = progressLine(io.progress);
  let report: AuditVerifyReport;
  try {
    report = await withDatabase(config, (database) => verifyAuditChain(database.db, { publicKeys, onProgress: progress.show }));
  } finally {
    progress.end();
  }
  io.out(json ? JSON.stringify(report, null, 2) : formatReport(report));
  return report.ok ? EXIT_OK : EXIT_BROKEN;
}

/**
 * An exported range checked with no database. Without --public-key the key named in the file is
 * used, and its fingerprint printed: whoever could rewrite the file could replace that key too,
 * so it vouches only if it matches a fingerprint the auditor kept.
 */
async function verifyExport(file: string, keyFiles: string[], json: boolean, io: AuditCliIo): Promise<number> {
  const exported = await readExport(file);
  const publicKeys = keyFiles.length > 0 ? await readPublicKeyFiles(keyFiles) : [exported.signingKey.publicKeyPem];
  if (keyFiles.length === 0) {
    io.err(
      `Checking signatures with the key named in the export (fingerprint ${exported.signingKey.fingerprint}): compare it with the fingerprint you hold, or pass --public-key.`,
    );
  }
  const report = verifyAuditExport(exported, publicKeys);
  io.out(json ? JSON.stringify(report, null, 2) : formatExportReport(report));
  return report.ok ? EXIT_OK : EXIT_BROKEN;
}

async function readExport(file: string): Promise<AuditExport> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = auditExportSchema.safeParse(json);
  if (!parsed.success) {
    const [issue] = parsed.error.issues;
    throw new Error(
      `${file} is not an audit export: ${issue ? `${issue.path.join('.') || '(top level)'}: ${issue.message}` : 'unreadable'}`,
    );
  }
  return parsed.data;
}

async function signHead(config: Config, io: AuditCliIo): Promise<number> {
  const key = await loadOrCreateSigningKey(config.signing.keyFile);
  const signed = await withDatabase(config, (database) => signChainHead(database.db, key));
  if (!signed) {
    io.out('The audit log is empty: nothing to sign.');
  } else if (signed.created) {
    io.out(`Signed audit head seq ${signed.checkpoint.seq} (hash ${signed.checkpoint.hash}) with key ${key.fingerprint}.`);
  } else {
    io.out(`Audit head seq ${signed.checkpoint.seq} was already signed at ${signed.checkpoint.signedAt.toISOString()}.`);
  }
  return EXIT_OK;
}

/**
 * Public halves only: verifying never needs the private key, and unlike the services it must
 * not create a key when none exists (a fresh key would make every old checkpoint look forged).
 */
async function readPublicKeys(config: Config, keyFiles: string[], io: AuditCliIo): Promise<string[]> {
  if (keyFiles.length === 0) {
    if (!existsSync(config.signing.keyFile)) {
      io.err(`No signing key at ${config.signing.keyFile}: signed heads cannot be checked (pass --public-key FILE).`);
      return [];
    }
    keyFiles = [config.signing.keyFile];
  }
  return readPublicKeyFiles(keyFiles);
}

function readPublicKeyFiles(keyFiles: string[]): Promise<string[]> {
  return Promise.all(
    keyFiles.map(async (file) => {
      try {
        // createPublicKey accepts a private key too and derives its public half.
        return createPublicKey(await readFile(file))
          .export({ type: 'spki', format: 'pem' })
          .toString();
      } catch (error) {
        throw new Error(`cannot read a key from ${file}: ${(error as Error).message}`, { cause: error });
      }
    }),
  );
}

async function withDatabase<T>(config: Config, use: (database: Database) => Promise<T>): Promise<T> {
  // Opening PGlite creates the folder: a mistyped DATA_DIR would verify a new, empty log as intact.
  if (!config.database.url && !existsSync(config.database.pgliteDir)) {
    throw new Error(`no database: DATABASE_URL is unset and there is no PGlite folder at ${config.database.pgliteDir}`);
  }
  const database = await openDatabase({ ...config.database, poolSize: 2 });
  try {
    return await use(database);
  } finally {
    await database.close();
  }
}

/** A progress line at most once a second, rewritten in place on a terminal; silent for short runs. */
function progressLine(stream: AuditCliIo['progress']): { show: (progress: AuditVerifyProgress) => void; end: () => void } {
  const started = Date.now();
  let lastShown = started;
  let shown = false;
  // Ends the rewritten line so the report or an error starts on a line of its own.
  const end = () => {
    if (shown && stream.isTTY) stream.write('\n');
  };
  const show = (progress: AuditVerifyProgress) => {
    const now = Date.now();
    if (now - lastShown < 1000) return;
    lastShown = now;
    shown = true;
    const rate = Math.round(progress.rowsChecked / ((now - started) / 1000));
    const line =
      progress.phase === 'rows'
        ? `verifying audit rows: seq ${progress.seq.toLocaleString('en')} of ${(progress.headSeq ?? 0).toLocaleString('en')}` +
          ` (${percent(progress.seq, progress.headSeq)}), ${rate.toLocaleString('en')} rows/s`
        : `verifying signed heads: ${progress.checkpointsChecked.toLocaleString('en')} checked, at seq ${progress.seq.toLocaleString('en')}`;
    stream.write(stream.isTTY ? `\r\x1b[2K${line}` : `${line}\n`);
  };
  return { show, end };
}

function percent(seq: number, head: number | null): string {
  return head ? `${Math.floor((100 * seq) / head)}%` : '100%';
}

const CHAIN_PROBLEMS: Record<ChainProblem, string> = {
  hash_mismatch: "The row's content no longer hashes to its stored hash: it was changed after it was written.",
  broken_link: 'The row names a predecessor other than the previous row: that row was rewritten and re-hashed, or this one re-pointed.',
  missing_row: 'Rows are missing from this seq on: the row shown, the first after the gap, names a predecessor no longer in the log.',
};

const CHECKPOINT_PROBLEMS: Record<CheckpointProblemKind, string> = {
  unknown_key: 'signed by a key not given (pass its public key with --public-key)',
  bad_signature: 'the signature does not verify: forged or altered',
  row_missing: 'the signed row is no longer in the log',
  hash_mismatch: 'the signed row was rewritten since it was signed',
};

/** The report for a person: what holds, and where the first break is, named so it can be found. */
function formatReport(report: AuditVerifyReport): string {
  const lines: string[] = [];
  const rows = `${report.rowsChecked.toLocaleString('en')} rows`;
  const checkpoints = `${report.checkpointsChecked.toLocaleString('en')} signed heads`;
  if (report.ok && report.headSeq === null) {
    lines.push(`Audit log is empty; ${checkpoints} verified.`);
  } else if (report.ok) {
    lines.push(`Audit log intact: ${rows} (through seq ${report.headSeq}), ${checkpoints} verified.`);
  } else {
    lines.push(`AUDIT LOG NOT INTACT: ${rows} and ${checkpoints} checked.`);
  }
  const broken = report.firstBroken;
  if (broken) {
    const row = broken.row;
    lines.push(
      '',
      `First broken link at seq ${broken.seq}: ${broken.problem}`,
      `  ${CHAIN_PROBLEMS[broken.problem]}`,
      `  row:      seq ${row.seq}, recorded_at ${row.recordedAt}, actor ${row.actor}, action ${row.action}, subject ${row.subjectType} ${row.subjectId}`,
      `  expected: ${broken.expected}`,
      `  actual:   ${broken.actual}`,
    );
  }
  if (report.checkpointProblemCount > 0) {
    lines.push('', `Signed heads that do not vouch for the log (${report.checkpointProblemCount}):`);
    for (const problem of report.checkpointProblems) {
      lines.push(
        `  seq ${problem.seq}, signed ${problem.signedAt} by key ${problem.keyFingerprint.slice(0, 16)}: ${problem.problem}, ` +
          CHECKPOINT_PROBLEMS[problem.problem] +
          (problem.problem === 'hash_mismatch' ? ` (signed ${problem.expected}, row now ${problem.actual})` : ''),
      );
    }
    const unlisted = report.checkpointProblemCount - report.checkpointProblems.length;
    if (unlisted > 0) lines.push(`  and ${unlisted} more.`);
  }
  if (report.lastSignedSeq !== null && report.headSeq !== null && report.headSeq > report.lastSignedSeq) {
    lines.push('', `Rows after seq ${report.lastSignedSeq}, the last verified signed head, are protected by the hash chain alone.`);
  } else if (report.lastSignedSeq === null && report.headSeq !== null) {
    lines.push('', 'No signed head verified: a consistent rewrite of the whole log would go unnoticed (run audit:sign-head).');
  }
  return lines.join('\n');
}

/** The range's report: the chain's, with what the range hangs from and whether it is whole. */
function formatExportReport(report: AuditExportReport): string {
  const lines = [`Export of seq ${report.fromSeq} to ${report.toSeq}:`, formatReport(report)];
  if (report.rangeProblem) lines.push('', `Entries missing at an end: ${report.rangeProblem}.`);
  if (report.startsAtGenesis) lines.push('', 'The range starts at the first entry of the log.');
  else if (report.anchorHash) {
    lines.push(
      '',
      `The first entry links to ${report.anchorHash}, outside the export: only the whole log (audit:verify) vouches for that link.`,
    );
  }
  return lines.join('\n');
}

// Last, so every constant above is initialised before the top-level await runs.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await runAuditCli(process.argv.slice(2), process.env, consoleIo);
}
