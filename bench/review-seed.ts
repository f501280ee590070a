import { randomUUID } from 'node:crypto';
import type { MediaStore } from '../core/infrastructure/media-store.js';
import type { Database } from '../db/client.js';
import type { MediaFile } from '../device-simulator/device-protocol.js';
import { renderScene } from '../device-simulator/scene.js';
import { insertReviewableCapture } from '../test/support/captures.js';
import type { TestDevice } from '../test/support/devices.js';
import { deriveMedia } from '../workers/handlers/derive-media.js';
import { uniqueJpeg } from './media-pool.js';

/**
 * Distinct road scenes as the simulator draws them (1920×1080, plate, overlay, grain): what a
 * reviewer's browser decodes must cost what a camera's photograph costs, which flat test colours do not.
 */
export async function scenePool(count: number): Promise<{ frames: Buffer[]; meanBytes: number }> {
  const frames: Buffer[] = [];
  for (let seed = 0; seed < count; seed++) {
    frames.push(
      await renderScene({ seed, plate: `GD-B${10000 + seed}`, deviceId: 'BENCH-CAM', capturedAt: new Date(), place: 'Bench Road' }),
    );
  }
  return { frames, meanBytes: frames.reduce((sum, frame) => sum + frame.length, 0) / frames.length };
}

/**
 * `count` signed captures of two frames each, stored as the gateway leaves them (awaiting review),
 * a minute apart so the queue order is known; with `derive`, the workers' media job runs on each,
 * as in production, so the page shows review copies. Returns the ids oldest first.
 */
export async function seedCaptures(
  database: Database,
  store: MediaStore,
  device: TestDevice,
  options: { count: number; frames: Buffer[]; derive: boolean },
): Promise<string[]> {
  const ids: string[] = [];
  const firstAt = Date.now() - (options.count + 10) * 60_000;
  for (let index = 0; index < options.count; index++) {
    const capturedAt = new Date(firstAt + index * 60_000);
    const files: MediaFile[] = [0, 1].map((frame) => ({
      name: `frame-${frame + 1}.jpg`,
      contentType: 'image/jpeg',
      capturedAt: new Date(capturedAt.getTime() + frame * 400),
      bytes: uniqueJpeg(options.frames[(index * 2 + frame) % options.frames.length]!, `${device.id} ${index} ${frame} ${randomUUID()}`),
    }));
    ids.push(
      await insertReviewableCapture(database.db, store, device, {
        capturedAt,
        readings: { speedKmh: 70 + (index % 20), limitKmh: 60, plate: `GD-B${10000 + index}` },
        files,
      }),
    );
  }
  if (options.derive) {
    // Two at a time, as the workers' default concurrency would.
    const queue = [...ids];
    await Promise.all(
      [0, 1].map(async () => {
        for (let id = queue.shift(); id; id = queue.shift()) await deriveMedia({ database, store }, { captureId: id });
      }),
    );
  }
  return ids;
}
