import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import { openDatabase, type Database } from '../../db/client.js';
import { createRedisConnection } from '../../core/infrastructure/redis.js';
import { testServices } from './services.js';
import { templateDatabase } from './template-database.js';

/** A unique name for this test's database, queue prefix and topic root, so runs never collide. */
export function uniqueName(label: string): string {
  return `verity_${label}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

/**
 * A fresh Postgres database, dropped again by `drop()`. It is cloned from a template migrated once
 * per run (see template-database.ts): copying is far cheaper than replaying every migration per file.
 */
export async function createTestDatabase(label: string): Promise<Database & { name: string; url: string; drop(): Promise<void> }> {
  // Any label a test file picks must make a bare identifier within Postgres's 63 characters: a hyphen
  // would end the name in the CREATE, and a longer name would be cut short there but not in the URL.
  const name = uniqueName(
    label
      .toLowerCase()
      .replace(/[^a-z0-9_]/g, '_')
      .slice(0, 32),
  );
  const admin = new pg.Client({ connectionString: testServices.postgresUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${await templateDatabase()}`);
  } finally {
    await admin.end();
  }
  const url = new URL(testServices.postgresUrl);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString(), pgliteDir: '', poolSize: 5 });
  return {
    ...database,
    name,
    url: url.toString(),
    drop: async () => {
      await database.close();
      const dropper = new pg.Client({ connectionString: testServices.postgresUrl });
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropper.end();
    },
  };
}

/** A Redis connection and a key prefix of its own; `cleanup()` deletes every key under it. */
export function createTestRedis(label: string): { redis: Redis; prefix: string; cleanup(): Promise<void> } {
  const redis = createRedisConnection(testServices.redisUrl);
  const prefix = uniqueName(label);
  return {
    redis,
    prefix,
    cleanup: async () => {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    },
  };
}

export async function createTempDir(label: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `verity-${label}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Polls until `probe` returns a value other than undefined, or fails naming what it waited for. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(100);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError instanceof Error ? ` (last error: ${lastError.message})` : ''}`,
  );
}
