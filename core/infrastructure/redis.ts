import { Redis } from 'ioredis';

/** A connection BullMQ can block on: it needs `maxRetriesPerRequest: null`. */
export function createRedisConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
}

/** Refused at start-up: a Redis Verity must not put its queue on. Printed as is, without a stack. */
export class RedisRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisRefusedError';
  }
}

/** Why this Redis may not hold the queue, or undefined when it may. */
export async function evictionProblem(redis: Redis): Promise<string | undefined> {
  // INFO rather than CONFIG GET: managed Redis services often disable CONFIG, never INFO.
  const memory = await redis.info('memory');
  const policy = /^maxmemory_policy:(\S+)/m.exec(memory)?.[1];
  if (policy === undefined || policy === 'noeviction') return undefined;
  return (
    `Redis evicts keys under memory pressure (maxmemory-policy ${policy}), and BullMQ then loses jobs silently. ` +
    'Set `maxmemory-policy noeviction` (in redis.conf, or `redis-cli CONFIG SET maxmemory-policy noeviction` and `CONFIG REWRITE`), ' +
    'or point REDIS_URL at a Redis configured so.'
  );
}

/** Start-up check every role that uses the queue runs before it touches it. */
export async function requireNoEviction(redis: Redis, url: string): Promise<void> {
  const problem = await evictionProblem(redis);
  if (problem) throw new RedisRefusedError(`Refusing the Redis at ${redactedUrl(url)}: ${problem}`);
}

function redactedUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
