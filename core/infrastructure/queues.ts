import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { DEFAULT_JOB_OPTIONS, QUEUE_NAMES, type JobMap, type JobName, type JobPayload, type QueueName } from '../domain/jobs.js';

/** One BullMQ Queue per queue name, sharing a connection and the default job options. */
export class QueueRegistry {
  private readonly queues = new Map<QueueName, Queue>();

  constructor(connection: Redis, prefix: string) {
    for (const name of QUEUE_NAMES) {
      this.queues.set(name, new Queue(name, { connection, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS }));
    }
  }

  get(name: QueueName): Queue {
    const queue = this.queues.get(name);
    if (!queue) throw new Error(`unknown queue ${name}`);
    return queue;
  }

  async enqueue<Q extends QueueName, N extends JobName<Q>>(queue: Q, name: N, payload: JobPayload<Q, N>, jobId: string): Promise<void> {
    await this.get(queue).add(name, payload, { jobId });
  }

  /** For the outbox, whose rows were typed when written; checks the names still exist. */
  async enqueueRaw(queue: string, name: string, payload: unknown, jobId: string): Promise<void> {
    if (!isQueueName(queue)) throw new Error(`outbox names unknown queue ${queue}`);
    await this.get(queue).add(name, payload, { jobId });
  }

  all(): Queue[] {
    return [...this.queues.values()];
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
  }
}

function isQueueName(name: string): name is QueueName {
  return (QUEUE_NAMES as readonly string[]).includes(name);
}

export type { JobMap };
