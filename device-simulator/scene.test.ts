import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { renderScene, type SceneOptions } from './scene.js';

// Small frames keep the suite quick; the drawing scales with the size, so nothing is lost.
const base: SceneOptions = {
  deviceId: 'CAM-0001',
  capturedAt: new Date('2026-11-23T08:15:42.250Z'),
  place: 'G4 Expressway km 12.4, northbound',
  plate: '粤B·3K7Q9',
  seed: 7,
  width: 640,
  height: 360,
};

describe('renderScene', () => {
  it('renders a 24-bit colour JPEG of exactly the requested size', async () => {
    const metadata = await sharp(await renderScene({ ...base, width: 1280, height: 720 })).metadata();
    expect([metadata.format, metadata.width, metadata.height, metadata.channels]).toEqual(['jpeg', 1280, 720, 3]);
  });

  it('defaults to 1920×1080', async () => {
    const { width, height, ...rest } = base;
    const metadata = await sharp(await renderScene(rest)).metadata();
    expect([width, height, metadata.width, metadata.height]).toEqual([640, 360, 1920, 1080]);
  });

  it('is a picture, not a flat fill: every channel varies', async () => {
    const { channels } = await sharp(await renderScene(base)).stats();
    expect(channels).toHaveLength(3);
    for (const channel of channels) expect(channel.stdev).toBeGreaterThan(20);
  });

  it('gives identical bytes for the same seed and inputs', async () => {
    const [one, two] = [await renderScene(base), await renderScene({ ...base })];
    expect(one.equals(two)).toBe(true);
  });

  it('varies with the seed', async () => {
    const [one, two] = await Promise.all([renderScene(base), renderScene({ ...base, seed: 8 })]);
    expect(one.equals(two)).toBe(false);
    // Not just different bytes: the scenes differ visibly, not by a few pixels of grain.
    const [a, b] = await Promise.all([one, two].map((jpeg) => sharp(jpeg).resize(64, 36).raw().toBuffer()));
    const meanDifference = a!.reduce((sum, value, i) => sum + Math.abs(value - b![i]!), 0) / a!.length;
    expect(meanDifference).toBeGreaterThan(5);
  });

  it('escapes overlay and plate text instead of breaking the SVG', async () => {
    const hostile = { ...base, deviceId: 'CAM-<1>', place: '<script>&"quoted"\'</script>\u0007', plate: 'A&B <9>' };
    expect((await sharp(await renderScene(hostile)).metadata()).width).toBe(640);
  });

  it('refuses sizes that are not whole pixels', async () => {
    await expect(renderScene({ ...base, width: 640.5 })).rejects.toThrow(RangeError);
  });
});
