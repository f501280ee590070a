import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

export const REDIS_INSTALL_HINT =
  'Verity needs a Redis server for its job queue. Install one (Debian/Ubuntu: `sudo apt-get install redis-server`, macOS: `brew install redis`) or point REDIS_URL at a running server.';

export class RedisUnavailableError extends Error {
  constructor(detail: string) {
    super(`${REDIS_INSTALL_HINT}\n(${detail})`);
    this.name = 'RedisUnavailableError';
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Whether util-linux's setpriv can tie a child's life to this process (Linux only). */
export function hasSetpriv(): boolean {
  const probe = spawnSync('setpriv', ['--help'], { encoding: 'utf8' });
  return !probe.error && probe.stdout.includes('--pdeathsig');
}

export interface EmbeddedRedis {
  url: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * Starts a private redis-server for the all-in-one mode, on a free loopback port and without
 * persistence: the queue's durable truth is the Postgres outbox, so losing Redis loses nothing.
 */
export async function startEmbeddedRedis(dataDir: string): Promise<EmbeddedRedis> {
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (found.error || found.status !== 0) throw new RedisUnavailableError('`redis-server` was not found on PATH');
  await mkdir(dataDir, { recursive: true });
  const port = await freePort();
  const redisArgs = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dataDir,
    '--loglevel',
    'warning',
    // Said explicitly, though it is Redis's default: start-up refuses any other policy.
    '--maxmemory-policy',
    'noeviction',
  ];
  // Where util-linux's setpriv exists, the kernel stops redis-server if this process dies
  // without cleaning up (SIGKILL, a crash), so not even a hard kill leaves it running.
  // Detached into its own process group, so the terminal's Ctrl-C reaches only Verity, which
  // stops redis-server last, after the workers and queues that still talk to it.
  const options: SpawnOptions = { stdio: ['ignore', 'ignore', 'inherit'], detached: true };
  const child: ChildProcess = hasSetpriv()
    ? spawn('setpriv', ['--pdeathsig', 'SIGTERM', '--', 'redis-server', ...redisArgs], options)
    : spawn('redis-server', redisArgs, options);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    for (let attempt = 0; ; attempt++) {
      if (child.exitCode !== null) throw new RedisUnavailableError(`redis-server exited with code ${child.exitCode}`);
      try {
        await probe.connect();
        await probe.ping();
        break;
      } catch (error) {
        if (attempt > 100) throw new RedisUnavailableError(`redis-server did not answer: ${(error as Error).message}`);
        probe.disconnect();
        await sleep(50);
      }
    }
  } finally {
    probe.disconnect();
  }
  return {
    url,
    pid: child.pid,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
