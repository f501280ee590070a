import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../core/infrastructure/logger.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROTOCOL_VERSION, topics, type HealthReport } from '../core/domain/protocol.js';
import { verifyAcknowledgement, type GatewayPublicKey } from '../core/domain/signed-ack.js';
import { generateCapture } from './capture-generator.js';
import { publishCapture, signHealthReport } from './device-protocol.js';
import { FAULT_KINDS, injectFault, type DeviceCondition } from './fault-injector.js';
import { ResendBuffer } from './resend-buffer.js';
import type { SimulatedDevice } from './fleet.js';

export interface FleetRunOptions {
  mqttUrl: string;
  /** The account every simulated device logs in with; docker-compose.yml's ACL lets it publish for each of them. */
  credentials?: { username: string; password: string } | undefined;
  topicRoot: string;
  intervalMs: number;
  /** How long a device waits for the gateway's answer before sending a capture again. */
  resendAfterMs?: number;
  heartbeatEveryMs?: number;
  /** Every so often one random device suffers a random malfunction; 0 turns this off. */
  faultEveryMs?: number;
  /** The keys acknowledgements must be signed with, from the enrolment answer or GET /api/public/gateway-keys. */
  gatewayKeys: readonly GatewayPublicKey[];
  /** Fetches the key list again when an ack names a key not held, as after a gateway key rotation. */
  refreshGatewayKeys?: () => Promise<readonly GatewayPublicKey[]>;
  /** At most one refresh this often, so forged acks naming random keys cannot make the fleet hammer the server. */
  refreshGatewayKeysEveryMs?: number;
  log: Logger;
}

let renderQueue: Promise<unknown> = Promise.resolve();

/**
 * Frames are rendered one at a time across the fleet: in the all-in-one mode the simulator
 * shares the CPU and libuv's thread pool with the system under test, and must not starve it.
 */
function renderOneAtATime<T>(render: () => Promise<T>): Promise<T> {
  const result = renderQueue.then(render, render);
  renderQueue = result.catch(() => undefined);
  return result;
}

