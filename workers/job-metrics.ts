import { Counter, Histogram, type Registry } from 'prom-client';
import type { JobTiming } from './worker-host.js';

/**
 * `verity_job_duration_seconds{queue,job,outcome}` and `verity_job_failures_total{queue,job}`,
 * fed by the Workers' `completed` and `failed` events. Buckets reach past ten minutes: an
 * analytics aggregation or a long video's derivation takes that long.
 */
export function registerJobMetrics(registry: Registry): JobTiming {
  const duration = new Histogram({
    name: 'verity_job_duration_seconds',
    help: 'Seconds one attempt of a job ran on this worker (finishedOn - processedOn), by queue, job name and outcome (completed, failed)',
    labelNames: ['queue', 'job', 'outcome'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180, 600],
    registers: [registry],
  });
  const failures = new Counter({
    name: 'verity_job_failures_total',
    help: 'Job attempts that threw on this worker, retried ones included; verity_queue_jobs{state="failed"} holds the jobs out of attempts',
    labelNames: ['queue', 'job'],
    registers: [registry],
  });
  return (queue, job, outcome, seconds) => {
    duration.observe({ queue, job, outcome }, seconds);
    if (outcome === 'failed') failures.inc({ queue, job });
  };
}
