import mqtt from 'mqtt';
import pg from 'pg';
import { Redis } from 'ioredis';
import { testServices } from './services.js';

/** Fails the integration run at once, naming each unreachable service, instead of timing out test by test. */
export default async function servicesAvailable(): Promise<void> {
  const problems: string[] = [];
  const client = new pg.Client({ connectionString: testServices.postgresUrl });
  await client
    .connect()
    .then(() => client.query('select 1'))
    .catch((error: Error) => problems.push(`PostgreSQL at ${testServices.postgresUrl}: ${error.message}`))
    .finally(() => client.end().catch(() => undefined));
  const redis = new Redis(testServices.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  await redis
    .connect()
    .then(() => redis.ping())
    .catch((error: Error) => problems.push(`Redis at ${testServices.redisUrl}: ${error.message}`))
    .finally(() => redis.disconnect());
  await mqtt
    .connectAsync(testServices.mqttUrl, { reconnectPeriod: 0, connectTimeout: 3000 })
    .then((broker) => broker.endAsync())
    .catch((error: Error) => problems.push(`MQTT broker at ${testServices.mqttUrl}: ${error.message}`));
  if (problems.length > 0) {
    throw new Error(`Integration tests need these services (bash .ci/run starts them):\n  ${problems.join('\n  ')}`);
  }
}
