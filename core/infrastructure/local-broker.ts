import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt from 'mqtt';
import { startEmbeddedBroker } from './embedded-broker.js';
import { freePort, hasSetpriv } from './embedded-redis.js';
import type { Logger } from './logger.js';

export const MOSQUITTO_INSTALL_HINT =
  'install Mosquitto (Debian/Ubuntu: `sudo apt-get install mosquitto`, macOS: `brew install mosquitto`) and start Verity again';

/** What the all-in-one mode runs as its broker, and how devices reach it. */
export interface LocalBroker {
  url: string;
  port: number;
  /** For the start-up banner: which broker, which MQTT versions. */
  description: string;
  /** Set when the fallback was taken: what devices lose, and how to get the real broker. */
  warning: string | undefined;
  close(): Promise<void>;
}

export interface LocalBrokerOptions {
  /** Where the private Mosquitto keeps its configuration and log. */
  dataDir: string;
  /** 0 picks a free port. */
  port: number;
  host: string;
  /** The Mosquitto executable; without one, `mosquitto` on PATH, then Debian's /usr/sbin, often not on a user's PATH. */
  binary?: string;
}

function findMosquitto(binary: string | undefined): string | undefined {
  // `-h` prints the usage and exits non-zero, so only a failure to start counts as missing.
  return (binary ? [binary] : ['mosquitto', '/usr/sbin/mosquitto']).find((candidate) => !spawnSync(candidate, ['-h']).error);
}

async function answersConnect(url: string): Promise<boolean> {
  try {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 1000, clientId: `verity-probe-${process.pid}` });
    await client.endAsync();
    return true;
  } catch {
    return false;
  }
}

/**
 * A private Mosquitto (MQTT 5, 3.1.1 and 3.1) for the all-in-one mode, with its configuration
 * and log under `dataDir`. It accepts anonymous clients: it is a laptop demo's broker, bound
 * to the review server's host (loopback by default); docker-compose.yml ships the
 * authenticated one.
 */
export async function startPrivateMosquitto(options: LocalBrokerOptions): Promise<LocalBroker & { pid: number | undefined }> {
  const binary = findMosquitto(options.binary);
  if (!binary) throw new Error(`mosquitto was not found; ${MOSQUITTO_INSTALL_HINT}`);
  await mkdir(options.dataDir, { recursive: true });
  const port = options.port === 0 ? await freePort() : options.port;
  const configFile = path.join(options.dataDir, 'mosquitto.conf');
  const logFile = path.join(options.dataDir, 'mosquitto.log');
  await writeFile(
    configFile,
    [
      '# Written by `npm start` at every start; edits are lost.',
      `listener ${port} ${options.host}`,
      'allow_anonymous true',
      // Run as whoever runs Verity: started as root, mosquitto would switch to its own user,
      // and that switch cancels the kernel's stop-on-parent-death that setpriv asked for.
      `user ${userInfo().username}`,
      // In memory like the embedded broker it replaces: devices resend what the gateway has not acknowledged.
      'persistence false',
      // Captures arrive in bursts; Mosquitto's default of 1000 would drop QoS 1 messages for a busy gateway.
      'max_queued_messages 100000',
      'max_packet_size 1048576',
      // stderr, which the C library leaves unbuffered, so the log file is current while it runs.
      'log_dest stderr',
      'log_timestamp_format %Y-%m-%dT%H:%M:%S',
      '',
    ].join('\n'),
  );
  const log = createWriteStream(logFile, { flags: 'a' });
  let recent = '';
  const keep = (chunk: Buffer) => {
    log.write(chunk);
    recent = (recent + chunk.toString()).slice(-2000);
  };
  // As with redis-server: the kernel stops it if this process dies without cleaning up, and its
  // own process group keeps the terminal's Ctrl-C from stopping it before the gateway has closed.
  const spawnOptions: SpawnOptions = { stdio: ['ignore', 'pipe', 'pipe'], detached: true };
  const child: ChildProcess = hasSetpriv()
    ? spawn('setpriv', ['--pdeathsig', 'SIGTERM', '--', binary, '-c', configFile], spawnOptions)
    : spawn(binary, ['-c', configFile], spawnOptions);
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = once(child, 'exit').then(() => new Promise<void>((resolve) => log.end(() => resolve())));
  const url = `mqtt://${options.host === '0.0.0.0' ? '127.0.0.1' : options.host}:${port}`;
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) {
      await exited;
      const taken = /address already in use/i.test(recent);
      throw new Error(
        taken
          ? `MQTT port ${port} is taken: set MQTT_EMBEDDED_PORT to a free port, or MQTT_URL to use that broker`
          : `mosquitto exited with code ${child.exitCode} at start; its log is ${logFile}:\n${recent.trim()}`,
      );
    }
    if (await answersConnect(url)) break;
    if (attempt > 100) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`mosquitto did not accept a connection on ${url} within 10 s; its log is ${logFile}`);
    }
    await sleep(100);
  }
  return {
    url,
    port,
    pid: child.pid,
    description: `private mosquitto (pid ${child.pid}, MQTT 5 and 3.1.1) on ${url}, log ${logFile}`,
    warning: undefined,
    close: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * The all-in-one broker: a private Mosquitto when one is installed, otherwise the in-process
 * broker, which speaks only MQTT 3.1.1, with a warning saying so.
 */
export async function startLocalBroker(options: LocalBrokerOptions, log: Logger): Promise<LocalBroker> {
  if (findMosquitto(options.binary)) return startPrivateMosquitto(options);
  const embedded = await startEmbeddedBroker(options.port, options.host);
  const warning = `${options.binary ?? 'mosquitto'} was not found, so the embedded MQTT broker runs instead: it speaks MQTT 3.1.1 only and refuses MQTT 5 clients (mosquitto_pub -V mqttv5). For MQTT 5, ${MOSQUITTO_INSTALL_HINT}.`;
  log.warn({ broker: embedded.url }, warning);
  return {
    url: embedded.url,
    port: embedded.port,
    description: `embedded broker (MQTT 3.1.1 only) on ${embedded.url}`,
    warning,
    close: () => embedded.close(),
  };
}
