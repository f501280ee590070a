import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CERTIFICATION_KINDS } from '../core/domain/certification.js';
import type { Enrolment } from '../core/domain/device-registration.js';
import type { GatewayPublicKey } from '../core/domain/signed-ack.js';

export interface SimulatedDevice {
  id: string;
  privateKey: KeyObject;
  enrolment: Enrolment;
  place: string;
}

/** Real stretches of road around Shenzhen, so maps and hotspot reports look like a city. */
const SITES = [
  { road: 'Shennan Boulevard', direction: 'eastbound', latitude: 22.5431, longitude: 114.0579 },
  { road: 'Binhe Avenue', direction: 'westbound', latitude: 22.5225, longitude: 114.0412 },
  { road: 'G4 Beijing-Hong Kong-Macau Expressway km 2.4', direction: 'northbound', latitude: 22.6312, longitude: 114.0835 },
  { road: 'Nanhai Avenue', direction: 'southbound', latitude: 22.5252, longitude: 113.9305 },
  { road: 'Beihuan Avenue', direction: 'eastbound', latitude: 22.5573, longitude: 114.0128 },
  { road: 'Shahe West Road', direction: 'northbound', latitude: 22.5516, longitude: 113.9519 },
] as const;

export function deviceIdFor(index: number): string {
  return `SIM-CAM-${String(index + 1).padStart(4, '0')}`;
}

/**
 * The simulated fleet. Keys are kept under `keysDir` so a restart presents the same devices
 * (enrolling an existing id with a new key is, rightly, refused).
 */
export async function loadFleet(count: number, keysDir: string): Promise<SimulatedDevice[]> {
  await mkdir(keysDir, { recursive: true, mode: 0o700 });
  const fleet: SimulatedDevice[] = [];
  for (let index = 0; index < count; index++) {
    const id = deviceIdFor(index);
    const keyFile = path.join(keysDir, `${id}.pem`);
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(await readFile(keyFile, 'utf8'));
    } catch {
      privateKey = generateKeyPairSync('ed25519').privateKey;
      await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    }
    const site = SITES[index % SITES.length]!;
    // Devices sharing a site sit a little apart, as cameras along one road do.
    const offset = Math.floor(index / SITES.length) * 0.004;
    fleet.push({
      id,
      privateKey,
      place: `${site.road}, ${site.direction}`,
      enrolment: {
        kind: 'traffic_camera',
        model: 'Verity SimCam 1080',
        serial: `SC-${id}`,
        agency: 'Simulated Traffic Police Detachment',
        publicKeyPem: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString(),
        road: site.road,
        direction: site.direction,
        latitude: site.latitude + offset,
        longitude: site.longitude + offset,
      },
    });
  }
  return fleet;
}

async function callRegistry(apiUrl: string, adminToken: string, method: string, route: string, body: unknown): Promise<Response> {
  const response = await fetch(new URL(route, apiUrl), {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${route} → ${response.status}: ${await response.text()}`);
  return response;
}

/**
 * Enrols each device through the registry API with a full, current set of certifications.
 * A device already enrolled with the same details is left as it is. Returns the gateway key
 * the enrolment answer names; null when no gateway has started yet.
 */
export async function enrolFleet(
  fleet: readonly SimulatedDevice[],
  apiUrl: string,
  adminToken: string,
  now = new Date(),
): Promise<GatewayPublicKey | null> {
  const day = 24 * 3600 * 1000;
  let gatewayKey: GatewayPublicKey | null = null;
  for (const device of fleet) {
    const response = await callRegistry(apiUrl, adminToken, 'PUT', `/api/devices/${device.id}`, device.enrolment);
    const answer = (await response.json()) as { outcome: string; gatewayKey: GatewayPublicKey | null };
    gatewayKey = answer.gatewayKey ?? gatewayKey;
    if (answer.outcome !== 'enrolled') continue;
    for (const kind of CERTIFICATION_KINDS) {
      await callRegistry(apiUrl, adminToken, 'POST', `/api/devices/${device.id}/certifications`, {
        kind,
        reference: `SIM-${kind.toUpperCase()}-${device.id}`,
        validFrom: new Date(now.getTime() - 200 * day).toISOString(),
        validTo: new Date(now.getTime() + 165 * day).toISOString(),
      });
    }
  }
  return gatewayKey;
}

/**
 * The keys a device checks acknowledgements with, as any device can fetch them (no login).
 * Waits for the first gateway to start when none has yet, since every answer would be refused.
 */
export async function fetchGatewayKeys(apiUrl: string, retryEveryMs = 2000): Promise<GatewayPublicKey[]> {
  for (;;) {
    const response = await fetch(new URL('/api/public/gateway-keys', apiUrl));
    if (!response.ok) throw new Error(`GET /api/public/gateway-keys → ${response.status}: ${await response.text()}`);
    const { keys } = (await response.json()) as { keys: GatewayPublicKey[] };
    if (keys.length > 0) return keys.map(({ fingerprint, publicKeyPem }) => ({ fingerprint, publicKeyPem }));
    await sleep(retryEveryMs);
  }
}
