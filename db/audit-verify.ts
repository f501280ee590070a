import { asc, eq, gt, max } from 'drizzle-orm';
import { publicKeyFingerprint, verifyBytes } from '../core/infrastructure/signing-key.js';
import type { AuditExport } from '../core/domain/audit-export.js';
import { checkpointBytes } from './audit-checkpoints.js';
import { auditHash, GENESIS_HASH } from './audit-log.js';
import type { Db } from './client.js';
import { auditCheckpoints, auditLog } from './schema.js';

/**
 * How the chain is broken at a row:
 * - `hash_mismatch`: the row's content no longer hashes to its stored hash (edited in place);
 * - `broken_link`: the row names a predecessor hash other than the previous row's (that row
 *   was rewritten and re-hashed, or this row was pointed elsewhere);
 * - `missing_row`: as `broken_link`, across a gap in seq: rows were deleted.
 */
export type ChainProblem = 'hash_mismatch' | 'broken_link' | 'missing_row';

/**
 * Why a signed checkpoint does not vouch for the log:
 * - `unknown_key`: signed by a key none of the given public keys match;
 * - `bad_signature`: the signature does not verify (the checkpoint was forged or altered);
 * - `row_missing`: the signed row is gone;
 * - `hash_mismatch`: the signed row's hash is not the hash that was signed (rewritten since).
 */
export type CheckpointProblemKind = 'unknown_key' | 'bad_signature' | 'row_missing' | 'hash_mismatch';

/** Enough of a row for a person to find it and see what it claims. */
export interface AuditRowSummary {
  seq: number;
  recordedAt: string;
  actor: string;
  action: string;
  subjectType: string;
  subjectId: string;
}

export interface ChainBreak {
  /** The row at fault; for `missing_row`, the first seq that is missing. */
  seq: number;
  problem: ChainProblem;
  /** What the chain says should be there: the recomputed hash, or the predecessor's hash. */
  expected: string;
  /** What the row holds: its stored hash, or the predecessor hash it names. */
  actual: string;
  /** The row at `seq`; for `missing_row`, the first row after the gap. */
  row: AuditRowSummary;
}

export interface CheckpointProblem {
  seq: number;
  problem: CheckpointProblemKind;
  signedAt: string;
  keyFingerprint: string;
  /** The signed hash. */
  expected: string;
  /** The hash the row at `seq` holds now; null when the row is gone. */
  actual: string | null;
}

export interface AuditVerifyReport {
  ok: boolean;
  /** The last seq when the run began: rows appended during the run are left to the next. */
  headSeq: number | null;
  rowsChecked: number;
  checkpointsChecked: number;
  /** The highest checkpoint that verified: rows after it are protected by the chain alone. */
  lastSignedSeq: number | null;
  /** The first break in seq order; later rows are still read, so counts and checkpoints are complete. */
  firstBroken?: ChainBreak;
  /** The first `maxCheckpointProblems`, in seq order, so the report stays small whatever happened. */
  checkpointProblems: CheckpointProblem[];
  checkpointProblemCount: number;
}

export interface AuditVerifyProgress {
  phase: 'rows' | 'checkpoints';
  /** The last seq checked in this phase. */
  seq: number;
  headSeq: number | null;
  rowsChecked: number;
  checkpointsChecked: number;
}

export interface AuditVerifyOptions {
  /** Public keys (PEM) that may have signed checkpoints, matched by fingerprint: old keys stay valid after a rotation. */
  publicKeys: readonly string[];
  /** Rows read per query; memory use is proportional to this, never to the log's length. */
  batchSize?: number;
  maxCheckpointProblems?: number;
  /** Called after every batch. */
  onProgress?: (progress: AuditVerifyProgress) => void;
}

const rowColumns = {
  seq: auditLog.seq,
  recordedAt: auditLog.recordedAt,
  actor: auditLog.actor,
  action: auditLog.action,
  subjectType: auditLog.subjectType,
  subjectId: auditLog.subjectId,
  details: auditLog.details,
  previousHash: auditLog.previousHash,
  hash: auditLog.hash,
};

type AuditRow = typeof auditLog.$inferSelect;

/**
 * Recomputes the whole audit chain from the database and checks every signed checkpoint
 * against it, reading both in seq order by keyset pagination.
 */
