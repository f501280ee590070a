import { hostname } from 'node:os';
import { requireSetting } from '../core/domain/config.js';
import { buildHealthServer } from '../core/infrastructure/health.js';
import { startOrExit } from '../core/infrastructure/lifecycle.js';
import { createMetricsRegistry } from '../core/infrastructure/metrics.js';
import { createMediaStore } from '../core/infrastructure/media-store-factory.js';
import { loadOrCreateSigningKey } from '../core/infrastructure/signing-key.js';
import { brokerCheck, databaseCheck, redisCheck } from '../core/infrastructure/probes.js';
import { beginRoleProcess, connectRoleRedis, openRoleDatabase } from '../core/infrastructure/role-process.js';
import { ingestSettings, startIngestRole } from './service.js';

const role = beginRoleProcess();
const { config, log, lifecycle } = role;

await startOrExit(log, lifecycle, async () => {
  const mqttUrl = requireSetting(config.mqtt.url, 'MQTT_URL', 'the ingest gateway');
  const database = await openRoleDatabase(role, 'the ingest gateway');
  const redis = await connectRoleRedis(role, 'the ingest gateway');
  const metrics = createMetricsRegistry();
  const ingest = await startIngestRole({
    database,
    store: createMediaStore(config),
    redis,
    queuePrefix: config.queue.prefix,
    mqttUrl,
    ...ingestSettings(config),
    clientId: config.mqtt.clientId ?? `verity-ingest-${hostname()}`,
    gatewayKey: await loadOrCreateSigningKey(config.ingest.gatewayKeyFile),
    metrics,
    log,
  });
  lifecycle.add('ingest gateway', () => ingest.stop());
  const health = buildHealthServer(
    'ingest',
    [databaseCheck(database), redisCheck(redis), brokerCheck(() => ingest.gateway.connected)],
    metrics,
  );
  lifecycle.add('health server', () => health.close());
  await health.listen({ host: config.http.host, port: config.http.ingestHealthPort });
  log.info({ mqtt: mqttUrl, health: config.http.ingestHealthPort }, 'ingest gateway started');
});
