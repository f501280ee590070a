import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { renderScene } from './scene.js';

const base = {
  deviceId: 'SIM-CAM-0001',
  capturedAt: new Date('2026-11-23T08:00:00Z'),
  place: 'Binhe Avenue, westbound',
  plate: 'B·3K7Q9',
  seed: 1,
};

describe('renderScene', () => {
  it('renders a 24-bit colour JPEG of the requested size', async () => {
    const jpeg = await renderScene({ ...base, width: 1280, height: 720 });
    const metadata = await sharp(jpeg).metadata();
    expect([metadata.format, metadata.width, metadata.height, metadata.channels]).toEqual(['jpeg', 1280, 720, 3]);
  });

  it('is a picture, not a flat fill: every channel varies', async () => {
    const stats = await sharp(await renderScene({ ...base, width: 640, height: 360 })).stats();
    for (const channel of stats.channels) expect(channel.stdev).toBeGreaterThan(20);
  });

  it('varies with the seed', async () => {
    const [one, two] = await Promise.all([
      renderScene({ ...base, width: 640, height: 360 }),
      renderScene({ ...base, seed: 2, width: 640, height: 360 }),
    ]);
    expect(one.equals(two)).toBe(false);
  });

  it('escapes overlay text instead of breaking the SVG', async () => {
    const jpeg = await renderScene({ ...base, place: '<script>&"quoted"</script>', width: 640, height: 360 });
    expect((await sharp(jpeg).metadata()).width).toBe(640);
  });
});
