import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, chown, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePort } from '../../../core/infrastructure/embedded-redis.js';
import { createTempDir, waitFor } from '../../support/isolated.js';

/**
 * Redis, Postgres and Mosquitto of the resilience suite's own, on free loopback ports, so a
 * test may kill, restart or flush them without touching the services other tests share.
 */

async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

export interface PrivateRedis {
  url: string;
  port: number;
  /** Stops redis-server; without persistence every key is gone when it comes back. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** An admin connection of the test's own, for FLUSHALL and inspection. */
  admin: Redis;
  remove(): Promise<void>;
}

/** A redis-server without persistence; `extraArgs` can, for example, set an eviction policy. */
export async function startPrivateRedis(extraArgs: string[] = []): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = await createTempDir('redis');
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir.dir, ...extraArgs],
      { stdio: 'ignore' },
    );
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    await waitFor(`redis-server on port ${port}`, async () => {
      if (child?.exitCode !== null) throw new Error(`redis-server exited with ${child?.exitCode}`);
      await probe.connect().catch(() => undefined);
      return (await probe.ping().catch(() => undefined)) === 'PONG' ? true : undefined;
    });
    probe.disconnect();
  };
  await start();
  const admin = new Redis(url, { maxRetriesPerRequest: 1 });
  admin.on('error', () => undefined);
  return {
    url,
    port,
    admin,
    start,
    stop: () => stopChild(child),
    remove: async () => {
      admin.disconnect();
      await stopChild(child, 'SIGKILL');
      await dir.remove();
    },
  };
}

function postgresBin(name: string): string {
  const root = '/usr/lib/postgresql';
  const versions = spawnSync('ls', [root], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).sort();
  const version = versions.at(-1);
  if (!version) throw new Error(`no PostgreSQL server binaries under ${root}; install the postgresql package`);
  return path.join(root, version, 'bin', name);
}

/** initdb and pg_ctl refuse to run as root: run them as the postgres user then. */
function asPostgres(command: string, args: string[]): { command: string; args: string[] } {
  return process.getuid?.() === 0 ? { command: 'runuser', args: ['-u', 'postgres', '--', command, ...args] } : { command, args };
}

function run(command: string, args: string[], options: { check: boolean } = { check: true }): void {
  const wrapped = asPostgres(command, args);
  const result = spawnSync(wrapped.command, wrapped.args, { encoding: 'utf8' });
  if (options.check && result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr || result.stdout}`);
}

export interface PrivatePostgres {
  /** The maintenance database's URL; `databaseUrl(name)` for another one. */
  url: string;
  databaseUrl(name: string): string;
  createDatabase(name: string): Promise<string>;
  /** `fast` ends every session at once, as a restart for maintenance does; `immediate` is a crash. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  remove(): Promise<void>;
}

/** A throwaway Postgres cluster (initdb) in a temporary folder, on a free port. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const port = await freePort();
  const dir = await createTempDir('postgres');
  const data = path.join(dir.dir, 'data');
  const socketDir = path.join(dir.dir, 'socket');
  await mkdir(data);
  await mkdir(socketDir);
  if (process.getuid?.() === 0) {
    const owner = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const group = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    const [uid, gid] = [Number(owner.stdout.trim()), Number(group.stdout.trim())];
    for (const folder of [dir.dir, data, socketDir]) await chown(folder, uid, gid);
    await chmod(data, 0o700);
  }
  run(postgresBin('initdb'), ['-A', 'trust', '-U', 'postgres', '-D', data, '--no-sync']);
  const options = `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  const logFile = path.join(dir.dir, 'postgres.log');
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const start = async () => {
    run(postgresBin('pg_ctl'), ['-D', data, '-o', options, '-l', logFile, '-w', 'start']);
  };
  await start();
  const databaseUrl = (name: string) => `postgres://postgres@127.0.0.1:${port}/${name}`;
  return {
    url,
    databaseUrl,
    createDatabase: async (name) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`CREATE DATABASE ${name}`);
      await client.end();
      return databaseUrl(name);
    },
    stop: async (mode = 'fast') => {
      run(postgresBin('pg_ctl'), ['-D', data, '-m', mode, '-w', 'stop']);
    },
    start,
    remove: async () => {
      run(postgresBin('pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], { check: false });
      await dir.remove();
    },
  };
}

export interface PrivateMosquitto {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  remove(): Promise<void>;
}

/** Mosquitto with persistence on, so a restart keeps sessions and the QoS 1 messages queued for them. */
export async function startPrivateMosquitto(): Promise<PrivateMosquitto> {
  const port = await freePort();
  const dir = await createTempDir('mosquitto');
  const configFile = path.join(dir.dir, 'mosquitto.conf');
  await writeFile(
    configFile,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${dir.dir}/`,
      // Written on every change, so even a SIGKILL right after a publish keeps it.
      'autosave_interval 0',
      'autosave_on_changes true',
      'max_queued_messages 100000',
      'log_dest none',
      '',
    ].join('\n'),
  );
  if (process.getuid?.() === 0) {
    const owner = spawnSync('id', ['-u', 'mosquitto'], { encoding: 'utf8' });
    if (owner.status === 0) {
      const uid = Number(owner.stdout.trim());
      await chown(dir.dir, uid, Number(spawnSync('id', ['-g', 'mosquitto'], { encoding: 'utf8' }).stdout.trim()));
      for (const entry of await readdir(dir.dir)) await chown(path.join(dir.dir, entry), uid, -1);
    }
  }
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('mosquitto', ['-c', configFile], { stdio: 'ignore' });
    await waitFor(`mosquitto on port ${port}`, async () => {
      if (child?.exitCode !== null) throw new Error(`mosquitto exited with ${child?.exitCode}`);
      const net = await import('node:net');
      return new Promise<true | undefined>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.end();
          resolve(true);
        });
        socket.on('error', () => resolve(undefined));
      });
    });
  };
  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    start,
    stop: async () => {
      await stopChild(child);
      await sleep(50);
    },
    remove: async () => {
      await stopChild(child, 'SIGKILL');
      await dir.remove();
    },
  };
}
