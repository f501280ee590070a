import type { Redis } from 'ioredis';
import type { Logger } from '../core/logger.js';
import type { MediaStore } from '../core/media-store.js';
import type { Database } from '../db/client.js';
import { deriveMedia } from './handlers/derive-media.js';
import { scanDeviceHealth } from './handlers/scan-device-health.js';
import { screenCaptures } from './handlers/screen-captures.js';
import { QueueRegistry } from './queues.js';
import { startWorkers, type JobHandlers } from './worker-host.js';

export interface WorkersRoleOptions {
  database: Database;
  store: MediaStore;
  redis: Redis;
  queuePrefix: string;
  concurrency: number;
  /** How often to scan the fleet for unreported malfunctions; no schedule when absent. */
  healthScanEveryMs?: number;
  log: Logger;
}

/** Starts a BullMQ worker for every queue, each job name bound to its one handler, and the health-scan schedule. */
export async function startWorkersRole(options: WorkersRoleOptions): Promise<{ stop(): Promise<void> }> {
  const deps = { database: options.database, store: options.store };
  const handlers: JobHandlers = {
    media: {
      // The job keeps its first name so outbox rows and queued jobs from before still find it.
      'derive-thumbnails': (payload) => deriveMedia(deps, payload),
    },
    screening: {
      'screen-captures': (payload) => screenCaptures(deps, payload),
      'scan-device-health': () => scanDeviceHealth(deps),
    },
  };
  const host = startWorkers(handlers, {
    connection: options.redis,
    prefix: options.queuePrefix,
    concurrency: options.concurrency,
    log: options.log.child({ role: 'workers' }),
  });
  const queues = new QueueRegistry(options.redis, options.queuePrefix);
  if (options.healthScanEveryMs) {
    // One scheduler id for the whole fleet of workers: BullMQ keeps a single schedule however many start.
    await queues
      .get('screening')
      .upsertJobScheduler('device-health-scan', { every: options.healthScanEveryMs }, { name: 'scan-device-health', data: {} });
  }
  return {
    stop: async () => {
      await host.close();
      await queues.close();
    },
  };
}
