import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../core/domain/protocol.js';
import { enrolTestDevice, testMedia } from '../../test/support/devices.js';
import { createTempDir, uniqueName } from '../../test/support/isolated.js';
import { testServices } from '../../test/support/services.js';
import { startTestGateway, type TestGateway } from '../../test/support/test-gateway.js';
import { buildManifest, publishCapture, signManifest } from '../device-protocol.js';
import { loadFleet, type SimulatedDevice } from '../fleet.js';
import { runFleet } from '../runner.js';
import { runDeviceCheckCli } from './device-check-cli.js';
import { VECTOR_KEYS } from './vectors.js';

const log = pino({ level: 'silent' });
const COMPLETENESS_MS = 1500;

describe('npm run device:check against a real gateway, Postgres and Mosquitto', () => {
  let gateway: TestGateway;
  let database: TestGateway['database'];
  let topicRoot: string;
  let gatewayKey: TestGateway['gatewayKey'];
  let dir: Awaited<ReturnType<typeof createTempDir>>;

  beforeAll(async () => {
    gateway = await startTestGateway('conformance', { completenessTimeoutMs: COMPLETENESS_MS });
    ({ database, topicRoot, gatewayKey } = gateway);
    dir = await createTempDir('conformance');
  });

  afterAll(async () => {
    await gateway?.stop();
    await dir?.remove();
  });

  it('plays every vector as an enrolled test device and gets the expected, signed answer to each', async () => {
    const device = await enrolTestDevice(database.db, {
      id: uniqueName('conformance').replaceAll('_', '-'),
      privateKey: VECTOR_KEYS.device.privateKey,
    });
    const keysFile = path.join(dir.dir, 'gateway-keys.json');
    await writeFile(keysFile, JSON.stringify({ keys: [{ fingerprint: gatewayKey.fingerprint, publicKeyPem: gatewayKey.publicKeyPem }] }));
    const lines: string[] = [];
    const io = {
      out: (line: string) => lines.push(line),
      err: (line: string) => lines.push(`ERR ${line}`),
      fetchText: () => Promise.reject(new Error('no HTTP here')),
    };
    const argv = [
      '--against',
      'gateway',
      '--mqtt',
      testServices.mqttUrl,
      '--device',
      device.id,
      '--root',
      topicRoot,
      '--gateway-keys',
      keysFile,
    ];
    const exitCode = await runDeviceCheckCli([...argv, '--media-window-seconds', String((COMPLETENESS_MS + 3000) / 1000)], io);
    expect(
      lines.filter((line) => !line.includes('✓')),
      lines.join('\n'),
    ).toEqual([expect.stringMatching(/^all \d+ checks passed$/)]);
    expect(exitCode).toBe(0);
    expect(lines.some((line) => /✓ valid: accepted/.test(line))).toBe(true);
  });

  it('fails, with the case named, when the gateway answers with a key the device does not trust', async () => {
    const device = await enrolTestDevice(database.db, {
      id: uniqueName('conformance').replaceAll('_', '-'),
      privateKey: VECTOR_KEYS.device.privateKey,
    });
    const keysFile = path.join(dir.dir, 'other-keys.json');
    await writeFile(
      keysFile,
      JSON.stringify({ keys: [{ fingerprint: VECTOR_KEYS.gateway.fingerprint, publicKeyPem: VECTOR_KEYS.gateway.publicKeyPem }] }),
    );
    const lines: string[] = [];
    const io = {
      out: (line: string) => lines.push(line),
      err: (line: string) => lines.push(line),
      fetchText: () => Promise.reject(new Error('no HTTP here')),
    };
    const exitCode = await runDeviceCheckCli(
      [
        '--against',
        'gateway',
        '--mqtt',
        testServices.mqttUrl,
        '--device',
        device.id,
        '--root',
        topicRoot,
        '--gateway-keys',
        keysFile,
        '--media-window-seconds',
        '0',
        '--answer-seconds',
        '1',
      ],
      io,
    );
    expect(exitCode).toBe(1);
    expect(lines).toContainEqual(expect.stringMatching(/✗ valid: no verified final answer/));
    expect(lines).toContainEqual(expect.stringMatching(/✗ every-answer-signed: \d+ did not verify: ack: signed by unknown gateway key/));
  });
});

