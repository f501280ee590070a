import { buildManifest, signManifest, type SignedCapture } from '../../../device-simulator/device-protocol.js';
import { testMedia, type TestDevice } from '../../support/devices.js';

/** Signed speeding captures of one device, each with two distinct evidence-sized JPEGs. */
export async function makeCaptures(device: TestDevice, count: number): Promise<SignedCapture[]> {
  const made: SignedCapture[] = [];
  for (let index = 0; index < count; index++) {
    const capturedAt = new Date();
    const media = await testMedia(capturedAt);
    const manifest = buildManifest({
      deviceId: device.id,
      capturedAt,
      clockOffsetMs: 3,
      location: { latitude: 22.5, longitude: 114.05 },
      violationType: 'speeding',
      readings: { speedKmh: 80 + (index % 50), limitKmh: 60 },
      media,
    });
    made.push(signManifest(manifest, device.privateKey, media));
  }
  return made;
}
