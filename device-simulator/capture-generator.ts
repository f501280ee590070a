import { buildManifest, signManifest, type SignedCapture } from './device-protocol.js';
import type { SimulatedDevice } from './fleet.js';
import { renderScene } from './scene.js';

// Letters only: the rendered frames use the fonts every machine has, which lack CJK glyphs.
const REGIONS = ['B', 'A', 'C', 'E', 'F'];
const PLATE_LETTERS = 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789';

/** A small deterministic generator, so a seed reproduces the same capture. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function plateFor(next: () => number): string {
  const region = REGIONS[Math.floor(next() * REGIONS.length)]!;
  const tail = Array.from({ length: 5 }, () => PLATE_LETTERS[Math.floor(next() * PLATE_LETTERS.length)]).join('');
  return `${region}·${tail}`;
}

/** Two frames half a second apart, as GA/T 832 asks of a moving violation, signed by the device. */
export async function generateCapture(
  device: SimulatedDevice,
  capturedAt: Date,
  seed: number,
  speedOverrideKmh?: number,
): Promise<SignedCapture> {
  const next = random(seed);
  const plate = plateFor(next);
  const limitKmh = 60;
  const speedKmh = speedOverrideKmh ?? Math.round(limitKmh * (1.1 + next() * 0.6));
  const secondFrameAt = new Date(capturedAt.getTime() + 500);
  const [overview, closeUp] = await Promise.all([
    renderScene({ deviceId: device.id, capturedAt, place: device.place, plate, seed }),
    renderScene({ deviceId: device.id, capturedAt: secondFrameAt, place: device.place, plate, seed }),
  ]);
  const media = [
    { name: 'frame-1.jpg', contentType: 'image/jpeg' as const, capturedAt, bytes: overview },
    { name: 'frame-2.jpg', contentType: 'image/jpeg' as const, capturedAt: secondFrameAt, bytes: closeUp },
  ];
  const manifest = buildManifest({
    deviceId: device.id,
    capturedAt,
    clockOffsetMs: Math.round((next() - 0.5) * 200),
    location: { latitude: device.enrolment.latitude, longitude: device.enrolment.longitude },
    violationType: 'speeding',
    readings: { speedKmh, limitKmh, plate },
    media,
  });
  return signManifest(manifest, device.privateKey, media);
}