export async function verifyAuditChain(db: Db, options: AuditVerifyOptions): Promise<AuditVerifyReport> {
  const batchSize = options.batchSize ?? 5000;
  const [bounds] = await db.select({ head: max(auditLog.seq) }).from(auditLog);
  const headSeq = bounds?.head ?? null;
  const progress = (phase: AuditVerifyProgress['phase'], seq: number) =>
    options.onProgress?.({ phase, seq, headSeq, rowsChecked, checkpointsChecked });

  let rowsChecked = 0;
  let checkpointsChecked = 0;
  let firstBroken: ChainBreak | undefined;
  // Seq 0 and the genesis hash stand for "before the first row", so a deleted first row is a gap like any other.
  let previous = { seq: 0, hash: GENESIS_HASH };
  // No lower bound on the first query: a row forged below seq 1 must be read to be caught. No
  // upper bound in SQL either: with "seq <= head" and stale statistics the planner may sort the
  // whole range for every batch; rows past the head are dropped here instead.
  let after: number | undefined;
  while (headSeq !== null) {
    const batch = await db
      .select(rowColumns)
      .from(auditLog)
      .where(after === undefined ? undefined : gt(auditLog.seq, after))
      .orderBy(asc(auditLog.seq))
      .limit(batchSize);
    const rows = batch.filter((row) => row.seq <= headSeq);
    for (const row of rows) {
      firstBroken ??= checkRow(previous, row);
      previous = row;
    }
    rowsChecked += rows.length;
    const last = rows.at(-1);
    if (last) progress('rows', last.seq);
    if (!last || rows.length < batchSize) break;
    after = last.seq;
  }

  const keys = new Map(options.publicKeys.map((pem) => [publicKeyFingerprint(pem), pem]));
  const maxProblems = options.maxCheckpointProblems ?? 100;
  const checkpointProblems: CheckpointProblem[] = [];
  let checkpointProblemCount = 0;
  let lastSignedSeq: number | null = null;
  // Checkpoints are not bounded by headSeq: one above it is exactly what a truncated tail leaves behind.
  let afterCheckpoint: number | undefined;
  for (;;) {
    const checkpoints = await db
      .select({
        seq: auditCheckpoints.seq,
        hash: auditCheckpoints.hash,
        signedAt: auditCheckpoints.signedAt,
        keyFingerprint: auditCheckpoints.keyFingerprint,
        signature: auditCheckpoints.signature,
        rowHash: auditLog.hash,
      })
      .from(auditCheckpoints)
      .leftJoin(auditLog, eq(auditLog.seq, auditCheckpoints.seq))
      .where(afterCheckpoint === undefined ? undefined : gt(auditCheckpoints.seq, afterCheckpoint))
      .orderBy(asc(auditCheckpoints.seq))
      .limit(batchSize);
    for (const checkpoint of checkpoints) {
      const problem = checkCheckpoint(keys, checkpoint);
      if (problem) {
        checkpointProblemCount++;
        if (checkpointProblems.length < maxProblems) checkpointProblems.push(problem);
      } else {
        lastSignedSeq = checkpoint.seq;
      }
    }
    checkpointsChecked += checkpoints.length;
    const last = checkpoints.at(-1);
    if (!last) break;
    afterCheckpoint = last.seq;
    progress('checkpoints', last.seq);
    if (checkpoints.length < batchSize) break;
  }

  return {
    ok: firstBroken === undefined && checkpointProblemCount === 0,
    headSeq,
    rowsChecked,
    checkpointsChecked,
    lastSignedSeq,
    ...(firstBroken && { firstBroken }),
    checkpointProblems,
    checkpointProblemCount,
  };
}

/** What checking an exported range found: the chain's report, and the link the range hangs from. */
export interface AuditExportReport extends AuditVerifyReport {
  fromSeq: number;
  toSeq: number;
  /** The predecessor hash the first exported entry names; only the whole log can vouch for it, unless it is the genesis. */
  anchorHash: string | null;
  startsAtGenesis: boolean;
  /** Why the entries do not span the range the export names, or null when they do. */
  rangeProblem: string | null;
}

/**
 * Checks an exported range the way `verifyAuditChain` checks the database: each entry's hash
 * recomputed, each link to the entry before, and every signed head in the range against the
 * given keys and the exported entry at its seq. The first entry's own link points outside the
 * range and is taken as given.
 */
