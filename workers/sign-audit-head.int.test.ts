import path from 'node:path';
import { eq } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../core/infrastructure/media-store.js';
import { loadOrCreateSigningKey } from '../core/infrastructure/signing-key.js';
import { appendAudit } from '../db/audit-log.js';
import { verifyAuditChain } from '../db/audit-verify.js';
import { auditCheckpoints } from '../db/schema.js';
import { createTempDir, createTestDatabase, createTestRedis, waitFor } from '../test/support/isolated.js';
import { signAuditHead } from './handlers/sign-audit-head.js';
import { QueueRegistry } from '../core/infrastructure/queues.js';
import { startWorkersRole } from './service.js';

describe('sign-chain-head job over real Postgres and Redis', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let keyDir: Awaited<ReturnType<typeof createTempDir>>;
  let appended = 0;

  beforeAll(async () => {
    database = await createTestDatabase('sign_audit_head');
    keyDir = await createTempDir('sign-audit-head');
  });

  afterAll(async () => {
    await database?.drop();
    await keyDir?.remove();
  });

  const append = () =>
    database.db.transaction((tx) =>
      appendAudit(tx, { actor: 'system:test', action: 'test.event', subjectType: 'test', subjectId: String(++appended), details: {} }),
    );

  const roleOptions = (redis: ReturnType<typeof createTestRedis>) => ({
    database,
    store: new FilesystemMediaStore(keyDir.dir),
    redis: redis.redis,
    queuePrefix: redis.prefix,
    concurrency: 1,
    log: pino({ level: 'silent' }),
  });

  it('signs a new head once and leaves a signed head alone', async () => {
    const signingKey = await loadOrCreateSigningKey(path.join(keyDir.dir, 'direct.pem'));
    expect(await signAuditHead({ database, signingKey })).toEqual({ seq: null });
    await append();
    await append();
    expect(await signAuditHead({ database, signingKey })).toMatchObject({ seq: 2, created: true });
    expect(await signAuditHead({ database, signingKey })).toMatchObject({ seq: 2, created: false });
    await append();
    expect(await signAuditHead({ database, signingKey })).toMatchObject({ seq: 3, created: true });
  });

  it('runs on its schedule with the key the worker loaded at start', async () => {
    const redis = createTestRedis('sign_audit_head');
    const keyFile = path.join(keyDir.dir, 'scheduled.pem');
    const workers = await startWorkersRole({ ...roleOptions(redis), signing: { keyFile, auditSignEveryMs: 300 } });
    const queues = new QueueRegistry(redis.redis, redis.prefix);
    try {
      expect((await queues.get('audit').getJobSchedulers()).map((scheduler) => scheduler.key)).toEqual(['audit-head-signing']);
      await append();
      const head = appended;
      const checkpoint = await waitFor('the scheduled checkpoint', async () => {
        const [row] = await database.db.select().from(auditCheckpoints).where(eq(auditCheckpoints.seq, head));
        return row;
      });
      const key = await loadOrCreateSigningKey(keyFile);
      expect(checkpoint.keyFingerprint).toBe(key.fingerprint);
      const report = await verifyAuditChain(database.db, {
        publicKeys: [key.publicKeyPem, (await loadOrCreateSigningKey(path.join(keyDir.dir, 'direct.pem'))).publicKeyPem],
      });
      expect(report).toMatchObject({ ok: true, lastSignedSeq: head });
    } finally {
      await queues.close();
      await workers.stop();
      await redis.cleanup();
    }
  });

  it('fails the job on a worker started without a key, so a retry can reach one that has it', async () => {
    const redis = createTestRedis('sign_audit_head_keyless');
    const workers = await startWorkersRole(roleOptions(redis));
    const queues = new QueueRegistry(redis.redis, redis.prefix);
    try {
      expect(await queues.get('audit').getJobSchedulers()).toEqual([]);
      await queues.enqueue('audit', 'sign-chain-head', {}, 'sign-chain-head.keyless');
      const failedReason = await waitFor('the first failed attempt', async () => {
        const job = await queues.get('audit').getJob('sign-chain-head.keyless');
        return job?.failedReason || undefined;
      });
      expect(failedReason).toBe('this worker was started without a signing key');
    } finally {
      await queues.close();
      await workers.stop();
      await redis.cleanup();
    }
  });
});
