import { randomUUID, type KeyObject } from 'node:crypto';
import mqtt, { type IClientOptions } from 'mqtt';
import { topics, type AnyAcknowledgement } from '../../core/domain/protocol.js';
import { verifyAcknowledgement, type GatewayPublicKey } from '../../core/domain/signed-ack.js';
import { buildChunkCases, buildEnvelopeCases, buildHealthCases, type BuildContext, type Publication } from './vectors.js';
import { sha256Hex } from '../../core/infrastructure/media-store.js';

export interface CheckResult {
  name: string;
  passed: boolean;
  detail: string;
}

export interface GatewayCheckOptions {
  mqttUrl: string;
  clientOptions?: IClientOptions;
  topicRoot: string;
  deviceId: string;
  deviceKey: KeyObject;
  gatewayKeys: readonly GatewayPublicKey[];
  /** How long an answer may take; a case that waits for the completeness window gets that much longer. */
  answerTimeoutMs: number;
  mediaWindowMs: number;
  /** Called as each case is decided, so a person running it sees progress. */
  onResult?: (result: CheckResult, done: number, total: number) => void;
}

/** Answers on the device's acks topic, each taken by at most one expectation, in arrival order. */
class AckInbox {
  private readonly received: { ack: AnyAcknowledgement; taken: boolean }[] = [];
  private readonly waiters = new Set<() => void>();
  readonly refused: string[] = [];

  constructor(
    private readonly gatewayKeys: readonly GatewayPublicKey[],
    private readonly deviceId: string,
  ) {}

  add(payload: Buffer): void {
    const verification = verifyAcknowledgement(payload, this.gatewayKeys, this.deviceId);
    if (!verification.ok) {
      this.refused.push(verification.problem);
      return;
    }
    this.received.push({ ack: verification.ack, taken: false });
    for (const wake of this.waiters) wake();
  }

  /** The first answer not yet taken that `matches`, or undefined after `timeoutMs`. */
  async take(matches: (ack: AnyAcknowledgement) => boolean, timeoutMs: number): Promise<AnyAcknowledgement | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find((entry) => !entry.taken && matches(entry.ack));
      if (found) {
        found.taken = true;
        return found.ack;
      }
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }
}

/** The distinct reason codes: one code may come with a detail per file. */
const codesOf = (ack: AnyAcknowledgement) => [...new Set(ack.reasons.map((reason) => reason.code))].sort();
const describe = (ack: AnyAcknowledgement) =>
  `${ack.status}${ack.reasons.length ? ` (${ack.reasons.map((reason) => `${reason.code}: ${reason.detail}`).join('; ')})` : ''}`;

/**
 * Plays the conformance cases against a running gateway as the device `deviceId`, which must
 * be enrolled with the public key of `deviceKey` and certified now. Every answer must carry a
 * gateway signature that verifies, and say what the case expects.
 */
export async function checkGateway(options: GatewayCheckOptions): Promise<CheckResult[]> {
  const context: BuildContext = {
    deviceId: options.deviceId,
    topicRoot: options.topicRoot,
    now: new Date(),
    deviceKey: options.deviceKey,
    captureId: (() => {
      const ids = new Map<string, string>();
      return (name: string) => ids.get(name) ?? ids.set(name, randomUUID()).get(name)!;
    })(),
  };
  const envelopeCases = await buildEnvelopeCases(context);
  const healthCases = buildHealthCases(context);
  const chunkCases = buildChunkCases(context);
  const total = envelopeCases.length + healthCases.length + chunkCases.length + 1;
  const results: CheckResult[] = [];
  const record = (result: CheckResult) => {
    results.push(result);
    options.onResult?.(result, results.length, total);
  };

  const inbox = new AckInbox(options.gatewayKeys, options.deviceId);
  const client = await mqtt.connectAsync(options.mqttUrl, {
    clientId: `verity-check-${options.deviceId}-${randomUUID().slice(0, 8)}`,
    ...options.clientOptions,
  });
  try {
    client.on('message', (_topic, payload) => inbox.add(payload));
    await client.subscribeAsync(topics.ack(options.topicRoot, options.deviceId), { qos: 1 });
    const publish = (publication: Publication) => client.publishAsync(publication.topic, publication.payload, { qos: 1 });

    for (const testCase of envelopeCases) {
      for (const publication of testCase.publications) await publish(publication);
      await publish(testCase.envelope);
      const messageSha256 = sha256Hex(testCase.envelope.payload);
      const wait = options.answerTimeoutMs + (testCase.waitsForMediaWindow ? options.mediaWindowMs : 0);
      const ack = await inbox.take(
        (candidate) => candidate.about === 'capture' && candidate.messageSha256 === messageSha256 && candidate.status !== 'pending',
        wait,
      );
      if (!ack) {
        record({ name: testCase.name, passed: false, detail: `no verified final answer within ${Math.round(wait / 1000)} s` });
        continue;
      }
      const passed = ack.status === testCase.expect.status && codesOf(ack).join() === [...testCase.expect.reasons].sort().join();
      const expected = `${testCase.expect.status}${testCase.expect.reasons.length ? ` (${testCase.expect.reasons.join(', ')})` : ''}`;
      record({ name: testCase.name, passed, detail: passed ? describe(ack) : `expected ${expected}, got ${describe(ack)}` });
    }

    for (const testCase of healthCases) {
      await publish(testCase.report);
      const messageSha256 = sha256Hex(testCase.report.payload);
      const ack = await inbox.take(
        (candidate) => candidate.about === 'health' && candidate.messageSha256 === messageSha256,
        options.answerTimeoutMs,
      );
      if (!ack) {
        record({ name: testCase.name, passed: false, detail: `no verified answer within ${Math.round(options.answerTimeoutMs / 1000)} s` });
        continue;
      }
      const passed = ack.status === testCase.expect.status && (codesOf(ack)[0] ?? undefined) === testCase.expect.reason;
      const expected = `${testCase.expect.status}${testCase.expect.reason ? ` (${testCase.expect.reason})` : ''}`;
      record({ name: testCase.name, passed, detail: passed ? describe(ack) : `expected ${expected}, got ${describe(ack)}` });
    }

    for (const testCase of chunkCases) {
      await publish(testCase.chunk);
      const ack = await inbox.take((candidate) => candidate.about === 'chunk', options.answerTimeoutMs);
      const passed = ack?.status === testCase.expect.status && ack.reasons[0]?.code === testCase.expect.reason;
      record({
        name: testCase.name,
        passed,
        detail: ack
          ? passed
            ? describe(ack)
            : `expected refused (${testCase.expect.reason}), got ${describe(ack)}`
          : 'no verified answer',
      });
    }

    record({
      name: 'every-answer-signed',
      passed: inbox.refused.length === 0,
      detail:
        inbox.refused.length === 0
          ? 'every message on the acks topic verified'
          : `${inbox.refused.length} did not verify: ${inbox.refused.slice(0, 3).join('; ')}`,
    });
  } finally {
    await client.endAsync();
  }
  return results;
}
