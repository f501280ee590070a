import { hostname } from 'node:os';
import { requireSetting } from '../core/config.js';
import { buildHealthServer } from '../core/health.js';
import { startOrExit } from '../core/lifecycle.js';
import { FilesystemMediaStore } from '../core/media-store.js';
import { brokerCheck, databaseCheck, redisCheck } from '../core/probes.js';
import { beginRoleProcess, connectRoleRedis, openRoleDatabase } from '../core/role-process.js';
import { startIngestRole } from './service.js';

const role = beginRoleProcess();
const { config, log, lifecycle } = role;

await startOrExit(log, lifecycle, async () => {
  const mqttUrl = requireSetting(config.mqtt.url, 'MQTT_URL', 'the ingest gateway');
  const database = await openRoleDatabase(role, 'the ingest gateway');
  const redis = connectRoleRedis(role, 'the ingest gateway');
  const ingest = await startIngestRole({
    database,
    store: new FilesystemMediaStore(config.media.dir),
    redis,
    queuePrefix: config.queue.prefix,
    mqttUrl,
    topicRoot: config.mqtt.topicRoot,
    sharedGroup: config.mqtt.sharedGroup,
    clientId: config.mqtt.clientId ?? `verity-ingest-${hostname()}`,
    log,
  });
  lifecycle.add('ingest gateway', () => ingest.stop());
  const health = buildHealthServer('ingest', [databaseCheck(database), redisCheck(redis), brokerCheck(() => ingest.gateway.connected)]);
  lifecycle.add('health server', () => health.close());
  await health.listen({ host: config.http.host, port: config.http.ingestHealthPort });
  log.info({ mqtt: mqttUrl, health: config.http.ingestHealthPort }, 'ingest gateway started');
});
