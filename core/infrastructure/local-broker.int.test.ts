import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempDir, waitFor } from '../../test/support/isolated.js';
import { createLogger } from './logger.js';
import { startLocalBroker, type LocalBroker } from './local-broker.js';

const execFileAsync = promisify(execFile);

/** What a device built from stock tools does: one QoS 1 message with the given MQTT version. */
function mosquittoPub(broker: LocalBroker, version: 'mqttv5' | 'mqttv311', topic: string, message: string) {
  return execFileAsync(
    'mosquitto_pub',
    ['-h', '127.0.0.1', '-p', String(broker.port), '-V', version, '-q', '1', '-t', topic, '-m', message],
    {
      timeout: 10_000,
    },
  );
}

async function subscriber(broker: LocalBroker, topic: string): Promise<{ client: MqttClient; received: string[] }> {
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
  const received: string[] = [];
  client.on('message', (_topic, payload) => received.push(payload.toString()));
  await client.subscribeAsync(topic, { qos: 1 });
  return { client, received };
}

function capturingLogger() {
  const lines: string[] = [];
  return { log: createLogger('info', { write: (line: string) => lines.push(line) }), lines };
}

describe('the all-in-one broker', () => {
  let dir: Awaited<ReturnType<typeof createTempDir>>;
  beforeAll(async () => {
    dir = await createTempDir('local-broker');
  });
  afterAll(async () => {
    await dir.remove();
  });

  it('is a private mosquitto when one is installed, and takes MQTT 5 and 3.1.1 clients alike', async () => {
    const { log, lines } = capturingLogger();
    const broker = await startLocalBroker({ dataDir: path.join(dir.dir, 'mosquitto'), port: 0, host: '127.0.0.1' }, log);
    try {
      expect(broker.warning).toBeUndefined();
      expect(broker.description).toMatch(/mosquitto .*MQTT 5/);
      const { client, received } = await subscriber(broker, 'verity-test/versions');
      await mosquittoPub(broker, 'mqttv5', 'verity-test/versions', 'sent with MQTT 5');
      await mosquittoPub(broker, 'mqttv311', 'verity-test/versions', 'sent with MQTT 3.1.1');
      await waitFor('both messages', async () => (received.length === 2 ? received : undefined), 5000);
      expect(received).toEqual(['sent with MQTT 5', 'sent with MQTT 3.1.1']);
      await client.endAsync();
      expect(lines.filter((line) => line.includes('"level":40'))).toEqual([]);
    } finally {
      await broker.close();
    }
    // Its log is kept for whoever wonders why a device could not connect.
    expect(await readFile(path.join(dir.dir, 'mosquitto', 'mosquitto.log'), 'utf8')).toMatch(/New client connected/);
  });

  it('falls back to the embedded broker without mosquitto, saying that MQTT 5 clients are refused and how to get mosquitto', async () => {
    const { log, lines } = capturingLogger();
    const broker = await startLocalBroker(
      { dataDir: path.join(dir.dir, 'absent'), port: 0, host: '127.0.0.1', binary: path.join(dir.dir, 'no-such-mosquitto') },
      log,
    );
    try {
      expect(broker.description).toMatch(/embedded broker \(MQTT 3\.1\.1 only\)/);
      expect(broker.warning).toMatch(/MQTT 3\.1\.1 only and refuses MQTT 5 clients/);
      expect(broker.warning).toMatch(/apt-get install mosquitto/);
      expect(lines.some((line) => line.includes('"level":40') && line.includes('refuses MQTT 5 clients'))).toBe(true);
      const { client, received } = await subscriber(broker, 'verity-test/fallback');
      await mosquittoPub(broker, 'mqttv311', 'verity-test/fallback', 'still works with 3.1.1');
      await waitFor('the 3.1.1 message', async () => (received.length === 1 ? received : undefined), 5000);
      // What the warning promises: an MQTT 5 device cannot use this broker.
      await expect(mosquittoPub(broker, 'mqttv5', 'verity-test/fallback', 'refused')).rejects.toThrow();
      await client.endAsync();
    } finally {
      await broker.close();
    }
  });
});
