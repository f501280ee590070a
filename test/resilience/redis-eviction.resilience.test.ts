import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../core/infrastructure/embedded-redis.js';
import { createTempDir, createTestDatabase, uniqueName, waitFor } from '../support/isolated.js';
import { testServices } from '../support/services.js';
import { startPrivateRedis, type PrivateRedis } from './support/private-services.js';
import { health, spawnRole, waitForOutput } from './support/role-process.js';

/**
 * Passing means: no role puts its queue on a Redis that may evict keys (BullMQ loses jobs
 * then, silently); each refuses at start with a message saying how to fix it, and a Redis
 * switched to eviction while a role runs turns that role's /health to 503.
 */
describe('an evicting Redis', () => {
  let evicting: PrivateRedis;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let media: Awaited<ReturnType<typeof createTempDir>>;

  beforeAll(async () => {
    [evicting, database, media] = await Promise.all([
      startPrivateRedis(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']),
      createTestDatabase('eviction'),
      createTempDir('eviction-media'),
    ]);
  });

  afterAll(async () => {
    await Promise.all([evicting?.remove(), database?.drop(), media?.remove()]);
  });

  const env = (redisUrl: string, healthPort: number) => ({
    DATABASE_URL: database.url,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: uniqueName('eviction'),
    MQTT_URL: testServices.mqttUrl,
    MQTT_TOPIC_ROOT: `verity-test/${uniqueName('eviction')}/v1`,
    MQTT_CLIENT_ID: uniqueName('eviction-gateway'),
    MEDIA_DIR: media.dir,
    SIGNING_KEY_FILE: `${media.dir}/server-signing.pem`,
    GATEWAY_SIGNING_KEY_FILE: `${media.dir}/gateway-signing.pem`,
    INGEST_HEALTH_PORT: String(healthPort),
    WORKERS_HEALTH_PORT: String(healthPort),
  });

  it.each(['ingest/main.ts', 'workers/main.ts'])('%s refuses to start, saying how to fix it', async (entry) => {
    const role = spawnRole(entry, env(evicting.url, await freePort()));
    // Generous: on a loaded two-core machine a role takes well over ten seconds to reach its Redis check.
    const timer = setTimeout(() => void role.stop(), 120_000);
    const code = await role.exited;
    clearTimeout(timer);
    expect(code).toBe(1);
    expect(role.output()).toContain('maxmemory-policy allkeys-lru');
    expect(role.output()).toContain('Set `maxmemory-policy noeviction`');
    expect(role.output()).not.toContain('started');
  });

  it('turns /health to 503 when Redis is switched to eviction while a role runs', async () => {
    const redis = await startPrivateRedis();
    const port = await freePort();
    const workers = spawnRole('workers/main.ts', env(redis.url, port));
    try {
      await waitForOutput(workers, 'workers started');
      expect((await health(port))?.status).toBe(200);
      await redis.admin.config('SET', 'maxmemory-policy', 'volatile-lru');
      const answer = await waitFor('/health to report the evicting Redis', async () => {
        const reply = await health(port);
        return reply?.status === 503 ? reply : undefined;
      });
      expect(answer.body.failing).toEqual(['redis']);
      expect(JSON.stringify(answer.body)).toContain('maxmemory-policy volatile-lru');
    } finally {
      await workers.stop();
      await redis.remove();
    }
  });
});
