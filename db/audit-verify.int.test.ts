import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { asc, gte, sql, type SQL } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadOrCreateSigningKey, signBytes, type ServerSigningKey } from '../core/infrastructure/signing-key.js';
import { runAuditCli } from '../review-ui/cli/audit.js';
import { createTempDir, createTestDatabase } from '../test/support/isolated.js';
import { checkpointBytes, signChainHead } from './audit-checkpoints.js';
import { appendAudit, auditHash, type AuditEvent } from './audit-log.js';
import { verifyAuditChain, type AuditVerifyOptions } from './audit-verify.js';
import { auditCheckpoints, auditLog } from './schema.js';

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, '..');

describe('audit chain verification over a real Postgres', () => {
  let keyDir: Awaited<ReturnType<typeof createTempDir>>;
  let key: ServerSigningKey;
  let otherKey: ServerSigningKey;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    keyDir = await createTempDir('audit-keys');
    key = await loadOrCreateSigningKey(path.join(keyDir.dir, 'server.pem'));
    otherKey = await loadOrCreateSigningKey(path.join(keyDir.dir, 'other.pem'));
  });

  afterAll(async () => {
    await keyDir?.remove();
  });

  // Every test tampers with the log for good, so each gets a database of its own.
  beforeEach(async () => {
    database = await createTestDatabase('audit_verify');
  });

  afterEach(async () => {
    await database?.drop();
  });

  /** A small batch size, so breaks land on and across batch boundaries. */
  const verify = (options: Partial<AuditVerifyOptions> = {}) =>
    verifyAuditChain(database.db, { publicKeys: [key.publicKeyPem], batchSize: 4, ...options });

  async function append(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const event: AuditEvent = {
        actor: `reviewer:${i % 3}`,
        action: 'capture.approved',
        subjectType: 'capture',
        subjectId: `capture-${i}`,
        details: { note: `note ${i}`, speed: { measuredKmh: 60 + i, limitKmh: 50 } },
      };
      await database.db.transaction((tx) => appendAudit(tx, event));
    }
  }

  /** Changes the log the way a database superuser could: with the append-only triggers (and foreign keys) off. */
  async function tamper(...statements: SQL[]): Promise<void> {
    await database.db.transaction(async (tx) => {
      await tx.execute(sql`set local session_replication_role = replica`);
      for (const statement of statements) await tx.execute(statement);
    });
  }

  /** Changes the actor of row `from` and re-hashes it and every later row, so the chain stays consistent. */
  async function rewriteTail(from: number): Promise<void> {
    const rows = await database.db.select().from(auditLog).where(gte(auditLog.seq, from)).orderBy(asc(auditLog.seq));
    let previousHash = rows[0]!.previousHash;
    const statements: SQL[] = [];
    for (const row of rows) {
      const actor = row.seq === from ? 'mallory' : row.actor;
      const hash = auditHash(previousHash, row.recordedAt, { ...row, actor, details: row.details as Record<string, unknown> });
      statements.push(sql`update audit_log set actor = ${actor}, previous_hash = ${previousHash}, hash = ${hash} where seq = ${row.seq}`);
      previousHash = hash;
    }
    await tamper(...statements);
  }

  it('finds an untouched chain and its signed heads intact, reading it in batches', async () => {
    expect(await verify()).toEqual({
      ok: true,
      headSeq: null,
      rowsChecked: 0,
      checkpointsChecked: 0,
      lastSignedSeq: null,
      checkpointProblems: [],
      checkpointProblemCount: 0,
    });
    await append(6);
    await signChainHead(database.db, key);
    await append(4);
    await signChainHead(database.db, key);
    const progress: number[] = [];
    const report = await verify({ onProgress: (step) => progress.push(step.seq) });
    expect(report).toEqual({
      ok: true,
      headSeq: 10,
      rowsChecked: 10,
      checkpointsChecked: 2,
      lastSignedSeq: 10,
      checkpointProblems: [],
      checkpointProblemCount: 0,
    });
    expect(progress).toEqual([4, 8, 10, 10]);
  });

  it('is not misled by seq values a rolled-back append used up', async () => {
    await append(3);
    await database.db
      .transaction(async (tx) => {
        await appendAudit(tx, { actor: 'system', action: 'doomed', subjectType: 'capture', subjectId: 'x', details: {} });
        throw new Error('roll back');
      })
      .catch(() => undefined);
    await append(2);
    const seqs = (await database.db.select({ seq: auditLog.seq }).from(auditLog).orderBy(asc(auditLog.seq))).map((row) => row.seq);
    expect(seqs).toEqual([1, 2, 3, 5, 6]);
    expect(await verify()).toMatchObject({ ok: true, rowsChecked: 5 });
  });

  it('names the row whose details were changed', async () => {
    await append(10);
    await tamper(sql`update audit_log set details = jsonb_set(details, '{note}', '"plate illegible"') where seq = 7`);
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.firstBroken).toMatchObject({ seq: 7, problem: 'hash_mismatch', row: { seq: 7, subjectId: 'capture-6' } });
    expect(report.rowsChecked).toBe(10);
  });

  it('names the row whose actor was changed', async () => {
    await append(10);
    const [original] = await database.db
      .select()
      .from(auditLog)
      .where(sql`seq = 3`);
    await tamper(sql`update audit_log set actor = 'mallory' where seq = 3`);
    const report = await verify();
    expect(report.firstBroken).toEqual({
      seq: 3,
      problem: 'hash_mismatch',
      expected: auditHash(original!.previousHash, original!.recordedAt, {
        ...original!,
        actor: 'mallory',
        details: original!.details as Record<string, unknown>,
      }),
      actual: original!.hash,
      row: {
        seq: 3,
        recordedAt: original!.recordedAt.toISOString(),
        actor: 'mallory',
        action: 'capture.approved',
        subjectType: 'capture',
        subjectId: 'capture-2',
      },
    });
  });

  it('names the link after a row that was changed and re-hashed', async () => {
    await append(10);
    const [original] = await database.db
      .select()
      .from(auditLog)
      .where(sql`seq = 4`);
    const forged = auditHash(original!.previousHash, original!.recordedAt, {
      ...original!,
      actor: 'mallory',
      details: original!.details as Record<string, unknown>,
    });
    await tamper(sql`update audit_log set actor = 'mallory', hash = ${forged} where seq = 4`);
    expect((await verify()).firstBroken).toMatchObject({ seq: 5, problem: 'broken_link', expected: forged, actual: original!.hash });
  });

  it('names the first missing seq when a middle row is deleted, on a batch boundary or inside one', async () => {
    await append(10);
    await tamper(sql`delete from audit_log where seq = 5`);
    expect((await verify()).firstBroken).toMatchObject({ seq: 5, problem: 'missing_row', row: { seq: 6 } });
    await tamper(sql`delete from audit_log where seq in (2, 3)`);
    expect((await verify()).firstBroken).toMatchObject({ seq: 2, problem: 'missing_row', row: { seq: 4 } });
  });

  it('catches a consistent rewrite of the tail only by the signed head it covers', async () => {
    await append(3);
    await signChainHead(database.db, key);
    await append(3);
    await signChainHead(database.db, key);
    await append(4);
    await rewriteTail(5);

    const report = await verify();
    // The chain alone holds: every row hashes and links correctly after the rewrite.
    expect(report.firstBroken).toBeUndefined();
    expect(report.ok).toBe(false);
    expect(report.checkpointProblems).toEqual([
      expect.objectContaining({ seq: 6, problem: 'hash_mismatch', keyFingerprint: key.fingerprint }),
    ]);
    // The head signed at seq 3 still holds, so the rewrite lies in rows 4 to 6.
    expect(report.lastSignedSeq).toBe(3);
  });

  it('catches a truncated tail through the signed head that pointed into it', async () => {
    await append(6);
    await signChainHead(database.db, key);
    await tamper(sql`delete from audit_log where seq >= 5`);
    const report = await verify();
    expect(report.firstBroken).toBeUndefined();
    expect(report.headSeq).toBe(4);
    expect(report.checkpointProblems).toEqual([expect.objectContaining({ seq: 6, problem: 'row_missing', actual: null })]);
  });

  it('reports a forged checkpoint signature, an altered checkpoint and a checkpoint by an unknown key', async () => {
    await append(9);
    const head = async (seq: number) =>
      (
        await database.db
          .select()
          .from(auditLog)
          .where(sql`seq = ${seq}`)
      )[0]!;
    // Claims the server key's fingerprint but was signed with another key.
    const forged = { seq: 3, hash: (await head(3)).hash, signedAt: new Date() };
    await database.db
      .insert(auditCheckpoints)
      .values({ ...forged, keyFingerprint: key.fingerprint, signature: signBytes(otherKey, checkpointBytes(forged)) });
    // Genuinely signed, then moved to a later time.
    const genuine = { seq: 6, hash: (await head(6)).hash, signedAt: new Date() };
    await database.db
      .insert(auditCheckpoints)
      .values({ ...genuine, keyFingerprint: key.fingerprint, signature: signBytes(key, checkpointBytes(genuine)) });
    await tamper(sql`update audit_checkpoints set signed_at = signed_at + interval '1 second' where seq = 6`);
    await signChainHead(database.db, otherKey);

    const report = await verify();
    expect(report.firstBroken).toBeUndefined();
    expect(report.checkpointProblems.map(({ seq, problem }) => ({ seq, problem }))).toEqual([
      { seq: 3, problem: 'bad_signature' },
      { seq: 6, problem: 'bad_signature' },
      { seq: 9, problem: 'unknown_key' },
    ]);
    // After a key rotation both public keys are given, and the old key's heads still count.
    const rotated = await verify({ publicKeys: [key.publicKeyPem, otherKey.publicKeyPem] });
    expect(rotated.checkpointProblems.map(({ problem }) => problem)).toEqual(['bad_signature', 'bad_signature']);
    expect(rotated.lastSignedSeq).toBe(9);
  });

  it('keeps only the first checkpoint problems however many there are', async () => {
    for (let i = 0; i < 5; i++) {
      await append(1);
      await signChainHead(database.db, otherKey);
    }
    const report = await verify({ maxCheckpointProblems: 2 });
    expect(report.checkpointProblems.map(({ seq }) => seq)).toEqual([1, 2]);
    expect(report.checkpointProblemCount).toBe(5);
    expect(report.checkpointsChecked).toBe(5);
  });

  describe('npm run audit:verify', () => {
    function cliEnv(): NodeJS.ProcessEnv {
      return { ...process.env, DATABASE_URL: database.url, SIGNING_KEY_FILE: path.join(keyDir.dir, 'server.pem'), LOG_LEVEL: 'silent' };
    }

    /** The command in this process: what it reports and how it exits, without the seconds a Node start costs. */
    async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
      const stdout: string[] = [];
      const stderr: string[] = [];
      const code = await runAuditCli(args, cliEnv(), {
        out: (line) => stdout.push(`${line}\n`),
        err: (line) => stderr.push(`${line}\n`),
        progress: { write: (text) => stderr.push(text) },
      });
      return { code, stdout: stdout.join(''), stderr: stderr.join('') };
    }

    /** The command as its own process, for what only the script's wiring decides: the exit code and the printing. */
    function spawnCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
      // Node with the tsx loader, which is what the `tsx` the npm script calls ends up running, without
      // the npx lookup and the extra process that cost seconds on every call.
      return run(process.execPath, ['--import', 'tsx', 'review-ui/cli/audit.ts', ...args], { cwd: repoRoot, env: cliEnv() }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
      );
    }

    it('exits 0 on an intact log and signs its head', async () => {
      await append(5);
      const signed = await cli('sign-head');
      expect(signed).toMatchObject({ code: 0, stdout: expect.stringContaining('Signed audit head seq 5') as unknown });
      const verified = await cli('verify');
      expect(verified).toMatchObject({ code: 0, stdout: expect.stringContaining('Audit log intact: 5 rows') as unknown });
    });

    it('exits 1 naming the broken row, for people and as JSON', async () => {
      await append(8);
      await tamper(sql`update audit_log set actor = 'mallory' where seq = 6`);
      // Verifying only reads, so both reports are asked for at once.
      const [human, machine] = await Promise.all([spawnCli('verify'), cli('verify', '--json')]);
      expect(human.code).toBe(1);
      expect(human.stdout).toContain('First broken link at seq 6: hash_mismatch');
      expect(human.stdout).toContain('seq 6, recorded_at ');
      expect(human.stdout).toContain('actor mallory, action capture.approved, subject capture capture-5');

      expect(machine.code).toBe(1);
      expect(JSON.parse(machine.stdout)).toMatchObject({ ok: false, rowsChecked: 8, firstBroken: { seq: 6, problem: 'hash_mismatch' } });
    });

    it('verifies with only a public key file, and exits 2 when it cannot check at all', async () => {
      await append(2);
      await signChainHead(database.db, key);
      const publicOnly = path.join(keyDir.dir, 'server.pub.pem');
      await writeFile(publicOnly, key.publicKeyPem);
      const stranger = path.join(keyDir.dir, 'stranger.pub.pem');
      await writeFile(stranger, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
      // None of these writes anything, so they run side by side.
      const [withPublicKey, withStranger, withAbsentKey, unknownCommand] = await Promise.all([
        cli('verify', '--public-key', publicOnly),
        cli('verify', '--public-key', stranger),
        cli('verify', '--public-key', path.join(keyDir.dir, 'absent.pem')),
        cli('frobnicate'),
      ]);
      expect(withPublicKey).toMatchObject({ code: 0 });
      expect(withStranger).toMatchObject({
        code: 1,
        stdout: expect.stringContaining('unknown_key') as unknown,
      });
      expect(withAbsentKey).toMatchObject({ code: 2 });
      expect(unknownCommand).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command frobnicate') as unknown });
    });
  });
});
