import { and, eq } from 'drizzle-orm';
import { mediaJobFor, queueFinding, screeningJobFor, type CaptureJob, type QueueFinding } from '../core/domain/capture-jobs.js';
import type { Logger } from '../core/infrastructure/logger.js';
import { appendAudit } from '../db/audit-log.js';
import type { Db } from '../db/client.js';
import { captures } from '../db/schema.js';
import { ageSeconds, findStuckCaptures, type StuckCapture, type StuckNeed } from '../db/stuck-captures.js';
import type { QueueRegistry } from '../core/infrastructure/queues.js';

const RECONCILER = 'system:job-reconciler';
const BATCH = 200;

export interface JobReconcilerSettings {
  /** How long a capture may wait for its job before the reconciler looks at the queue. */
  stuckAfterMs: number;
  everyMs: number;
}

export interface ReconcilePass {
  /** Stuck captures looked at, per need. */
  examined: Record<StuckNeed, number>;
  /** Captures whose job was handed to the queue again, by what the queue had of it. */
  requeued: Record<Exclude<QueueFinding, 'queued'>, number>;
  /** Stuck captures whose job is still queued: a backlog, not a loss. */
  stillQueued: number;
}

/**
 * Finds captures that have waited longer than `stuckAfterMs` in a state only a job moves on
 * (core/domain/capture-jobs.ts) and hands that job to the queue again when the queue no longer has
 * it on its way: lost to a Redis restart or FLUSHALL, failed past its attempts (a database
 * outage outlasting the backoff), or finished without moving the capture. It reads capture
 * state, never the outbox flag, so it heals whatever the queue lost. The job id is the one
 * the outbox used, and a row lock with SKIP LOCKED keeps two workers from both acting on a
 * capture; each hand-over is audited.
 */
export class JobReconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<ReconcilePass> | undefined;

  constructor(
    private readonly db: Db,
    private readonly queues: QueueRegistry,
    private readonly settings: JobReconcilerSettings,
    private readonly log: Logger,
    /** Run before each pass: restores what else the queue lost (the job schedulers). */
    private readonly beforePass: () => Promise<void> = async () => undefined,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.reconcile().catch((error: unknown) => this.log.error({ err: error }, 'job reconciliation failed; next pass retries'));
    }, this.settings.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One pass; concurrent calls share the pass in progress. */
  reconcile(): Promise<ReconcilePass> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<ReconcilePass> {
    await this.beforePass();
    const outcome: ReconcilePass = {
      examined: { screening: 0, media: 0 },
      requeued: { missing: 0, failed: 0, completed: 0 },
      stillQueued: 0,
    };
    const receivedBefore = new Date(Date.now() - this.settings.stuckAfterMs);
    for (const need of ['screening', 'media'] as const) {
      const stuck = await findStuckCaptures(this.db, need, receivedBefore, BATCH);
      outcome.examined[need] += stuck.length;
      for (const capture of stuck) {
        const finding = await this.heal(capture);
        if (finding === 'queued') outcome.stillQueued++;
        else if (finding) outcome.requeued[finding]++;
      }
    }
    const requeued = outcome.requeued.missing + outcome.requeued.failed + outcome.requeued.completed;
    if (requeued > 0) this.log.warn(outcome, 'job reconciliation handed lost jobs to the queue again');
    else this.log.debug(outcome, 'job reconciliation found nothing lost');
    return outcome;
  }

  /** Re-sends one capture's job if the queue lost it; undefined when another worker holds the capture or it moved on. */
  private async heal(capture: StuckCapture): Promise<QueueFinding | undefined> {
    const job: CaptureJob =
      capture.need === 'screening'
        ? screeningJobFor({ id: capture.id, deviceId: capture.deviceId, capturedAt: capture.capturedAt.toISOString() })
        : mediaJobFor(capture.id);
    return this.db.transaction(async (tx) => {
      const [locked] = await tx
        .select({ id: captures.id })
        .from(captures)
        .where(and(eq(captures.id, capture.id), eq(captures.state, capture.state)))
        .for('update', { skipLocked: true });
      if (!locked) return undefined;
      const queue = this.queues.get(job.queue);
      const existing = await queue.getJob(job.jobId);
      const finding = queueFinding(existing ? await existing.getState() : undefined);
      if (finding === 'queued') return finding;
      if (existing && (finding === 'failed' || finding === 'completed')) await existing.retry(finding);
      else await queue.add(job.name, job.payload, { jobId: job.jobId });
      await appendAudit(tx, {
        actor: RECONCILER,
        action: 'capture.job_requeued',
        subjectType: 'capture',
        subjectId: capture.id,
        details: {
          job: job.name,
          jobId: job.jobId,
          queueHad: finding,
          state: capture.state,
          waitedSeconds: ageSeconds(capture.receivedAt, new Date()),
        },
      });
      return finding;
    });
  }
}
