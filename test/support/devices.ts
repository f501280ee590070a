import { createPublicKey, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import sharp from 'sharp';
import { CERTIFICATION_KINDS } from '../../core/domain/certification.js';
import type { Enrolment } from '../../core/domain/device-registration.js';
import type { Db } from '../../db/client.js';
import { confirmCertification } from '../../review-ui/devices/certification-rejudging.js';
import { addCertification, enrolDevice } from '../../review-ui/devices/device-registry.js';
import type { MediaFile } from '../../device-simulator/device-protocol.js';
import { uniqueName } from './isolated.js';

export interface TestDevice {
  id: string;
  privateKey: KeyObject;
}

const DAY = 24 * 3600 * 1000;

/** Enrols a device (a traffic camera unless `kind` says otherwise) with every certification valid over `[certifiedFrom, certifiedTo)`. */
export async function enrolTestDevice(
  db: Db,
  options: { certifiedFrom?: Date; certifiedTo?: Date; kind?: Enrolment['kind']; id?: string; privateKey?: KeyObject } = {},
): Promise<TestDevice> {
  const privateKey = options.privateKey ?? generateKeyPairSync('ed25519').privateKey;
  const publicKey = createPublicKey(privateKey);
  const id = options.id ?? uniqueName('dev').replaceAll('_', '-').slice(0, 60);
  const outcome = await enrolDevice(db, 'test', id, {
    kind: options.kind ?? 'traffic_camera',
    model: 'Test Cam',
    serial: id,
    agency: 'Test Agency',
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    road: 'Test Road',
    direction: 'northbound',
    latitude: 22.5,
    longitude: 114.05,
  });
  if (outcome !== 'enrolled') throw new Error(`test device not enrolled: ${outcome}`);
  const validFrom = options.certifiedFrom ?? new Date(Date.now() - 30 * DAY);
  const validTo = options.certifiedTo ?? new Date(Date.now() + 30 * DAY);
  for (const kind of CERTIFICATION_KINDS) {
    const certificationId = await addCertification(db, 'test', id, {
      kind,
      reference: `T-${kind}`,
      validFrom: validFrom.toISOString(),
      validTo: validTo.toISOString(),
    });
    // Back-dated, as enrolment records usually are: a second person confirms, so earlier test captures count.
    if (certificationId && validFrom.getTime() < Date.now()) {
      const confirmed = await confirmCertification(db, certificationId, { actor: 'test-second-person', isPerson: true });
      if (!confirmed.ok) throw new Error(confirmed.error);
    }
  }
  return { id, privateKey };
}

/** A real JPEG of the minimum evidence size, unique on every call so no two tests share content-addressed media. */
export async function testJpeg(width = 1280, height = 720): Promise<Buffer> {
  const [r, g, b] = randomBytes(3);
  return sharp({ create: { width, height, channels: 3, background: { r: r!, g: g!, b: b! } } })
    .withExif({ IFD0: { ImageDescription: randomUUID() } })
    .jpeg()
    .toBuffer();
}

export async function testMedia(capturedAt = new Date()): Promise<MediaFile[]> {
  return [
    { name: 'frame-1.jpg', contentType: 'image/jpeg', capturedAt, bytes: await testJpeg() },
    { name: 'frame-2.jpg', contentType: 'image/jpeg', capturedAt: new Date(capturedAt.getTime() + 500), bytes: await testJpeg() },
  ];
}
