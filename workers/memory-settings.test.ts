import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { allocatorWarning, configureImageCache } from './memory-settings.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('the workers memory settings', () => {
  afterEach(() => {
    sharp.cache(true);
  });

  it('turn libvips operation cache off', () => {
    sharp.cache(true);
    configureImageCache();
    const cache = sharp.cache();
    expect([cache.memory.max, cache.files.max, cache.items.max]).toEqual([0, 0, 0]);
  });

  it('warn about glibc malloc with unbounded arenas, and only then', () => {
    expect(allocatorWarning({}, '2.36')).toMatch(/MALLOC_ARENA_MAX=2/);
    expect(allocatorWarning({ LD_PRELOAD: '/usr/lib/other.so' }, '2.36')).toMatch(/MALLOC_ARENA_MAX=2/);
    expect(allocatorWarning({ MALLOC_ARENA_MAX: '2' }, '2.36')).toBeUndefined();
    expect(allocatorWarning({ LD_PRELOAD: '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2' }, '2.36')).toBeUndefined();
    expect(allocatorWarning({}, undefined)).toBeUndefined();
  });

  it('are what the image starts every role with', () => {
    expect(readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8')).toMatch(/^ENV MALLOC_ARENA_MAX=2$/m);
  });
});
