import { listeningPort, publicUrl, startOrExit } from '../core/infrastructure/lifecycle.js';
import { createMediaStore } from '../core/infrastructure/media-store-factory.js';
import { databaseCheck, strandedCapturesCheck } from '../core/infrastructure/probes.js';
import { beginRoleProcess, openRoleDatabase } from '../core/infrastructure/role-process.js';
import { QueueRegistry } from '../core/infrastructure/queues.js';
import { createRedisConnection } from '../core/infrastructure/redis.js';
import { loadOrCreateSigningKey } from '../core/infrastructure/signing-key.js';
import { buildReviewServer } from './server.js';
import { reviewSettings } from './review-settings.js';

const role = beginRoleProcess();
const { config, log, lifecycle } = role;

await startOrExit(log, lifecycle, async () => {
  const database = await openRoleDatabase(role, 'the review server');
  // The review server itself needs no queue; with REDIS_URL set, system administrators get the queue dashboard.
  let queues: QueueRegistry | undefined;
  if (config.redis.url) {
    const redis = createRedisConnection(config.redis.url);
    queues = new QueueRegistry(redis, config.queue.prefix);
    lifecycle.add('queue dashboard connection', async () => {
      await queues?.close();
      await redis.quit();
    });
  }
  const server = await buildReviewServer({
    db: database.db,
    store: createMediaStore(config),
    adminToken: config.admin.token,
    settings: reviewSettings(config),
    signingKey: await loadOrCreateSigningKey(config.signing.keyFile),
    checks: [databaseCheck(database), strandedCapturesCheck(database, config.jobs.stuckAfterMs)],
    logger: log.child({ role: 'review-ui' }),
    queues: queues?.all(),
  });
  lifecycle.add('review server', () => server.close());
  await server.listen({ host: config.http.host, port: config.http.reviewPort });
  log.info({ url: publicUrl(config.http.host, listeningPort(server.server, config.http.reviewPort)) }, 'review server started');
});
