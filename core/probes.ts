import type { Redis } from 'ioredis';
import type { Database } from '../db/client.js';
import type { HealthCheck } from './health.js';

export const databaseCheck = (database: Database): HealthCheck => ({ name: 'database', probe: () => database.ping() });

export const redisCheck = (redis: Redis): HealthCheck => ({
  name: 'redis',
  probe: async () => {
    if (redis.status !== 'ready') throw new Error(`connection ${redis.status}`);
    await redis.ping();
  },
});

export const brokerCheck = (isConnected: () => boolean): HealthCheck => ({
  name: 'broker',
  probe: async () => {
    if (!isConnected()) throw new Error('not connected to the MQTT broker');
  },
});
