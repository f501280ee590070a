import type { Redis } from 'ioredis';
import { openDatabase, type Database } from '../db/client.js';
import { loadConfig, requireSetting, type Config } from './config.js';
import { Lifecycle, loadConfigOrExit } from './lifecycle.js';
import { createLogger, type Logger } from './logger.js';
import { createRedisConnection } from './redis.js';

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

export function connectRoleRedis({ config, lifecycle }: RoleProcess, role: string): Redis {
  const redis = createRedisConnection(requireSetting(config.redis.url, 'REDIS_URL', role));
  lifecycle.add('redis connection', () => redis.quit());
  return redis;
}