describe('npm run device:check against a device under test, on a broker with no gateway', () => {
  let keysDir: Awaited<ReturnType<typeof createTempDir>>;
  const topicRoot = `verity-test/${uniqueName('dut')}/v1`;
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    keysDir = await createTempDir('dut-keys');
  });

  afterAll(async () => {
    for (const stop of stops) await stop();
    await keysDir?.remove();
  });

  async function deviceUnderTest(): Promise<{ device: SimulatedDevice; publicKeyFile: string }> {
    const [simulated] = await loadFleet(1, keysDir.dir);
    const id = uniqueName('dut').replaceAll('_', '-').slice(0, 60);
    const publicKeyFile = path.join(keysDir.dir, `${id}.pub.pem`);
    await writeFile(publicKeyFile, simulated!.enrolment.publicKeyPem);
    return { device: { ...simulated!, id }, publicKeyFile };
  }

  async function check(device: SimulatedDevice, publicKeyFile: string): Promise<{ exitCode: number; lines: string[] }> {
    const lines: string[] = [];
    const io = {
      out: (line: string) => lines.push(line),
      err: (line: string) => lines.push(`ERR ${line}`),
      fetchText: () => Promise.reject(new Error('no HTTP here')),
    };
    const argv = ['--against', 'device', '--mqtt', testServices.mqttUrl, '--device', device.id, '--root', topicRoot];
    const exitCode = await runDeviceCheckCli([...argv, '--device-key', publicKeyFile, '--listen-seconds', '6'], io);
    return { exitCode, lines };
  }

  it('passes the reference device: its messages conform and a forged ack does not make it drop the capture', async () => {
    const { device, publicKeyFile } = await deviceUnderTest();
    const checking = check(device, publicKeyFile);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const fleet = await runFleet([device], {
      mqttUrl: testServices.mqttUrl,
      topicRoot,
      intervalMs: 3600_000,
      heartbeatEveryMs: 3600_000,
      faultEveryMs: 0,
      resendAfterMs: 1000,
      gatewayKeys: [{ fingerprint: VECTOR_KEYS.gateway.fingerprint, publicKeyPem: VECTOR_KEYS.gateway.publicKeyPem }],
      log,
    });
    stops.push(() => fleet.stop());
    const { exitCode, lines } = await checking;
    expect(
      lines.filter((line) => !line.startsWith('✓') && !line.startsWith('watching')),
      lines.join('\n'),
    ).toEqual([expect.stringMatching(/^all \d+ checks passed$/)]);
    expect(lines).toContainEqual(expect.stringMatching(/^✓ keeps a capture after a forged ack: the device sent the capture again/));
    expect(lines).toContainEqual(expect.stringMatching(/^✓ capture [0-9a-f-]{36}: schema and signature hold$/));
    expect(lines).toContainEqual('✓ health report heartbeat: schema and signature hold');
    expect(exitCode).toBe(0);
  });

  it('fails a device that deletes a capture on any message on its acks topic', async () => {
    const { device, publicKeyFile } = await deviceUnderTest();
    const checking = check(device, publicKeyFile);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const media = await testMedia();
    const signed = signManifest(
      buildManifest({
        deviceId: device.id,
        capturedAt: new Date(),
        clockOffsetMs: 4,
        location: { latitude: 22.5, longitude: 114.05 },
        violationType: 'speeding',
        readings: { speedKmh: 92, limitKmh: 60 },
        media,
      }),
      device.privateKey,
      media,
    );
    const careless = await mqtt.connectAsync(testServices.mqttUrl, { clientId: uniqueName('careless') });
    stops.push(() => careless.endAsync());
    await careless.subscribeAsync(topics.ack(topicRoot, device.id), { qos: 1 });
    let answered = false;
    careless.on('message', () => {
      answered = true;
    });
    const resend = setInterval(() => {
      if (!answered) publishCapture(careless, topicRoot, signed).catch(() => undefined);
    }, 1000);
    stops.push(async () => clearInterval(resend));
    await publishCapture(careless, topicRoot, signed);
    const { exitCode, lines } = await checking;
    expect(lines).toContainEqual(expect.stringMatching(/^✗ keeps a capture after a forged ack: the device did not send the capture again/));
    expect(exitCode).toBe(1);
  });
});
