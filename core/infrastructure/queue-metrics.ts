import { Gauge, type Registry } from 'prom-client';
import type { Queue } from 'bullmq';

const STATES = ['waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized', 'waiting-children'] as const;
const NAME = 'verity_queue_jobs';

/** Jobs per queue and state, asked of Redis at each scrape: a growing `waiting` or `failed` is work stuck. */
export function registerQueueMetrics(registry: Registry, queues: readonly Queue[]): void {
  // All-in-one's ingest and workers share one registry and one Redis: the first to register already counts every queue.
  if (registry.getSingleMetric(NAME)) return;
  new Gauge({
    name: NAME,
    help: 'Jobs in each BullMQ queue, by state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const queue of queues) {
        const counts = await queue.getJobCounts(...STATES);
        for (const state of STATES) this.set({ queue: queue.name, state }, counts[state] ?? 0);
      }
    },
  });
}
