import { asc, inArray, isNull } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { outbox } from '../db/schema.js';
import type { Logger } from '../core/infrastructure/logger.js';
import type { QueueRegistry } from '../core/infrastructure/queues.js';

/**
 * Hands outbox rows to BullMQ. The row is written in the same transaction as the state change
 * it follows from, so a job lost to a crash or a Redis restart is re-sent by the next pass;
 * the job id makes a second send a no-op.
 */
export class OutboxDispatcher {
  private running: Promise<number> | undefined;
  private again = false;

  constructor(
    private readonly db: Db,
    private readonly queues: QueueRegistry,
    private readonly log: Logger,
  ) {}

  /** Dispatches everything pending; concurrent calls coalesce into one more pass. */
  async dispatch(): Promise<number> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async drain(): Promise<number> {
    let total = 0;
    do {
      this.again = false;
      for (;;) {
        const pending = await this.db.select().from(outbox).where(isNull(outbox.dispatchedAt)).orderBy(asc(outbox.id)).limit(200);
        if (pending.length === 0) break;
        const sent: number[] = [];
        for (const row of pending) {
          try {
            await this.queues.enqueueRaw(row.queue, row.jobName, row.payload, row.jobId);
            sent.push(row.id);
          } catch (error) {
            // One bad row must not hold back the rest; it stays pending and is logged on every pass.
            this.log.error({ err: error, outboxId: row.id, job: row.jobName }, 'outbox row could not be enqueued');
          }
        }
        if (sent.length > 0) await this.db.update(outbox).set({ dispatchedAt: new Date() }).where(inArray(outbox.id, sent));
        total += sent.length;
        if (sent.length < pending.length) break;
      }
    } while (this.again);
    if (total > 0) this.log.debug({ jobs: total }, 'outbox dispatched');
    return total;
  }
}
