import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { QUEUE_NAMES, type JobMap, type QueueName } from '../core/domain/jobs.js';
import type { Logger } from '../core/infrastructure/logger.js';

/** One handler for every job of every queue: the compiler demands each, and start-up re-checks. */
export type JobHandlers = {
  [Q in QueueName]: { [N in keyof JobMap[Q]]: (payload: JobMap[Q][N], job: Job) => Promise<unknown> };
};

export interface WorkerHostOptions {
  connection: Redis;
  prefix: string;
  concurrency: number;
  log: Logger;
  /** Told of every attempt that ended; nothing is timed when absent. */
  onJobFinished?: JobTiming | undefined;
}

/** One attempt of a job, ended: its queue, name, whether it threw, and its run time in seconds. */
export type JobTiming = (queue: QueueName, job: string, outcome: 'completed' | 'failed', seconds: number) => void;

/** The attempt's own run time; a failed attempt that will be retried has no finishedOn yet, so it ends now. */
function runSeconds(job: Job): number {
  return Math.max(0, (job.finishedOn ?? Date.now()) - (job.processedOn ?? Date.now())) / 1000;
}

/** Starts one BullMQ Worker per queue, dispatching by job name to its handler. */
export function startWorkers(handlers: JobHandlers, options: WorkerHostOptions): { close(): Promise<void>; workers: Worker[] } {
  const workers = QUEUE_NAMES.map((queue) => {
    const byName = handlers[queue] as Record<string, ((payload: unknown, job: Job) => Promise<unknown>) | undefined>;
    if (Object.keys(byName).length === 0) throw new Error(`queue ${queue} has no job handlers`);
    const worker = new Worker(
      queue,
      async (job: Job) => {
        const handler = byName[job.name];
        if (!handler) throw new Error(`no handler for job ${queue}/${job.name}`);
        // The job itself goes along so long handlers can report progress on it.
        return handler(job.data, job);
      },
      { connection: options.connection, prefix: options.prefix, concurrency: options.concurrency },
    );
    // BullMQ emits connection trouble here; without a listener Node would crash the process.
    worker.on('error', (error) => options.log.error({ err: error, queue }, 'worker error'));
    worker.on('failed', (job, error) => {
      options.log.warn({ err: error, queue, job: job?.name, jobId: job?.id }, 'job failed');
      if (job) options.onJobFinished?.(queue, job.name, 'failed', runSeconds(job));
    });
    worker.on('completed', (job) => options.onJobFinished?.(queue, job.name, 'completed', runSeconds(job)));
    return worker;
  });
  return {
    workers,
    close: async () => {
      await Promise.all(workers.map((worker) => worker.close()));
    },
  };
}
