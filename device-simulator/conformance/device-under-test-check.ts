import { createPublicKey, randomUUID } from 'node:crypto';
import mqtt, { type IClientOptions } from 'mqtt';
import { readEnvelope, signatureVerifies } from '../../core/domain/capture-verifier.js';
import {
  MAX_CHUNK_BYTES,
  PROTOCOL_VERSION,
  envelopeSchema,
  healthReportSchema,
  parseDeviceTopic,
  topics,
} from '../../core/domain/protocol.js';
import { signAcknowledgement } from '../../core/domain/signed-ack.js';
import { parseStrictJson } from '../../core/domain/strict-json.js';
import type { CheckResult } from './gateway-check.js';
import { VECTOR_KEYS } from './vectors.js';
import { sha256Hex } from '../../core/infrastructure/media-store.js';

export interface DeviceCheckOptions {
  mqttUrl: string;
  clientOptions?: IClientOptions;
  topicRoot: string;
  deviceId: string;
  devicePublicKeyPem: string;
  /** How long to watch the device; long enough for it to send a capture and, after a forged ack, send it again. */
  listenMs: number;
  onResult?: (result: CheckResult) => void;
}

/**
 * Watches a device under test on a broker with no gateway: checks every message it publishes
 * against the protocol, and answers its first capture with a forged `accepted` ack (signed by
 * a key that is not the gateway's). A conforming device sends that capture again, because only
 * a verified ack lets it delete a capture.
 */
export async function checkDeviceUnderTest(options: DeviceCheckOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const record = (result: CheckResult) => {
    results.push(result);
    options.onResult?.(result);
  };
  const publicKey = createPublicKey(options.devicePublicKeyPem);
  const seenEnvelopes = new Map<string, number>();
  let forgedFor: string | undefined;
  let resentAfterForgery = false;

  const client = await mqtt.connectAsync(options.mqttUrl, {
    clientId: `verity-check-${options.deviceId}-${randomUUID().slice(0, 8)}`,
    ...options.clientOptions,
  });
  const forgeAck = async (messageSha256: string, captureId: string) => {
    const forged = signAcknowledgement(
      { about: 'capture', captureId, messageSha256, status: 'accepted', reasons: [] },
      { deviceId: options.deviceId, issuedAt: new Date() },
      VECTOR_KEYS.forger,
    );
    await client.publishAsync(topics.ack(options.topicRoot, options.deviceId), forged, { qos: 1 });
  };

  const inspect = (topic: string, payload: Buffer) => {
    const parsed = parseDeviceTopic(options.topicRoot, topic);
    if (topic === topics.ack(options.topicRoot, options.deviceId)) return;
    if (!parsed || parsed.deviceId !== options.deviceId) {
      record({ name: 'topic', passed: false, detail: `${topic} is not a device topic of docs/protocol.md` });
      return;
    }
    if (parsed.kind === 'media-chunk') {
      const passed = payload.length >= 1 && payload.length <= MAX_CHUNK_BYTES;
      if (!passed) record({ name: 'media chunk', passed, detail: `${topic}: ${payload.length} bytes (allowed 1-${MAX_CHUNK_BYTES})` });
      return;
    }
    const messageSha256 = sha256Hex(payload);
    if (parsed.kind === 'capture') {
      const reading = readEnvelope(payload);
      if (!reading.ok) {
        record({
          name: 'capture envelope',
          passed: false,
          detail: reading.reasons.map((reason) => `${reason.code}: ${reason.detail}`).join('; '),
        });
        return;
      }
      const { manifest } = reading;
      const problems = [
        ...(signatureVerifies(reading.manifestBytes, reading.signature, publicKey)
          ? []
          : ['signature does not verify with the given device key']),
        ...(manifest.protocol === PROTOCOL_VERSION ? [] : [`protocol ${manifest.protocol} (current is ${PROTOCOL_VERSION})`]),
        ...(manifest.deviceId === options.deviceId ? [] : [`deviceId ${manifest.deviceId} on ${topic}`]),
        ...(manifest.captureId === manifest.captureId.toLowerCase() ? [] : ['captureId is not lower case']),
      ];
      const times = (seenEnvelopes.get(messageSha256) ?? 0) + 1;
      seenEnvelopes.set(messageSha256, times);
      if (times === 1)
        record({
          name: `capture ${manifest.captureId}`,
          passed: problems.length === 0,
          detail: problems.join('; ') || 'schema and signature hold',
        });
      if (forgedFor === messageSha256 && times > 1) resentAfterForgery = true;
      if (!forgedFor) {
        forgedFor = messageSha256;
        void forgeAck(messageSha256, manifest.captureId);
      }
      return;
    }
    const envelopeJson = parseStrictJson(payload);
    const envelope = envelopeJson.ok ? envelopeSchema.safeParse(envelopeJson.value) : undefined;
    const bytes = envelope?.success ? Buffer.from(envelope.data.manifest, 'base64') : undefined;
    const body = bytes ? parseStrictJson(bytes) : undefined;
    const report = body?.ok ? healthReportSchema.safeParse(body.value) : undefined;
    const problems = [
      ...(bytes ? [] : ['not a signed envelope {"manifest": base64, "signature": base64}']),
      ...(bytes && envelope?.success && !signatureVerifies(bytes, Buffer.from(envelope.data.signature, 'base64'), publicKey)
        ? ['signature does not verify']
        : []),
      ...(report && !report.success ? [`report: ${report.error.issues[0]?.message ?? 'breaks the schema'}`] : []),
    ];
    if (bytes && !report) problems.push('report: not I-JSON');
    record({
      name: `health report ${report?.success ? report.data.kind : ''}`.trim(),
      passed: problems.length === 0,
      detail: problems.join('; ') || 'schema and signature hold',
    });
  };

  try {
    client.on('message', inspect);
    await client.subscribeAsync(`${options.topicRoot}/devices/${options.deviceId}/#`, { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, options.listenMs));
  } finally {
    await client.endAsync();
  }
  record({
    name: 'keeps a capture after a forged ack',
    passed: resentAfterForgery,
    detail: !forgedFor
      ? 'the device sent no capture while watched'
      : resentAfterForgery
        ? 'the device sent the capture again after a forged accepted ack'
        : 'the device did not send the capture again after a forged accepted ack: it may have deleted it',
  });
  return results;
}
