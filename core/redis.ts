import { Redis } from 'ioredis';

/** A connection BullMQ can block on: it needs `maxRetriesPerRequest: null`. */
export function createRedisConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
}