/** Each device on its own MQTT connection, publishing a capture every interval (staggered). */
export async function runFleet(
  fleet: readonly SimulatedDevice[],
  options: FleetRunOptions,
): Promise<{ published: () => number; refusedAcks: () => number; unanswered: () => number; stop(): Promise<void> }> {
  let published = 0;
  let refusedAcks = 0;
  const buffers: ResendBuffer[] = [];
  let gatewayKeys = options.gatewayKeys;
  let lastRefreshAt = -Infinity;
  /** Verifies one ack; an unknown key triggers one refresh of the key list (rate-limited) and a second try. */
  const verify = async (payload: Buffer, deviceId: string) => {
    const first = verifyAcknowledgement(payload, gatewayKeys, deviceId);
    const refreshEveryMs = options.refreshGatewayKeysEveryMs ?? 60_000;
    if (first.ok || first.refusal !== 'unknown_key' || !options.refreshGatewayKeys || Date.now() - lastRefreshAt < refreshEveryMs) {
      return first;
    }
    lastRefreshAt = Date.now();
    // Keys already trusted stay: acks signed before a rotation may still be on their way.
    const fetched = await options.refreshGatewayKeys();
    gatewayKeys = [...gatewayKeys, ...fetched.filter((key) => !gatewayKeys.some((held) => held.fingerprint === key.fingerprint))];
    return verifyAcknowledgement(payload, gatewayKeys, deviceId);
  };
  const stopping = new AbortController();
  let stopped = false;
  const clients: MqttClient[] = [];
  const timers: NodeJS.Timeout[] = [];
  const inFlight = new Set<Promise<void>>();
  const devices: { id: string; condition: DeviceCondition; report: (report: HealthReport) => Promise<void> }[] = [];
  for (const [index, device] of fleet.entries()) {
    const healthTopic = topics.health(options.topicRoot, device.id);
    const offline: HealthReport = {
      protocol: PROTOCOL_VERSION,
      deviceId: device.id,
      reportedAt: new Date().toISOString(),
      kind: 'offline',
    };
    const client = await mqtt.connectAsync(options.mqttUrl, {
      clientId: `verity-sim-${device.id}`,
      protocolVersion: 4,
      reconnectPeriod: 1000,
      ...options.credentials,
      // Signed now, sent by the broker if the connection dies: the device's last word.
      will: { topic: healthTopic, payload: signHealthReport(offline, device.privateKey), qos: 1, retain: false },
    });
    const condition: DeviceCondition = { silent: false, speedOverrideKmh: undefined };
    const report = async (health: HealthReport) => {
      await client.publishAsync(healthTopic, signHealthReport(health, device.privateKey), { qos: 1 });
    };
    devices.push({ id: device.id, condition, report });
    const beat = () => {
      if (condition.silent || stopped) return;
      report({ protocol: PROTOCOL_VERSION, deviceId: device.id, reportedAt: new Date().toISOString(), kind: 'heartbeat' }).catch(
        (error: unknown) => options.log.warn({ err: error, device: device.id }, 'heartbeat not sent'),
      );
    };
    beat();
    timers.push(setInterval(beat, options.heartbeatEveryMs ?? 30_000));
    client.on('error', (error) => options.log.warn({ err: error, device: device.id }, 'simulated device connection error'));
    clients.push(client);
    const unanswered = new ResendBuffer();
    buffers.push(unanswered);
    client.on('message', (_topic, payload) => {
      // Anyone on the broker can publish here: an outcome counts only if the gateway signed it for this device.
      verify(payload, device.id).then(
        (verified) => {
          if (verified.ok) {
            if (verified.ack.about === 'capture') unanswered.acknowledge(verified.ack);
            return;
          }
          refusedAcks++;
          options.log.warn(
            { device: device.id, problem: verified.problem },
            'acknowledgement refused; the capture stays in the resend buffer',
          );
        },
        (error: unknown) => {
          refusedAcks++;
          options.log.warn({ err: error, device: device.id }, 'gateway keys not fetched; acknowledgement refused');
        },
      );
    });
    await client.subscribeAsync(topics.ack(options.topicRoot, device.id), { qos: 1 });
    const resendAfterMs = options.resendAfterMs ?? 30_000;
    timers.push(
      setInterval(() => {
        for (const capture of unanswered.takeDue(Date.now(), resendAfterMs)) {
          publishCapture(client, options.topicRoot, capture).catch((error: unknown) =>
            options.log.warn({ err: error, device: device.id }, 'resend failed; will retry'),
          );
        }
      }, resendAfterMs),
    );
    let sequence = 0;
    let busy = false;
    const publishOne = () => {
      // A device still sending its previous capture skips this tick, as a real camera's
      // bounded buffer would, so an overloaded machine sees fewer captures, not a growing backlog.
      if (stopped || busy) return;
      busy = true;
      const seed = Date.now() + index * 7919 + sequence++;
      const capturedAt = new Date();
      const task = renderOneAtATime(() => generateCapture(device, capturedAt, seed, condition.speedOverrideKmh))
        .then(async (capture) => {
          const dropped = unanswered.track(capture, Date.now());
          if (dropped)
            options.log.warn({ device: device.id, captureId: dropped.manifest.captureId }, 'resend buffer full; oldest capture given up');
          await publishCapture(client, options.topicRoot, capture);
          published++;
        })
        .catch((error: unknown) => options.log.warn({ err: error, device: device.id }, 'simulated capture not published'))
        .finally(() => {
          busy = false;
          inFlight.delete(task);
        });
      inFlight.add(task);
    };
    const stagger = Math.round((options.intervalMs * index) / Math.max(fleet.length, 1));
    timers.push(
      setTimeout(() => {
        publishOne();
        timers.push(setInterval(publishOne, options.intervalMs));
      }, stagger),
    );
  }
  if (options.faultEveryMs) {
    timers.push(
      setInterval(() => {
        const victim = devices[Math.floor(Math.random() * devices.length)];
        const kind = FAULT_KINDS[Math.floor(Math.random() * FAULT_KINDS.length)]!;
        if (!victim || stopped) return;
        // Silence must outlast the scan's 3-minute threshold to be noticed at all.
        const durationMs = kind === 'silence' ? 240_000 : 90_000;
        options.log.info({ device: victim.id, fault: kind, durationMs }, 'simulated malfunction injected');
        const task = injectFault(kind, victim, durationMs, (ms) => sleep(ms, undefined, { signal: stopping.signal }))
          .catch((error: unknown) => {
            if (!stopping.signal.aborted) options.log.warn({ err: error, device: victim.id }, 'simulated malfunction failed');
          })
          .finally(() => inFlight.delete(task));
        inFlight.add(task);
      }, options.faultEveryMs),
    );
  }
  options.log.info({ devices: fleet.length, intervalMs: options.intervalMs }, 'simulated fleet publishing');
  return {
    published: () => published,
    refusedAcks: () => refusedAcks,
    unanswered: () => buffers.reduce((total, buffer) => total + buffer.size, 0),
    stop: async () => {
      stopped = true;
      // Ends the waits of malfunctions in progress, which may last minutes.
      stopping.abort();
      for (const timer of timers) clearTimeout(timer);
      await Promise.all(inFlight);
      await Promise.all(clients.map((client) => client.endAsync()));
    },
  };
}
