/**
 * The gateway under test, in a process of its own as in split mode (`npm run start:ingest`),
 * so the load generator's work never runs on the gateway's event loop. bench/ingest.ts forks
 * this file and drives it over the IPC channel; it is not meant to be run by hand.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { destination, pino } from 'pino';
import { loadConfig } from '../core/domain/config.js';
import { FilesystemMediaStore } from '../core/infrastructure/media-store.js';
import { createRedisConnection } from '../core/infrastructure/redis.js';
import { loadOrCreateSigningKey } from '../core/infrastructure/signing-key.js';
import { openDatabase } from '../db/client.js';
import type { GatewayCounters } from '../ingest/gateway.js';
import { ingestSettings, startIngestRole } from '../ingest/service.js';

export interface GatewaySettings {
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  mqttUrl: string;
  mediaDir: string;
  topicRoot: string;
  sharedGroup: string;
  clientId: string;
  connections: number;
  completenessTimeoutMs: number;
  /** Written by the load generator, which verifies every acknowledgement with its public half. */
  gatewayKeyFile: string;
  logLevel: string;
}

/** What the gateway process did between `mark` and `sample`. */
export interface GatewayUsage {
  wallMs: number;
  /** User plus system CPU time of this process, in milliseconds. */
  cpuMs: number;
  /** Share of the wall time the event loop was busy (0–1). */
  eventLoopBusy: number;
  /** Statements sent to Postgres (BEGIN and COMMIT included). */
  databaseQueries: number;
}

export type ToGateway = { type: 'start'; settings: GatewaySettings } | { type: 'mark' } | { type: 'sample' } | { type: 'stop' };

export type FromGateway =
  | { type: 'ready' }
  | { type: 'marked' }
  | { type: 'usage'; usage: GatewayUsage; counters: GatewayCounters }
  | { type: 'stopped'; counters: GatewayCounters }
  | { type: 'failed'; error: string };

const send = (message: FromGateway): Promise<void> =>
  new Promise((resolve) => {
    if (!process.send) resolve();
    else process.send(message, undefined, {}, () => resolve());
  });

if (!process.send) {
  console.error('bench/ingest-gateway.ts is started by bench/ingest.ts (npm run bench), not on its own');
  process.exit(2);
}

// Counts every statement the gateway sends, whichever pool client sends it; nothing else changes.
let queries = 0;
const query = Object.getOwnPropertyDescriptor(pg.Client.prototype, 'query')!.value as (...args: unknown[]) => unknown;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  queries++;
  return query.apply(this, args);
} as typeof pg.Client.prototype.query;

let running: { stop(): Promise<void>; counters: GatewayCounters } | undefined;
let mark = { at: performance.now(), cpu: process.cpuUsage(), loop: performance.eventLoopUtilization(), queries };

async function start(settings: GatewaySettings): Promise<void> {
  const log = pino({ level: settings.logLevel, base: { service: 'verity-bench-gateway' } }, destination(2));
  const config = loadConfig({
    MQTT_TOPIC_ROOT: settings.topicRoot,
    MQTT_SHARED_GROUP: settings.sharedGroup,
    INGEST_CONNECTIONS: String(settings.connections),
    COMPLETENESS_TIMEOUT_MS: String(settings.completenessTimeoutMs),
  });
  // The pool size the split-mode gateway gets (openRoleDatabase leaves it at the default).
  const database = await openDatabase({ url: settings.databaseUrl, pgliteDir: '' });
  const redis = createRedisConnection(settings.redisUrl);
  const ingest = await startIngestRole({
    database,
    store: new FilesystemMediaStore(settings.mediaDir),
    redis,
    queuePrefix: settings.queuePrefix,
    mqttUrl: settings.mqttUrl,
    ...ingestSettings(config),
    clientId: settings.clientId,
    gatewayKey: await loadOrCreateSigningKey(settings.gatewayKeyFile),
    log,
  });
  running = {
    counters: ingest.gateway.counters,
    stop: async () => {
      await ingest.stop();
      await redis.quit();
      await database.close();
    },
  };
}

async function handle(message: ToGateway): Promise<void> {
  switch (message.type) {
    case 'start':
      await start(message.settings);
      await send({ type: 'ready' });
      return;
    case 'mark':
      mark = { at: performance.now(), cpu: process.cpuUsage(), loop: performance.eventLoopUtilization(), queries };
      await send({ type: 'marked' });
      return;
    case 'sample': {
      const cpu = process.cpuUsage(mark.cpu);
      const usage: GatewayUsage = {
        wallMs: performance.now() - mark.at,
        cpuMs: (cpu.user + cpu.system) / 1000,
        eventLoopBusy: performance.eventLoopUtilization(mark.loop).utilization,
        databaseQueries: queries - mark.queries,
      };
      await send({ type: 'usage', usage, counters: { ...running!.counters } });
      return;
    }
    case 'stop': {
      const counters = { ...running!.counters };
      await running?.stop();
      running = undefined;
      await send({ type: 'stopped', counters });
      // Exiting normally lets `--cpu-prof` write its profile.
      process.exit(0);
    }
  }
}

process.on('message', (message: ToGateway) => {
  handle(message).catch(async (error: unknown) => {
    await send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exit(1);
  });
});
// The bench went away without stopping us: do not linger as an orphan holding MQTT sessions.
process.on('disconnect', () => process.exit(1));
