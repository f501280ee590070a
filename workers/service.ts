import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { systemClock, type Clock } from '../core/domain/clock.js';
import { loadConfig, type Config } from '../core/domain/config.js';
import { jobIdFor } from '../core/domain/jobs.js';
import { registerCaptureMetrics } from '../core/infrastructure/capture-metrics.js';
import type { Logger } from '../core/infrastructure/logger.js';
import type { MediaStore } from '../core/infrastructure/media-store.js';
import { loadOrCreateSigningKey } from '../core/infrastructure/signing-key.js';
import type { Database } from '../db/client.js';
import { aggregateCaptures } from './handlers/aggregate-captures.js';
import { deriveMedia } from './handlers/derive-media.js';
import { purgeCaptures } from './handlers/purge-captures.js';
import { scanDeviceHealth } from './handlers/scan-device-health.js';
import { signAuditHead } from './handlers/sign-audit-head.js';
import { screenCaptures } from './handlers/screen-captures.js';
import { screenHotspots } from './handlers/screen-hotspots.js';
import { scheduleHousekeeping } from './housekeeping.js';
import { registerJobMetrics } from './job-metrics.js';
import { JobReconciler } from './job-reconciler.js';
import { registerQueueMetrics } from '../core/infrastructure/queue-metrics.js';
import { QueueRegistry } from '../core/infrastructure/queues.js';
import { configureImageCache } from './memory-settings.js';
import { startWorkers, type JobHandlers } from './worker-host.js';

export interface WorkersRoleOptions {
  database: Database;
  store: MediaStore;
  redis: Redis;
  queuePrefix: string;
  concurrency: number;
  /** How often to scan the fleet for unreported malfunctions; no schedule when absent. */
  healthScanEveryMs?: number;
  /** The server signing key's file and how often to sign the audit head; without it this worker neither signs nor schedules signing. */
  signing?: Config['signing'];
  /** Hotspot analysis settings; without them the analytics jobs run on the defaults and nothing schedules them. */
  analytics?: Config['analytics'];
  /** When captures count as stranded; with it, this worker re-sends the jobs the queue lost. */
  jobs?: Config['jobs'];
  /** With it, this worker deletes finished work on a schedule. */
  housekeeping?: Config['housekeeping'];
  /** When personal data is purged; with it, this worker schedules the purge, without it the job runs on the defaults. */
  retention?: Config['retention'];
  /** What the retention and erasure clocks read as now; the real time when absent. */
  clock?: Clock;
  /** How far apart two captures of one act may be and still be one incident; the default when absent. */
  incidentWindowMs?: number;
  /** Where the workers' series go (their health server's `/metrics`); none are kept when absent. */
  metrics?: Registry;
  log: Logger;
}

export interface WorkersRole {
  queues: QueueRegistry;
  /** Null when started without `jobs`. */
  reconciler: JobReconciler | null;
  stop(): Promise<void>;
}

/** Starts a BullMQ worker for every queue, each job name bound to its one handler, and the health-scan and audit-signing schedules. */
export async function startWorkersRole(options: WorkersRoleOptions): Promise<WorkersRole> {
  const deps = {
    database: options.database,
    store: options.store,
    incidentWindowMs: options.incidentWindowMs ?? loadConfig({}).review.incidentWindowMs,
  };
  const log = options.log.child({ role: 'workers' });
  configureImageCache();
  // Loaded before any worker starts, so an unreadable key stops start-up instead of failing every signing job.
  const signing = options.signing && {
    key: await loadOrCreateSigningKey(options.signing.keyFile),
    everyMs: options.signing.auditSignEveryMs,
  };
  if (!signing) log.warn('no signing key given: this worker will not sign audit chain heads');
  const queues = new QueueRegistry(options.redis, options.queuePrefix);
  const analytics = { database: options.database, settings: options.analytics ?? loadConfig({}).analytics, log };
  const handlers: JobHandlers = {
    media: {
      // The job keeps its first name so outbox rows and queued jobs from before still find it.
      'derive-thumbnails': (payload) => deriveMedia(deps, payload),
    },
    screening: {
      'screen-captures': (payload) => screenCaptures(deps, payload),
      'scan-device-health': () => scanDeviceHealth(deps),
    },
    audit: {
      // A keyless worker fails the job rather than dropping it: a retry can reach one that has the key.
      'sign-chain-head': () =>
        signing
          ? signAuditHead({ ...deps, signingKey: signing.key })
          : Promise.reject(new Error('this worker was started without a signing key')),
    },
    retention: {
      'purge-captures': () =>
        purgeCaptures({
          database: options.database,
          store: options.store,
          settings: options.retention ?? loadConfig({}).retention,
          clock: options.clock ?? systemClock,
          log,
        }),
    },
    analytics: {
      'aggregate-captures': async (_payload, job) => {
        const outcome = await aggregateCaptures(analytics, job);
        // Every aggregation screens after it: named after the aggregation job, so only a retry of
        // the same aggregation queues nothing new (an id from the audit row and the hour made a
        // second aggregation in the same hour with no new audit row screen nothing).
        const jobId = jobIdFor('screen-hotspots', `after-${job.id ?? outcome.auditSeq}`);
        await queues.enqueue('analytics', 'screen-hotspots', {}, jobId);
        return outcome;
      },
      'screen-hotspots': (_payload, job) => screenHotspots(analytics, job),
    },
  };
  const host = startWorkers(handlers, {
    connection: options.redis,
    prefix: options.queuePrefix,
    concurrency: options.concurrency,
    log,
    onJobFinished: options.metrics && registerJobMetrics(options.metrics),
  });
  if (options.metrics) {
    registerQueueMetrics(options.metrics, queues.all());
    // Stranded by the same measure as the reconciler and the health check, default or configured.
    registerCaptureMetrics(options.metrics, options.database.db, (options.jobs ?? loadConfig({}).jobs).stuckAfterMs);
  }
  // Upserted at start and again before every reconciliation: the schedules live in Redis, so a
  // FLUSHALL or a restart of a Redis without persistence would otherwise end them for good.
  const ensureSchedules = async () => {
    if (options.healthScanEveryMs) {
      // One scheduler id for the whole fleet of workers: BullMQ keeps a single schedule however many start.
      await queues
        .get('screening')
        .upsertJobScheduler('device-health-scan', { every: options.healthScanEveryMs }, { name: 'scan-device-health', data: {} });
    }
    if (signing) {
      await queues.get('audit').upsertJobScheduler('audit-head-signing', { every: signing.everyMs }, { name: 'sign-chain-head', data: {} });
    }
    if (options.analytics) {
      await queues
        .get('analytics')
        .upsertJobScheduler('analytics-aggregation', { every: options.analytics.everyMs }, { name: 'aggregate-captures', data: {} });
    }
    if (options.retention) {
      await queues
        .get('retention')
        .upsertJobScheduler('retention-purge', { every: options.retention.everyMs }, { name: 'purge-captures', data: {} });
    }
  };
  await ensureSchedules();
  const reconciler = options.jobs
    ? new JobReconciler(
        options.database.db,
        queues,
        { stuckAfterMs: options.jobs.stuckAfterMs, everyMs: options.jobs.reconcileEveryMs },
        log,
        ensureSchedules,
      )
    : null;
  reconciler?.start();
  const housekeeping = options.housekeeping ? scheduleHousekeeping(options.database.db, queues, options.housekeeping, log) : null;
  return {
    reconciler,
    queues,
    stop: async () => {
      await reconciler?.stop();
      await housekeeping?.stop();
      await host.close();
      await queues.close();
    },
  };
}
