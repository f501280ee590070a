import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempDir, waitFor } from './support/isolated.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface CaptureList {
  captures: { state: string; deviceId: string; media: { thumbnailSha256: string | null }[] }[];
}

/** Process ids whose command line mentions `needle`: the leftovers a clean stop must not leave. */
function processesMentioning(needle: string): string[] {
  const listing = spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).stdout;
  return listing
    .split('\n')
    .filter((line) => line.includes(needle) && !line.includes('ps -eo'))
    .map((line) => line.trim().split(/\s+/)[0] ?? '');
}

describe('all-in-one mode on its embedded defaults', () => {
  let dataDir: Awaited<ReturnType<typeof createTempDir>>;
  let child: ChildProcess;
  let output = '';

  beforeAll(async () => {
    dataDir = await createTempDir('all-in-one');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: dataDir.dir,
      REVIEW_PORT: '0',
      MQTT_EMBEDDED_PORT: '0',
      SIMULATOR_DEVICES: '2',
      SIMULATOR_INTERVAL_MS: '1500',
      LOG_LEVEL: 'warn',
    };
    child = spawn(process.execPath, ['--import', 'tsx', 'all-in-one.ts'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  });

  afterAll(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    await dataDir.remove();
  });

  it('starts with no DATABASE_URL, MQTT_URL or REDIS_URL, shows simulated captures with thumbnails, and stops cleanly', async () => {
    const reviewUrl = await waitFor(
      'the review page address',
      async () => {
        if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}:\n${output}`);
        return /Review page: (http:\/\/\S+)/.exec(output)?.[1];
      },
      45_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n--- output ---\n${output}`);
    });

    const health = await fetch(new URL('/health', reviewUrl));
    expect(health.status).toBe(200);

    const list = await waitFor(
      'a verified capture with thumbnails',
      async () => {
        const response = await fetch(new URL('/api/captures?state=verified', reviewUrl));
        const body = (await response.json()) as CaptureList;
        const ready = body.captures.find((capture) => capture.media.length === 2 && capture.media.every((item) => item.thumbnailSha256));
        return ready ? body : undefined;
      },
      45_000,
    );
    expect(list.captures[0]?.deviceId).toMatch(/^SIM-CAM-/);
    expect(processesMentioning(dataDir.dir).length).toBeGreaterThan(0);

    child.kill('SIGINT');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    // The embedded redis-server runs with --dir under this data folder: it must be gone too.
    await waitFor(
      'the embedded redis-server to exit',
      async () => (processesMentioning(path.join(dataDir.dir, 'redis')).length === 0 ? true : undefined),
      5000,
    );
  });
});
