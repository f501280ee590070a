import type { Redis } from 'ioredis';
import type { Logger } from '../core/logger.js';
import type { MediaStore } from '../core/media-store.js';
import type { Database } from '../db/client.js';
import { deriveThumbnails } from './handlers/derive-thumbnails.js';
import { screenCaptures } from './handlers/screen-captures.js';
import { startWorkers, type JobHandlers } from './worker-host.js';

export interface WorkersRoleOptions {
  database: Database;
  store: MediaStore;
  redis: Redis;
  queuePrefix: string;
  concurrency: number;
  log: Logger;
}

/** Starts a BullMQ worker for every queue, each job name bound to its one handler. */
export function startWorkersRole(options: WorkersRoleOptions): { stop(): Promise<void> } {
  const deps = { database: options.database, store: options.store };
  const handlers: JobHandlers = {
    media: {
      'derive-thumbnails': (payload) => deriveThumbnails(deps, payload),
    },
    screening: {
      'screen-captures': (payload) => screenCaptures(deps, payload),
    },
  };
  const host = startWorkers(handlers, {
    connection: options.redis,
    prefix: options.queuePrefix,
    concurrency: options.concurrency,
    log: options.log.child({ role: 'workers' }),
  });
  return { stop: () => host.close() };
}
