import { once, type EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../core/infrastructure/logger.js';
import { parseDeviceTopic, topics, type AnyAcknowledgement, type ProtocolVersion } from '../core/domain/protocol.js';
import { messageProtocol, signAcknowledgement } from '../core/domain/signed-ack.js';
import type { ServerSigningKey } from '../core/infrastructure/signing-key.js';
import type { CaptureIngestor, IngestResult } from './capture-ingestor.js';
import type { HealthIntake } from './health-intake.js';
import type { OutboxDispatcher } from './outbox-dispatcher.js';
import type { ExpiredChunkSet } from '../db/staged-chunks.js';

export interface GatewayOptions {
  mqttUrl: string;
  /** The gateway's broker account; the shipped ACL lets it read every device's topics and write their acks. */
  credentials: { username: string; password: string } | undefined;
  topicRoot: string;
  /** With a group name, subscribes as `$share/<group>/…` so several gateways split the load. */
  sharedGroup: string | undefined;
  clientId: string;
  /**
   * MQTT.js hands one connection's messages to the handler one at a time, and each waits for
   * its commit; several connections on a shared subscription let commits overlap. Without a
   * shared group every connection would receive every message, so then only one is opened.
   */
  connections: number;
  completenessTimeoutMs: number;
  /** Chunk sets whose newest chunk is older than this are deleted, audited and reported to the device. */
  stagedChunkKeepMs: number;
  reconcileIntervalMs: number;
  /** Told how each capture message ended and how long it took; nothing is timed when absent. */
  onCaptureHandled?: CaptureTiming | undefined;
}

/** How the gateway finished with one capture message: stored with this status, or already stored before. */
export type CaptureOutcome = 'accepted' | 'quarantined' | 'pending' | 'duplicate';

/** Seconds from a capture message's receipt to its outcome committed and its acknowledgement sent. */
export type CaptureTiming = (outcome: CaptureOutcome, seconds: number) => void;

export interface GatewayCounters {
  captureMessages: number;
  duplicates: number;
  accepted: number;
  quarantined: number;
  chunks: number;
  chunksRefused: number;
  chunkSetsExpired: number;
  healthReports: number;
  healthRefused: number;
  ignoredTopics: number;
  /** Plain acknowledgements sent to devices still speaking the deprecated `verity/1`. */
  unsignedAcks: number;
}

/**
 * Subscribes to device topics and acknowledges each MQTT message only after its outcome is
 * committed: a gateway that dies mid-message leaves it unacknowledged, and the broker
 * redelivers it to the next session with the same client id.
 */
export class IngestGateway {
  private clients: MqttClient[] = [];
  private timers: NodeJS.Timeout[] = [];
  private stopping = false;
  readonly counters: GatewayCounters = {
    captureMessages: 0,
    duplicates: 0,
    accepted: 0,
    quarantined: 0,
    chunks: 0,
    chunksRefused: 0,
    chunkSetsExpired: 0,
    healthReports: 0,
    healthRefused: 0,
    ignoredTopics: 0,
    unsignedAcks: 0,
  };

  constructor(
    private readonly options: GatewayOptions,
    private readonly ingestor: CaptureIngestor,
    private readonly health: HealthIntake,
    private readonly dispatcher: OutboxDispatcher,
    /** Signs every v2 acknowledgement; devices hold its public half from enrolment or GET /api/public/gateway-keys. */
    private readonly signingKey: ServerSigningKey,
    private readonly log: Logger,
  ) {}

  get connected(): boolean {
    return this.clients.length > 0 && this.clients.every((client) => client.connected);
  }

  async start(): Promise<void> {
    const count = this.options.sharedGroup ? this.options.connections : 1;
    const filters = topics
      .gatewaySubscriptions(this.options.topicRoot)
      .map((filter) => (this.options.sharedGroup ? `$share/${this.options.sharedGroup}/${filter}` : filter));
    for (let index = 0; index < count; index++) {
      const client = mqtt.connect(this.options.mqttUrl, {
        // Stable per connection: the broker keeps what this session has not acknowledged.
        clientId: count === 1 ? this.options.clientId : `${this.options.clientId}-${index + 1}`,
        clean: false,
        protocolVersion: 4,
        reconnectPeriod: 1000,
        ...this.options.credentials,
      });
      // Installed before the connection opens: a resumed session's queued messages arrive right
      // after CONNACK, and MQTT.js's default handler would acknowledge them unprocessed.
      client.handleMessage = (packet, done) => {
        this.process(packet.topic, packet.payload as Buffer).then(
          () => done(),
          (error: unknown) => done(error as Error),
        );
      };
      client.on('error', (error) => this.log.error({ err: error }, 'mqtt error'));
      this.clients.push(client);
      if (!client.connected) await once(client as unknown as EventEmitter, 'connect');
      await client.subscribeAsync(filters, { qos: 1 });
    }
    this.log.info({ filters, connections: count, broker: this.options.mqttUrl }, 'gateway subscribed');
    this.every(Math.min(this.options.completenessTimeoutMs, 5000), () => this.sweep());
    this.every(this.options.reconcileIntervalMs, () => this.dispatcher.dispatch().then(() => undefined));
    this.every(Math.min(this.options.stagedChunkKeepMs / 4, 15 * 60_000), () => this.expireStagedChunks().then(() => undefined));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await Promise.all(this.clients.map((client) => client.endAsync()));
    this.clients = [];
  }

  private every(intervalMs: number, task: () => Promise<void>): void {
    const timer = setInterval(() => {
      task().catch((error: unknown) => this.log.error({ err: error }, 'gateway background task failed'));
    }, intervalMs);
    timer.unref();
    this.timers.push(timer);
  }

  private async sweep(): Promise<void> {
    const results = await this.ingestor.sweepReceived(this.options.completenessTimeoutMs);
    for (const result of results) this.settle(result);
  }

  /** Deletes chunk sets that waited past their keep time and tells each device which file it must send again. */
  async expireStagedChunks(): Promise<ExpiredChunkSet[]> {
    const expired = await this.ingestor.expireStagedChunks(this.options.stagedChunkKeepMs);
    const keptHours = this.options.stagedChunkKeepMs / 3600_000;
    for (const set of expired) {
      this.counters.chunkSetsExpired++;
      const detail = `${set.chunksReceived} of ${set.chunkCount} chunks arrived, the last at ${set.lastReceivedAt.toISOString()}; staged chunks are kept ${keptHours} h: send the file and its capture again`;
      this.publishAck(
        set.deviceId,
        {
          about: 'chunks',
          sha256: set.sha256,
          chunkCount: set.chunkCount,
          chunksReceived: set.chunksReceived,
          status: 'expired',
          reasons: [{ code: 'chunks_expired', detail }],
        },
        'verity/2',
      );
    }
    if (expired.length > 0) this.log.info({ chunkSets: expired.length }, 'staged chunk sets expired');
    return expired;
  }

  /** Retries transient failures (database or Redis away) without acknowledging, so nothing is lost. */
  private async process(topic: string, payload: Buffer): Promise<void> {
    // Taken before the retries, so a database outage shows in the capture timings.
    const receivedAt = performance.now();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.handle(topic, payload, receivedAt);
        return;
      } catch (error) {
        if (this.stopping) throw error;
        this.log.error({ err: error, topic, attempt }, 'message processing failed; retrying before acknowledging');
        await sleep(Math.min(100 * 2 ** attempt, 5000));
      }
    }
  }

  private async handle(topic: string, payload: Buffer, receivedAt: number): Promise<void> {
    const parsed = parseDeviceTopic(this.options.topicRoot, topic);
    if (!parsed) {
      this.counters.ignoredTopics++;
      this.log.warn({ topic, bytes: payload.length }, 'message on a topic outside the protocol; not processed');
      return;
    }
    if (parsed.kind === 'media-chunk') {
      this.counters.chunks++;
      const outcome = await this.ingestor.ingestChunk(parsed, payload);
      if (!outcome.accepted) {
        this.counters.chunksRefused++;
        this.log.warn({ topic, reason: outcome.reason }, 'media chunk refused');
        const { sha256, chunkIndex, chunkCount } = parsed;
        const ack: AnyAcknowledgement = { about: 'chunk', sha256, chunkIndex, chunkCount, status: 'refused', reasons: [outcome.reason] };
        this.publishAck(parsed.deviceId, ack, 'verity/2');
      }
      for (const result of outcome.completed) this.settle(result);
      return;
    }
    if (parsed.kind === 'health') {
      const outcome = await this.health.ingest(parsed.deviceId, payload);
      if (outcome.accepted) {
        this.counters.healthReports++;
        this.dispatchSoon();
      } else {
        this.counters.healthRefused++;
        this.log.warn({ topic, reason: outcome.reason }, 'health report refused');
      }
      this.publishAck(
        parsed.deviceId,
        {
          about: 'health',
          messageSha256: outcome.messageSha256,
          status: outcome.accepted ? 'accepted' : 'refused',
          reasons: outcome.accepted ? [] : [outcome.reason],
        },
        messageProtocol(payload),
      );
      return;
    }
    this.counters.captureMessages++;
    const result = await this.ingestor.ingestCapture(parsed.deviceId, payload);
    if (!result.stored) this.counters.duplicates++;
    this.settle(result);
    this.options.onCaptureHandled?.(result.stored ? result.ack.status : 'duplicate', (performance.now() - receivedAt) / 1000);
  }

  /**
   * After a commit: count it, hand new jobs to the queue and tell the device the outcome.
   * Neither is awaited: this runs inside mqtt.js's message handler, which holds back the
   * broker's PUBACK for our own publish, and a Redis outage must not stall ingestion (the
   * outbox reconciler re-sends what this pass could not).
   */
  private settle(result: IngestResult): void {
    if (result.stored && result.ack.status === 'accepted') this.counters.accepted++;
    if (result.stored && result.ack.status === 'quarantined') this.counters.quarantined++;
    if (result.ack.status === 'accepted') this.dispatchSoon();
    if (result.deviceId) this.publishAck(result.deviceId, result.ack, result.answers);
  }

  private dispatchSoon(): void {
    this.dispatcher.dispatch().catch((error: unknown) => this.log.warn({ err: error }, 'outbox dispatch deferred to the reconciler'));
  }

  /** Answers in the version of the message answered; chunks carry no version and always get the signed answer. */
  private publishAck(deviceId: string, ack: AnyAcknowledgement, answers: ProtocolVersion): void {
    if (answers === 'verity/1') this.counters.unsignedAcks++;
    const payload =
      answers === 'verity/1' ? JSON.stringify(ack) : signAcknowledgement(ack, { deviceId, issuedAt: new Date() }, this.signingKey);
    this.clients[0]
      ?.publishAsync(topics.ack(this.options.topicRoot, deviceId), payload, { qos: 1 })
      .catch((error: unknown) => this.log.warn({ err: error, deviceId }, 'acknowledgement not delivered'));
  }
}
