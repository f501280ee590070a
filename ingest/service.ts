import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { DEFAULT_CAPTURE_POLICY, type CapturePolicy } from '../core/domain/capture-policy.js';
import type { Config } from '../core/domain/config.js';
import type { Logger } from '../core/infrastructure/logger.js';
import type { MediaStore } from '../core/infrastructure/media-store.js';
import type { ServerSigningKey } from '../core/infrastructure/signing-key.js';
import type { Database } from '../db/client.js';
import { recordGatewayKey } from '../db/gateway-keys.js';
import { registerQueueMetrics } from '../core/infrastructure/queue-metrics.js';
import { QueueRegistry } from '../core/infrastructure/queues.js';
import { CaptureIngestor } from './capture-ingestor.js';
import { DeviceDirectory } from './device-directory.js';
import { registerCaptureLatency, registerGatewayMetrics } from './gateway-metrics.js';
import { IngestGateway } from './gateway.js';
import { HealthIntake } from './health-intake.js';
import { OutboxDispatcher } from './outbox-dispatcher.js';

export interface IngestRoleOptions {
  database: Database;
  store: MediaStore;
  redis: Redis;
  queuePrefix: string;
  mqttUrl: string;
  mqttCredentials?: { username: string; password: string } | undefined;
  topicRoot: string;
  sharedGroup: string | undefined;
  /** Stable per instance: the broker keeps unacknowledged messages for this session id. */
  clientId?: string;
  connections?: number;
  completenessTimeoutMs?: number;
  stagedChunkKeepMs?: number;
  reconcileIntervalMs?: number;
  policy?: CapturePolicy;
  /** The gateway's key for signing acknowledgements (config: GATEWAY_SIGNING_KEY_FILE). */
  gatewayKey: ServerSigningKey;
  /** Where the gateway's series go (its health server's `/metrics`); none are kept when absent. */
  metrics?: Registry;
  log: Logger;
}

export interface IngestRole {
  gateway: IngestGateway;
  ingestor: CaptureIngestor;
  dispatcher: OutboxDispatcher;
  stop(): Promise<void>;
}

/** The gateway settings that come from configuration, shared by split and all-in-one mode. */
export function ingestSettings(config: Config) {
  return {
    mqttCredentials: config.mqtt.credentials,
    topicRoot: config.mqtt.topicRoot,
    sharedGroup: config.mqtt.sharedGroup,
    connections: config.ingest.connections,
    completenessTimeoutMs: config.ingest.completenessTimeoutMs,
    stagedChunkKeepMs: config.ingest.stagedChunkKeepMs,
    policy: {
      ...DEFAULT_CAPTURE_POLICY,
      maxAgeMs: config.ingest.maxCaptureAgeMs,
      keyRotationOverlapMs: config.ingest.keyRotationOverlapMs,
    },
  };
}

/** Wires the gateway: device directory and ingestor over the database, the outbox onto BullMQ. */
export async function startIngestRole(options: IngestRoleOptions): Promise<IngestRole> {
  const log = options.log.child({ role: 'ingest' });
  const queues = new QueueRegistry(options.redis, options.queuePrefix);
  const directory = new DeviceDirectory(options.database.db);
  const policy = options.policy ?? DEFAULT_CAPTURE_POLICY;
  const ingestor = new CaptureIngestor(options.database.db, options.store, directory, policy);
  const health = new HealthIntake(options.database.db, directory, policy);
  const dispatcher = new OutboxDispatcher(options.database.db, queues, log);
  const gateway = new IngestGateway(
    {
      mqttUrl: options.mqttUrl,
      credentials: options.mqttCredentials,
      topicRoot: options.topicRoot,
      sharedGroup: options.sharedGroup,
      clientId: options.clientId ?? `verity-ingest-${hostname()}`,
      connections: options.connections ?? 1,
      completenessTimeoutMs: options.completenessTimeoutMs ?? 60_000,
      stagedChunkKeepMs: options.stagedChunkKeepMs ?? 24 * 3600_000,
      reconcileIntervalMs: options.reconcileIntervalMs ?? 10_000,
      // Registered before the gateway subscribes: a resumed session's queued messages arrive at once.
      onCaptureHandled: options.metrics && registerCaptureLatency(options.metrics),
    },
    ingestor,
    health,
    dispatcher,
    options.gatewayKey,
    log,
  );
  if (options.metrics) {
    registerGatewayMetrics(options.metrics, () => gateway.counters);
    // The gateway enqueues, so the depth of what it hands on is visible from its own port too.
    registerQueueMetrics(options.metrics, queues.all());
  }
  // Recorded before the first ack is signed, so the review server can already publish the key devices need.
  await recordGatewayKey(options.database.db, options.gatewayKey);
  await gateway.start();
  // Jobs committed before a crash or a Redis restart go out now rather than at the first tick.
  dispatcher.dispatch().catch((error: unknown) => log.warn({ err: error }, 'initial outbox dispatch failed'));
  return {
    gateway,
    ingestor,
    dispatcher,
    stop: async () => {
      await gateway.stop();
      await queues.close();
    },
  };
}
