import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mosquittoPasswordHash, passwordFileLine } from '../core/infrastructure/broker-password.js';
import { waitFor } from './support/isolated.js';
import { startShippedMosquitto, type ShippedMosquitto } from './support/shipped-mosquitto.js';

// The shipped ACL names the default topic root; this broker is the test's own, so no other run shares it.
const root = 'verity/v1';
const accounts = { gateway: 'verity-gateway', simulator: 'verity-simulator', deviceA: 'CAM-ACL-A', deviceB: 'CAM-ACL-B' } as const;
const passwords: Record<string, string> = {
  [accounts.gateway]: 'gateway-password-for-the-test',
  [accounts.simulator]: 'simulator-password-for-the-test',
  [accounts.deviceA]: 'device-a-password-for-the-test',
  [accounts.deviceB]: 'device-b-password-for-the-test',
};

interface Client {
  client: MqttClient;
  received: { topic: string; payload: string }[];
}

describe('the shipped Mosquitto configuration', () => {
  let broker: ShippedMosquitto;
  const open: MqttClient[] = [];

  async function connect(username: string | undefined, options: IClientOptions = {}): Promise<Client> {
    const client = await mqtt.connectAsync(broker.url, {
      clientId: `${username ?? 'anonymous'}-${open.length}`,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...(username ? { username, password: passwords[username] } : {}),
      ...options,
    });
    open.push(client);
    const received: Client['received'] = [];
    client.on('message', (topic, payload) => received.push({ topic, payload: payload.toString() }));
    return { client, received };
  }

  beforeAll(async () => {
    const lines = Object.entries(passwords).map(([user, password]) => passwordFileLine(user, mosquittoPasswordHash(password)));
    broker = await startShippedMosquitto(`${lines.join('\n')}\n`, { username: accounts.gateway, password: passwords[accounts.gateway]! });
  });

  afterAll(async () => {
    await Promise.all(open.map((client) => client.endAsync(true)));
    await broker?.remove();
  });

  it('refuses a client without an account, or with a wrong password, at CONNACK', async () => {
    await expect(connect(undefined, { protocolVersion: 4 })).rejects.toMatchObject({ code: 5 }); // 3.1.1: not authorised
    await expect(connect(undefined, { protocolVersion: 5 })).rejects.toMatchObject({ code: 0x87 }); // 5: Not authorized
    await expect(connect(accounts.deviceA, { password: 'not-its-password' })).rejects.toMatchObject({ code: 5 });
  });

  it("delivers a device's own messages to the gateway and drops what it publishes under another device's id", async () => {
    const gateway = await connect(accounts.gateway, { protocolVersion: 4 });
    // As the gateways subscribe in docker-compose.yml: through a shared subscription.
    const granted = await gateway.client.subscribeAsync(
      [`${root}/devices/+/captures`, `${root}/devices/+/media/+/+/+`, `${root}/devices/+/health`].map(
        (filter) => `$share/verity-ingest/${filter}`,
      ),
      { qos: 1 },
    );
    expect(granted.map((grant) => grant.qos)).toEqual([1, 1, 1]);
    const a311 = await connect(accounts.deviceA, { protocolVersion: 4 });
    const a5 = await connect(accounts.deviceA, { protocolVersion: 5 });

    // MQTT 3.1.1 has no way to say no to a publish: the broker acknowledges it and drops it.
    await a311.client.publishAsync(`${root}/devices/${accounts.deviceB}/captures`, 'forged by A (3.1.1)', { qos: 1 });
    await a311.client.publishAsync(`${root}/devices/${accounts.deviceB}/health`, 'forged health by A', { qos: 1 });
    await a311.client.publishAsync(`${root}/devices/${accounts.deviceB}/media/${'0'.repeat(64)}/0/1`, 'forged chunk', { qos: 1 });
    // MQTT 5 says so: PUBACK reason code 0x87, Not authorized.
    await expect(a5.client.publishAsync(`${root}/devices/${accounts.deviceB}/captures`, 'forged by A (5)', { qos: 1 })).rejects.toThrow(
      /Not authorized/i,
    );
    await a311.client.publishAsync(`${root}/devices/${accounts.deviceA}/captures`, 'own capture (3.1.1)', { qos: 1 });
    await a5.client.publishAsync(`${root}/devices/${accounts.deviceA}/health`, 'own health (5)', { qos: 1 });
    await a5.client.publishAsync(`${root}/devices/${accounts.deviceA}/media/${'0'.repeat(64)}/0/1`, 'own chunk (5)', { qos: 1 });

    // One connection's messages reach a subscriber in order, so once the last own message is in, any forgery would be too.
    await waitFor('device A’s own messages at the gateway', async () =>
      gateway.received.some((message) => message.payload === 'own capture (3.1.1)') && gateway.received.length >= 3 ? true : undefined,
    );
    expect(gateway.received.map((message) => message.payload).sort()).toEqual(['own capture (3.1.1)', 'own chunk (5)', 'own health (5)']);
    expect(gateway.received.every((message) => message.topic.startsWith(`${root}/devices/${accounts.deviceA}/`))).toBe(true);

    // What docker-compose.yml's healthcheck reads with the gateway's account.
    await gateway.client.subscribeAsync('$SYS/broker/uptime', { qos: 0 });
    await waitFor('the broker uptime', async () =>
      gateway.received.some((message) => message.topic === '$SYS/broker/uptime') ? true : undefined,
    );
  });

  it('lets a device read only its own acks, and only the gateway write them', async () => {
    const gateway = await connect(accounts.gateway, { protocolVersion: 4 });
    const a = await connect(accounts.deviceA, { protocolVersion: 5 });
    const b = await connect(accounts.deviceB, { protocolVersion: 4 });
    await b.client.subscribeAsync(`${root}/devices/${accounts.deviceB}/acks`, { qos: 1 });
    await a.client.subscribeAsync(`${root}/devices/${accounts.deviceA}/acks`, { qos: 1 });
    // Mosquitto 2.0 grants the subscription and applies the ACL to each message it would deliver,
    // so what counts is below: nothing on another device's acks topic ever reaches A.
    await a.client.subscribeAsync([`${root}/devices/${accounts.deviceB}/acks`, `${root}/devices/+/acks`], { qos: 1 });

    // The attack of issue 13: a third client forging an `accepted` ack for device B.
    await expect(a.client.publishAsync(`${root}/devices/${accounts.deviceB}/acks`, 'forged ack by A', { qos: 1 })).rejects.toThrow(
      /Not authorized/i,
    );
    await gateway.client.publishAsync(`${root}/devices/${accounts.deviceB}/acks`, 'ack for B', { qos: 1 });
    await gateway.client.publishAsync(`${root}/devices/${accounts.deviceA}/acks`, 'ack for A', { qos: 1 });
    await waitFor('both acks delivered', async () => (a.received.length >= 2 && b.received.length > 0 ? true : undefined));
    // Twice, once per matching subscription (its own topic and the wildcard), but never B's.
    expect(a.received.map((message) => message.payload)).toEqual(['ack for A', 'ack for A']);
    expect(b.received.map((message) => message.payload)).toEqual(['ack for B']);
  });

  it("lets compose's demo simulator publish for every device and read their acks, but not answer for the gateway", async () => {
    const gateway = await connect(accounts.gateway, { protocolVersion: 4 });
    await gateway.client.subscribeAsync(`${root}/devices/+/captures`, { qos: 1 });
    const simulator = await connect(accounts.simulator, { protocolVersion: 5 });
    await simulator.client.subscribeAsync(`${root}/devices/${accounts.deviceB}/acks`, { qos: 1 });
    await expect(simulator.client.publishAsync(`${root}/devices/${accounts.deviceB}/acks`, 'forged ack', { qos: 1 })).rejects.toThrow(
      /Not authorized/i,
    );
    await simulator.client.publishAsync(`${root}/devices/${accounts.deviceB}/captures`, 'simulated capture of B', { qos: 1 });
    await gateway.client.publishAsync(`${root}/devices/${accounts.deviceB}/acks`, 'ack for B', { qos: 1 });
    await waitFor('the capture and the ack', async () => (gateway.received.length > 0 && simulator.received.length > 0 ? true : undefined));
    expect(gateway.received.map((message) => message.payload)).toEqual(['simulated capture of B']);
    expect(simulator.received.map((message) => message.payload)).toEqual(['ack for B']);
  });
});