export function verifyAuditExport(exported: AuditExport, publicKeys: readonly string[]): AuditExportReport {
  const rows = [...exported.entries].sort((a, b) => a.seq - b.seq).map((entry) => ({ ...entry, recordedAt: new Date(entry.recordedAt) }));
  const first = rows[0];
  const last = rows.at(-1);
  // The range is written from the rows that exist, so its ends are entries: a file that stops
  // short of them lost entries at an end, where no link is left to show it.
  const rangeProblem =
    !first || !last
      ? 'the export holds no entries'
      : first.seq !== exported.range.fromSeq || last.seq !== exported.range.toSeq
        ? `the export says it holds seq ${exported.range.fromSeq} to ${exported.range.toSeq} but holds ${first.seq} to ${last.seq}`
        : null;
  let firstBroken: ChainBreak | undefined;
  let previous = first ? { seq: first.seq - 1, hash: first.previousHash } : null;
  for (const row of rows) {
    if (previous) firstBroken ??= checkRow(previous, row);
    previous = row;
  }
  const keys = new Map(publicKeys.map((pem) => [publicKeyFingerprint(pem), pem]));
  const hashes = new Map(rows.map((row) => [row.seq, row.hash]));
  const checkpointProblems: CheckpointProblem[] = [];
  let lastSignedSeq: number | null = null;
  for (const checkpoint of [...exported.checkpoints].sort((a, b) => a.seq - b.seq)) {
    const problem = checkCheckpoint(keys, {
      ...checkpoint,
      signedAt: new Date(checkpoint.signedAt),
      rowHash: hashes.get(checkpoint.seq) ?? null,
    });
    if (problem) checkpointProblems.push(problem);
    else lastSignedSeq = checkpoint.seq;
  }
  return {
    ok: firstBroken === undefined && checkpointProblems.length === 0 && rangeProblem === null,
    fromSeq: exported.range.fromSeq,
    toSeq: exported.range.toSeq,
    anchorHash: first?.previousHash ?? null,
    startsAtGenesis: first?.previousHash === GENESIS_HASH,
    rangeProblem,
    headSeq: last?.seq ?? null,
    rowsChecked: rows.length,
    checkpointsChecked: exported.checkpoints.length,
    lastSignedSeq,
    ...(firstBroken && { firstBroken }),
    checkpointProblems,
    checkpointProblemCount: checkpointProblems.length,
  };
}

function checkRow(previous: { seq: number; hash: string }, row: AuditRow): ChainBreak | undefined {
  if (row.previousHash !== previous.hash) {
    // A seq gap alone is normal (a transaction that appended and rolled back still used its
    // sequence value); only a gap the links do not bridge means rows were taken out.
    const gap = row.seq > previous.seq + 1;
    return {
      seq: gap ? previous.seq + 1 : row.seq,
      problem: gap ? 'missing_row' : 'broken_link',
      expected: previous.hash,
      actual: row.previousHash,
      row: summarise(row),
    };
  }
  const recomputed = auditHash(row.previousHash, row.recordedAt, { ...row, details: row.details as Record<string, unknown> });
  if (recomputed !== row.hash) {
    return { seq: row.seq, problem: 'hash_mismatch', expected: recomputed, actual: row.hash, row: summarise(row) };
  }
  return undefined;
}

function checkCheckpoint(
  keys: ReadonlyMap<string, string>,
  checkpoint: { seq: number; hash: string; signedAt: Date; keyFingerprint: string; signature: string; rowHash: string | null },
): CheckpointProblem | undefined {
  const found = (problem: CheckpointProblemKind): CheckpointProblem => ({
    seq: checkpoint.seq,
    problem,
    signedAt: checkpoint.signedAt.toISOString(),
    keyFingerprint: checkpoint.keyFingerprint,
    expected: checkpoint.hash,
    actual: checkpoint.rowHash,
  });
  const publicKey = keys.get(checkpoint.keyFingerprint);
  if (!publicKey) return found('unknown_key');
  // A checkpoint whose signature fails says nothing about the row, so its hash is not compared.
  if (!verifyBytes(publicKey, checkpointBytes(checkpoint), checkpoint.signature)) return found('bad_signature');
  if (checkpoint.rowHash === null) return found('row_missing');
  if (checkpoint.rowHash !== checkpoint.hash) return found('hash_mismatch');
  return undefined;
}

function summarise(row: AuditRow): AuditRowSummary {
  return {
    seq: row.seq,
    recordedAt: row.recordedAt.toISOString(),
    actor: row.actor,
    action: row.action,
    subjectType: row.subjectType,
    subjectId: row.subjectId,
  };
}
