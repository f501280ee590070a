import type { Redis } from 'ioredis';
import type { Database } from '../db/client.js';
import type { HealthCheck } from './health.js';
import { evictionProblem } from './redis.js';

export const databaseCheck = (database: Database): HealthCheck => ({ name: 'database', probe: () => database.ping() });

export const redisCheck = (redis: Redis): HealthCheck => ({
  name: 'redis',
  probe: async () => {
    if (redis.status !== 'ready') throw new Error(`connection ${redis.status}`);
    // Checked on every probe too: a Redis reconfigured after start-up must not go unnoticed.
    const problem = await evictionProblem(redis);
    if (problem) throw new Error(problem);
  },
});

export const brokerCheck = (isConnected: () => boolean): HealthCheck => ({
  name: 'broker',
  probe: async () => {
    if (!isConnected()) throw new Error('not connected to the MQTT broker');
  },
});
