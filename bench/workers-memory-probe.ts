import { appendFileSync } from 'node:fs';
import sharp from 'sharp';

/**
 * Loaded with `--import` into a workers role started by bench/workers-memory.ts: applies the
 * variant's sharp setting before the role starts, and appends the process's own memory figures
 * (RSS, JS heap, external) and what libvips tracks (its allocations in use, cache included) and how many operations its cache holds to a file every sample interval.
 */
const file = process.env.MEMORY_PROBE_FILE;
if (!file) throw new Error('MEMORY_PROBE_FILE is required');
const cacheSetting = process.env.MEMORY_PROBE_SHARP_CACHE;
if (cacheSetting)
  sharp.cache(cacheSetting === 'off' ? false : (JSON.parse(cacheSetting) as { memory: number; files: number; items: number }));
const everyMs = Number(process.env.MEMORY_PROBE_EVERY_MS ?? 10_000);

setInterval(() => {
  const usage = process.memoryUsage();
  const cache = sharp.cache();
  appendFileSync(
    file,
    JSON.stringify({ atMs: Date.now(), ...usage, vipsTrackedMb: cache.memory.current, vipsCacheItems: cache.items.current }) + '\n',
  );
}, everyMs).unref();
