import sharp from 'sharp';

/**
 * libvips keeps the last 100 operations and up to 50 MB of their pixels by default, for callers
 * that process one image over and over. A worker reads every file once (the quality row marks it
 * done), so the cache only holds earlier jobs' pixels: bench/workers-memory.ts measured the same
 * throughput and about 45 MB less RSS with it off.
 */
export function configureImageCache(): void {
  sharp.cache(false);
}

/**
 * glibc's malloc gives each thread that allocates its own arena and rarely hands freed arena memory
 * back; libvips decoding on libuv's threads while sockets reconnect (the soak's resets and outages)
 * left the workers' RSS growing by about 1 MB/min with a flat JS heap (bench/workers-memory.ts,
 * docs/reliability.md). The allocator is chosen when the process starts, so the fix lives in the
 * environment (the Dockerfile sets MALLOC_ARENA_MAX=2) and this only says so when it is missing.
 * Returns the warning to log, or undefined when the allocator is bounded or is not glibc's.
 */
export function allocatorWarning(env: NodeJS.ProcessEnv, glibcVersion: string | undefined): string | undefined {
  if (!glibcVersion) return undefined;
  if (env.MALLOC_ARENA_MAX) return undefined;
  if (/jemalloc|mimalloc|tcmalloc/.test(env.LD_PRELOAD ?? '')) return undefined;
  return (
    `glibc ${glibcVersion} malloc with unbounded arenas: the workers' memory grows while images are decoded on many threads; ` +
    'start them with MALLOC_ARENA_MAX=2 (as the Dockerfile does) or with jemalloc preloaded (LD_PRELOAD)'
  );
}

/** The C library's glibc version, from Node's own diagnostic report; undefined on musl or other platforms. */
export function runtimeGlibcVersion(): string | undefined {
  const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
  return report.header?.glibcVersionRuntime;
}
