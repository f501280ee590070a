import { buildHealthServer } from '../core/infrastructure/health.js';
import { startOrExit } from '../core/infrastructure/lifecycle.js';
import { createMetricsRegistry } from '../core/infrastructure/metrics.js';
import { createMediaStore } from '../core/infrastructure/media-store-factory.js';
import { databaseCheck, redisCheck, strandedCapturesCheck } from '../core/infrastructure/probes.js';
import { beginRoleProcess, connectRoleRedis, openRoleDatabase } from '../core/infrastructure/role-process.js';
import { allocatorWarning, runtimeGlibcVersion } from './memory-settings.js';
import { startWorkersRole } from './service.js';

const role = beginRoleProcess();
const { config, log, lifecycle } = role;

const allocator = allocatorWarning(process.env, runtimeGlibcVersion());
if (allocator) log.warn(allocator);

await startOrExit(log, lifecycle, async () => {
  const database = await openRoleDatabase(role, 'the workers');
  const redis = await connectRoleRedis(role, 'the workers');
  const metrics = createMetricsRegistry();
  const workers = await startWorkersRole({
    database,
    store: createMediaStore(config),
    redis,
    queuePrefix: config.queue.prefix,
    concurrency: config.workers.concurrency,
    healthScanEveryMs: config.workers.healthScanEveryMs,
    signing: config.signing,
    analytics: config.analytics,
    jobs: config.jobs,
    housekeeping: config.housekeeping,
    retention: config.retention,
    incidentWindowMs: config.review.incidentWindowMs,
    metrics,
    log,
  });
  lifecycle.add('workers', () => workers.stop());
  const health = buildHealthServer(
    'workers',
    [databaseCheck(database), redisCheck(redis), strandedCapturesCheck(database, config.jobs.stuckAfterMs)],
    metrics,
  );
  lifecycle.add('health server', () => health.close());
  await health.listen({ host: config.http.host, port: config.http.workersHealthPort });
  log.info({ concurrency: config.workers.concurrency, health: config.http.workersHealthPort }, 'workers started');
});
