import type { DefaultJobOptions } from 'bullmq';

/**
 * Every queue, its job names and their payloads. Payloads carry ids only, never media bytes
 * or secrets, so a job can be retried from the database's state alone.
 */
export interface JobMap {
  media: {
    'derive-thumbnails': { captureId: string };
  };
  screening: {
    /** Re-screens a device's captures taken in [from, to] (to null: until now) against its windows. */
    'screen-captures': { deviceId: string; from: string; to: string | null };
    /** Looks over every device for malfunctions it did not report (run on a schedule). */
    'scan-device-health': Record<string, never>;
  };
}

export type QueueName = keyof JobMap;
export type JobName<Q extends QueueName> = keyof JobMap[Q] & string;
export type JobPayload<Q extends QueueName, N extends JobName<Q>> = JobMap[Q][N];

export const QUEUE_NAMES: readonly QueueName[] = ['media', 'screening'];

/** The one place retry and retention policy is set: failed jobs are kept for inspection. */
export const DEFAULT_JOB_OPTIONS: DefaultJobOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: false,
};

/** A job id that makes enqueueing the same work twice a no-op. */
export function jobIdFor(name: string, subjectId: string): string {
  return `${name}.${subjectId}`;
}
