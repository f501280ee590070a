import { sql, type SQL } from 'drizzle-orm';
import { QUEUE_NAMES } from '../core/domain/jobs.js';
import type { Config } from '../core/domain/config.js';
import type { Logger } from '../core/infrastructure/logger.js';
import type { Db } from '../db/client.js';
import { rowsOf } from '../db/rows.js';
import type { QueueRegistry } from '../core/infrastructure/queues.js';

export type HousekeepingSettings = Omit<Config['housekeeping'], 'everyMs'>;

export interface HousekeepingCounts {
  outboxRows: number;
  sessions: number;
  failedJobs: number;
}

const FAILED_JOBS_PER_QUEUE_PASS = 1000;
const ROWS_PER_DELETE = 5000;

/** Deletes what `select` finds, a bounded batch per statement, so a first run over months of rows neither locks nor times out. */
async function deleteInBatches(db: Db, select: SQL, table: SQL, key: SQL): Promise<number> {
  let total = 0;
  for (;;) {
    const [row] = rowsOf<{ deleted: number }>(
      await db.execute(
        sql`with gone as (delete from ${table} where ${key} in (${select} limit ${ROWS_PER_DELETE}) returning 1) select count(*)::int as deleted from gone`,
      ),
    );
    const deleted = Number(row?.deleted ?? 0);
    total += deleted;
    if (deleted < ROWS_PER_DELETE) return total;
  }
}

/**
 * Deletes finished work nothing reads any more, each kind once older than its keep time:
 * outbox rows already handed to the queue (the reconciler works from capture state, not
 * from them), sessions that ended or expired, and failed job records (kept meanwhile for
 * inspection). Staged media chunks are the gateway's to expire, because it can tell the
 * device. Nothing evidential is touched: the audit log, captures, media and decisions are
 * kept by their own rules.
 */
export async function sweepFinishedWork(
  db: Db,
  queues: QueueRegistry,
  settings: HousekeepingSettings,
  now = new Date(),
): Promise<HousekeepingCounts> {
  const before = (keepMs: number) => new Date(now.getTime() - keepMs);
  const sessionCutoff = before(settings.endedSessionKeepMs);
  const outboxRows = await deleteInBatches(
    db,
    sql`select id from outbox where dispatched_at is not null and dispatched_at < ${before(settings.outboxKeepMs)}`,
    sql`outbox`,
    sql`id`,
  );
  const endedSessions = await deleteInBatches(
    db,
    sql`select token_sha256 from sessions where expires_at < ${sessionCutoff} or ended_at < ${sessionCutoff}`,
    sql`sessions`,
    sql`token_sha256`,
  );
  let failedJobs = 0;
  for (const name of QUEUE_NAMES) {
    failedJobs += (await queues.get(name).clean(settings.failedJobKeepMs, FAILED_JOBS_PER_QUEUE_PASS, 'failed')).length;
  }
  return { outboxRows, sessions: endedSessions, failedJobs };
}

/** Runs the sweep on a timer of its own (a Redis-side schedule would vanish with a FLUSHALL), logging the counts. */
export function scheduleHousekeeping(
  db: Db,
  queues: QueueRegistry,
  settings: Config['housekeeping'],
  log: Logger,
): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const run = () => {
    running ??= sweepFinishedWork(db, queues, settings)
      .then((counts) => log.info({ deleted: counts }, 'housekeeping deleted finished work'))
      .catch((error: unknown) => log.error({ err: error }, 'housekeeping failed; the next run retries'))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(run, settings.everyMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
