import { randomBytes } from 'node:crypto';
import { Worker } from 'bullmq';
import fc from 'fast-check';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../core/domain/config.js';
import { outbox, sessions } from '../db/schema.js';
import { createPerson } from '../review-ui/people/people.js';
import { createTestDatabase, createTestRedis, waitFor } from '../test/support/isolated.js';
import { sweepFinishedWork } from './housekeeping.js';
import { QueueRegistry } from '../core/infrastructure/queues.js';

const DAY = 24 * 3600 * 1000;
const settings = (({ everyMs: _everyMs, ...rest }) => rest)(loadConfig({}).housekeeping);

describe('housekeeping', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let redis: ReturnType<typeof createTestRedis>;
  let queues: QueueRegistry;
  let personId: string;

  beforeAll(async () => {
    database = await createTestDatabase('housekeeping');
    redis = createTestRedis('housekeeping');
    queues = new QueueRegistry(redis.redis, redis.prefix);
    const created = await createPerson(database.db, 'test', {
      username: 'keeper',
      displayName: 'Keeper',
      password: `pw-${randomBytes(12).toString('hex')}`,
      roles: ['auditor'],
    });
    if (!created.ok) throw new Error(created.error);
    personId = created.person.id;
  });

  afterAll(async () => {
    await queues?.close();
    await redis?.cleanup();
    await database?.drop();
  });

  const count = async (table: typeof outbox | typeof sessions) => {
    const [row] = await database.db.select({ count: sql<number>`count(*)::int` }).from(table);
    return Number(row?.count ?? 0);
  };

  it('deletes exactly what is past its keep time, however many runs race, and keeps the rest', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          oldDispatched: fc.integer({ min: 0, max: 30 }),
          recentDispatched: fc.integer({ min: 0, max: 10 }),
          oldPending: fc.integer({ min: 0, max: 5 }),
          oldExpired: fc.integer({ min: 0, max: 10 }),
          oldEnded: fc.integer({ min: 0, max: 10 }),
          live: fc.integer({ min: 0, max: 10 }),
        }),
        async (plan) => {
          await database.db.execute(sql`truncate outbox, sessions`);
          const now = Date.now();
          const at = (agoMs: number) => new Date(now - agoMs);
          const rows = <T>(n: number, make: (index: number) => T): T[] => Array.from({ length: n }, (_, index) => make(index));
          const job = (dispatchedAt: Date | null, index: number) => ({
            queue: 'media',
            jobName: 'derive-thumbnails',
            jobId: `j-${randomBytes(6).toString('hex')}-${index}`,
            payload: {},
            dispatchedAt,
          });
          const outboxRows = [
            ...rows(plan.oldDispatched, (i) => job(at(settings.outboxKeepMs + DAY), i)),
            ...rows(plan.recentDispatched, (i) => job(at(settings.outboxKeepMs - DAY), i)),
            // Never handed to the queue: kept however old, the dispatcher still owes it.
            ...rows(plan.oldPending, (i) => ({ ...job(null, i), createdAt: at(settings.outboxKeepMs + DAY) })),
          ];
          if (outboxRows.length > 0) await database.db.insert(outbox).values(outboxRows);
          const session = (expiresAt: Date, endedAt: Date | null) => ({
            tokenSha256: randomBytes(32).toString('hex'),
            personId,
            expiresAt,
            endedAt,
          });
          const sessionRows = [
            ...rows(plan.oldExpired, () => session(at(settings.endedSessionKeepMs + DAY), null)),
            ...rows(plan.oldEnded, () => session(new Date(now + DAY), at(settings.endedSessionKeepMs + DAY))),
            ...rows(plan.live, () => session(new Date(now + DAY), null)),
          ];
          if (sessionRows.length > 0) await database.db.insert(sessions).values(sessionRows);

          // Twenty workers' timers firing at once must delete each row once and fail none.
          const runs = await Promise.all(Array.from({ length: 20 }, () => sweepFinishedWork(database.db, queues, settings)));
          const total = (key: 'outboxRows' | 'sessions') => runs.reduce((sum, run) => sum + run[key], 0);
          expect(total('outboxRows')).toBe(plan.oldDispatched);
          expect(total('sessions')).toBe(plan.oldExpired + plan.oldEnded);
          expect(await count(outbox)).toBe(plan.recentDispatched + plan.oldPending);
          expect(await count(sessions)).toBe(plan.live);
        },
      ),
      { numRuns: 15 },
    );
  });

  it('deletes failed job records past their keep time and keeps newer ones', async () => {
    const queue = queues.get('audit');
    const worker = new Worker('audit', () => Promise.reject(new Error('fails on purpose')), {
      connection: redis.redis,
      prefix: redis.prefix,
    });
    worker.on('error', () => undefined);
    try {
      for (let index = 0; index < 3; index++) await queue.add('sign-chain-head', {}, { jobId: `fail-${index}`, attempts: 1 });
      await waitFor('three failed jobs', async () => ((await queue.getFailedCount()) === 3 ? true : undefined));
      const keep = await sweepFinishedWork(database.db, queues, settings);
      expect(keep.failedJobs).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const swept = await sweepFinishedWork(database.db, queues, { ...settings, failedJobKeepMs: 10 });
      expect(swept.failedJobs).toBe(3);
      expect(await queue.getFailedCount()).toBe(0);
    } finally {
      await worker.close();
    }
  });
});
