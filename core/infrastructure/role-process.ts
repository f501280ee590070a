import type { Redis } from 'ioredis';
import { openDatabase, type Database } from '../../db/client.js';
import { loadConfig, requireSetting, type Config } from '../domain/config.js';
import { Lifecycle, loadConfigOrExit } from './lifecycle.js';
import { createLogger, type Logger } from './logger.js';
import { createRedisConnection, requireNoEviction } from './redis.js';

export interface RoleProcess {
  config: Config;
  log: Logger;
  lifecycle: Lifecycle;
}

/** Start-up shared by every split-mode entry point: config, logger, signal handling. */
export function beginRoleProcess(): RoleProcess {
  const config = loadConfigOrExit(loadConfig);
  const log = createLogger(config.log.level);
  const lifecycle = new Lifecycle(log);
  lifecycle.exitOnSignals();
  return { config, log, lifecycle };
}

/** Opens and migrates the shared Postgres (split mode has no embedded database). */
export async function openRoleDatabase({ config, lifecycle }: RoleProcess, role: string): Promise<Database> {
  const url = requireSetting(config.database.url, 'DATABASE_URL', role);
  const database = await openDatabase({ ...config.database, url });
  lifecycle.add('database', () => database.close());
  await database.migrate();
  return database;
}

/** Connects to REDIS_URL and refuses a Redis that evicts keys, before any queue is created on it. */
export async function connectRoleRedis({ config, lifecycle }: RoleProcess, role: string): Promise<Redis> {
  const url = requireSetting(config.redis.url, 'REDIS_URL', role);
  const redis = createRedisConnection(url);
  lifecycle.add('redis connection', () => redis.quit());
  await requireNoEviction(redis, url);
  return redis;
}
