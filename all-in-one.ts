import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { loadConfig } from './core/domain/config.js';
import { startEmbeddedRedis } from './core/infrastructure/embedded-redis.js';
import { Lifecycle, loadConfigOrExit, listeningPort, publicUrl, startOrExit } from './core/infrastructure/lifecycle.js';
import { startLocalBroker } from './core/infrastructure/local-broker.js';
import { createLogger } from './core/infrastructure/logger.js';
import { createMediaStore } from './core/infrastructure/media-store-factory.js';
import { createMetricsRegistry } from './core/infrastructure/metrics.js';
import { brokerCheck, databaseCheck, redisCheck, strandedCapturesCheck } from './core/infrastructure/probes.js';
import { createRedisConnection, requireNoEviction } from './core/infrastructure/redis.js';
import { loadOrCreateSigningKey } from './core/infrastructure/signing-key.js';
import { openDatabase } from './db/client.js';
import { startSimulatorRole } from './device-simulator/service.js';
import { ingestSettings, startIngestRole } from './ingest/service.js';
import { ensureDemoPeople } from './review-ui/people/demo-people.js';
import { buildReviewServer } from './review-ui/server.js';
import { reviewSettings } from './review-ui/review-settings.js';
import { startWorkersRole } from './workers/service.js';

/**
 * Every role in one process, on embedded defaults for whatever is not configured: PGlite
 * without DATABASE_URL, a private mosquitto (or, without one installed, an in-process MQTT
 * 3.1.1 broker) without MQTT_URL, a private redis-server without REDIS_URL. Same code as the
 * split roles; only this wiring differs.
 */
const config = loadConfigOrExit(loadConfig);
const log = createLogger(config.log.level);
const lifecycle = new Lifecycle(log);
lifecycle.exitOnSignals();

await startOrExit(log, lifecycle, async () => {
  const database = await openDatabase(config.database);
  lifecycle.add('database', () => database.close());
  await database.migrate();

  let redisUrl = config.redis.url;
  let redisDescription = redisUrl;
  if (!redisUrl) {
    const embeddedRedis = await startEmbeddedRedis(path.join(config.dataDir, 'redis'));
    lifecycle.add('embedded redis-server', () => embeddedRedis.stop());
    redisUrl = embeddedRedis.url;
    redisDescription = `embedded redis-server (pid ${embeddedRedis.pid}) on ${redisUrl}`;
  }
  const redis = createRedisConnection(redisUrl);
  lifecycle.add('redis connection', () => redis.quit());
  await requireNoEviction(redis, redisUrl);

  let mqttUrl = config.mqtt.url;
  let mqttDescription = mqttUrl;
  let brokerWarning = '';
  if (!mqttUrl) {
    const broker = await startLocalBroker(
      { dataDir: path.join(config.dataDir, 'mosquitto'), port: config.mqtt.embeddedPort, host: config.http.host },
      log,
    );
    lifecycle.add('local MQTT broker', () => broker.close());
    mqttUrl = broker.url;
    mqttDescription = broker.description;
    if (broker.warning) brokerWarning = `Warning: ${broker.warning}\n`;
  }

  const store = createMediaStore(config);
  // One process, one /metrics: every role adds its series to this registry, served on the review port.
  const metrics = createMetricsRegistry();
  const common = { database, store, redis, queuePrefix: config.queue.prefix, metrics, log };
  const ingest = await startIngestRole({
    ...common,
    ...ingestSettings(config),
    mqttUrl,
    gatewayKey: await loadOrCreateSigningKey(config.ingest.gatewayKeyFile),
  });
  lifecycle.add('ingest gateway', () => ingest.stop());
  const workers = await startWorkersRole({
    ...common,
    concurrency: config.workers.concurrency,
    healthScanEveryMs: config.workers.healthScanEveryMs,
    signing: config.signing,
    analytics: config.analytics,
    jobs: config.jobs,
    housekeeping: config.housekeeping,
    retention: config.retention,
    incidentWindowMs: config.review.incidentWindowMs,
  });
  lifecycle.add('workers', () => workers.stop());

  // Without a configured token the simulator still needs one to enrol its fleet; it lives only in this process.
  const adminToken = config.admin.token ?? randomBytes(24).toString('base64url');
  const server = await buildReviewServer({
    db: database.db,
    store,
    adminToken,
    metrics,
    queues: workers.queues.all(),
    settings: reviewSettings(config),
    signingKey: await loadOrCreateSigningKey(config.signing.keyFile),
    checks: [
      databaseCheck(database),
      redisCheck(redis),
      brokerCheck(() => ingest.gateway.connected),
      strandedCapturesCheck(database, config.jobs.stuckAfterMs),
    ],
  });
  lifecycle.add('review server', () => server.close());
  await server.listen({ host: config.http.host, port: config.http.reviewPort });
  const reviewUrl = publicUrl(config.http.host, listeningPort(server.server, config.http.reviewPort));

  if (config.simulator.devices > 0) {
    const run = await startSimulatorRole(config, { mqttUrl, apiUrl: reviewUrl, adminToken }, log.child({ role: 'simulator' }));
    lifecycle.add('device simulator', () => run.stop());
  }

  const demoAccounts = await ensureDemoPeople(database.db, config.dataDir);
  const accountLines = demoAccounts.length
    ? `Demo logins (user / password / roles), kept in ${path.join(config.dataDir, 'demo-accounts.json')}:\n${demoAccounts
        .map((account) => `  ${account.username.padEnd(10)} ${account.password}  ${account.roles.join(', ')}`)
        .join('\n')}\n`
    : '';
  log.info({ database: database.location, mqtt: mqttUrl, media: config.media.dir }, 'all-in-one started');
  console.log(
    `\nVerity is running. Review page: ${reviewUrl}\nMQTT broker for devices: ${mqttDescription}, topic root ${config.mqtt.topicRoot}\n${brokerWarning}Job queue: ${redisDescription}\n${accountLines}Press Ctrl-C to stop.\n`,
  );
});
