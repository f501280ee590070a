import type { Redis } from 'ioredis';
import type { Database } from '../../db/client.js';
import { tallyStuckCaptures } from '../../db/stuck-captures.js';
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

/** Degrades /health while captures wait longer than `stuckAfterMs` for a screening or media job. */
export const strandedCapturesCheck = (database: Database, stuckAfterMs: number): HealthCheck => ({
  name: 'stranded-captures',
  degradesOnly: true,
  probe: async () => {
    const tally = await tallyStuckCaptures(database.db, stuckAfterMs);
    const stuck = Object.entries(tally).filter(([, entry]) => entry.count > 0);
    if (stuck.length === 0) return;
    const parts = stuck.map(([need, entry]) => `${entry.count} waiting for ${need} (oldest ${entry.oldestAgeSeconds} s)`);
    throw new Error(
      `captures stranded for over ${Math.round(stuckAfterMs / 1000)} s: ${parts.join('; ')}; the job reconciler re-sends their jobs`,
    );
  },
});
