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
  audit: {
    /** Signs the audit chain's current last row, if not signed yet (run on a schedule). */
    'sign-chain-head': Record<string, never>;
  };
  analytics: {
    /** Recounts the aggregate tables for the days whose captures changed (run on a schedule), then queues a screening. */
    'aggregate-captures': Record<string, never>;
    /** Screens the network for hotspots and device anomalies from the aggregates and stores the results as a run. */
    'screen-hotspots': Record<string, never>;
  };
  retention: {
    /** Purges the personal data of captures whose retention or erasure clock ran out (run on a schedule). */
    'purge-captures': Record<string, never>;
  };
}

export type QueueName = keyof JobMap;
export type JobName<Q extends QueueName> = keyof JobMap[Q] & string;
export type JobPayload<Q extends QueueName, N extends JobName<Q>> = JobMap[Q][N];

// A record rather than a list so the compiler refuses a queue added to JobMap but not here,
// whose jobs no worker would then ever take.
const QUEUES: Record<QueueName, true> = { media: true, screening: true, audit: true, analytics: true, retention: true };
export const QUEUE_NAMES = Object.keys(QUEUES) as readonly QueueName[];

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
