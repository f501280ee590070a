import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { renderScene, type SceneOptions } from '../device-simulator/scene.js';
import { measureImage, QUALITY_THRESHOLDS, qualityFlags, renderJpeg } from './media.js';

const scene: SceneOptions = {
  deviceId: 'CAM-0001',
  capturedAt: new Date('2026-11-23T08:15:42.250Z'),
  place: 'G4 Expressway km 12.4, northbound',
  plate: 'B3K7Q9',
  seed: 1,
  width: 1280,
  height: 720,
};

const flat = (background: string, width = 1280, height = 720) =>
  sharp({ create: { width, height, channels: 3, background } })
    .jpeg()
    .toBuffer();

const ordinary = {
  width: 1920,
  height: 1080,
  sharpness: 400,
  meanLuminance: 110,
  darkClippedFraction: 0,
  brightClippedFraction: 0,
};

describe('measureImage', () => {
  it('finds a rendered scene sharp, well exposed and large enough', async () => {
    for (const seed of [1, 2, 3]) {
      const quality = await measureImage(await renderScene({ ...scene, seed }));
      expect(quality.flags).toEqual([]);
      expect([quality.width, quality.height]).toEqual([1280, 720]);
      expect(quality.sharpness).toBeGreaterThan(3 * QUALITY_THRESHOLDS.blurryBelow);
    }
  });

  it('finds a blurred copy of the scene blurry, and only blurry', async () => {
    const blurred = await sharp(await renderScene(scene))
      .blur(8)
      .jpeg()
      .toBuffer();
    const quality = await measureImage(blurred);
    expect(quality.flags).toEqual(['blurry']);
    expect(quality.sharpness).toBeLessThan(QUALITY_THRESHOLDS.blurryBelow / 3);
  });

  it('measures a full-HD frame on the same scale as a 720p one', async () => {
    const [small, large] = await Promise.all([
      measureImage(await renderScene(scene)),
      measureImage(await renderScene({ ...scene, width: 1920, height: 1080 })),
    ]);
    expect(large.sharpness! / small.sharpness!).toBeGreaterThan(0.7);
    expect(large.sharpness! / small.sharpness!).toBeLessThan(1.3);
  });

  it('flags a black image underexposed and a white one overexposed', async () => {
    const black = await measureImage(await flat('#000000'));
    expect(black.flags).toContain('underexposed');
    expect(black.flags).not.toContain('overexposed');
    expect(black.meanLuminance).toBe(0);
    expect(black.darkClippedFraction).toBe(1);

    const white = await measureImage(await flat('#ffffff'));
    expect(white.flags).toContain('overexposed');
    expect(white.flags).not.toContain('underexposed');
    expect(white.meanLuminance).toBe(255);
    expect(white.brightClippedFraction).toBe(1);
  });

  it('flags a 640×360 image as below the minimum resolution', async () => {
    const quality = await measureImage(await renderScene({ ...scene, width: 640, height: 360 }));
    expect(quality.flags).toContain('below_minimum_resolution');
    expect([quality.width, quality.height]).toEqual([640, 360]);
  });

  it('reports garbage bytes as unreadable instead of throwing', async () => {
    const quality = await measureImage(Buffer.from('this is not a picture of anything'));
    expect(quality.flags).toEqual(['unreadable']);
    expect(quality.sharpness).toBeNull();
    expect(quality.decodeError).toMatch(/unsupported image format/);
  });

  it('reports a truncated JPEG as unreadable', async () => {
    const jpeg = await renderScene(scene);
    const quality = await measureImage(jpeg.subarray(0, Math.floor(jpeg.length / 2)));
    expect(quality.flags).toEqual(['unreadable']);
    expect(quality.decodeError).toMatch(/premature end/i);
  });

  it('marks a JPEG whose corrupt data the decoder concealed, and still measures it', async () => {
    // JPEG has no checksum, so not every damaged run is noticed; this one, in this scene, is.
    const damaged = Buffer.from(await renderScene(scene));
    const middle = Math.floor(damaged.length / 2);
    damaged.fill(0, middle, middle + 256);
    const quality = await measureImage(damaged);
    expect(quality.flags).toContain('corrupt_data');
    expect(quality.flags).not.toContain('unreadable');
    expect(quality.sharpness).not.toBeNull();
  });
});

describe('qualityFlags', () => {
  const t = QUALITY_THRESHOLDS;

  it('raises nothing for an ordinary frame', () => {
    expect(qualityFlags(ordinary)).toEqual([]);
  });

  it('holds each threshold at its documented edge', () => {
    expect(qualityFlags({ ...ordinary, width: t.minimumWidth, height: t.minimumHeight })).toEqual([]);
    expect(qualityFlags({ ...ordinary, width: t.minimumWidth - 1 })).toEqual(['below_minimum_resolution']);
    expect(qualityFlags({ ...ordinary, height: t.minimumHeight - 1 })).toEqual(['below_minimum_resolution']);
    expect(qualityFlags({ ...ordinary, sharpness: t.blurryBelow })).toEqual([]);
    expect(qualityFlags({ ...ordinary, sharpness: t.blurryBelow - 0.1 })).toEqual(['blurry']);
    expect(qualityFlags({ ...ordinary, meanLuminance: t.underexposedMeanBelow })).toEqual([]);
    expect(qualityFlags({ ...ordinary, meanLuminance: t.underexposedMeanBelow - 0.1 })).toEqual(['underexposed']);
    expect(qualityFlags({ ...ordinary, meanLuminance: t.overexposedMeanAbove })).toEqual([]);
    expect(qualityFlags({ ...ordinary, meanLuminance: t.overexposedMeanAbove + 0.1 })).toEqual(['overexposed']);
  });

  it('flags heavy clipping whatever the mean, since clipped detail is gone', () => {
    expect(qualityFlags({ ...ordinary, darkClippedFraction: t.clippedFractionAtLeast })).toEqual(['underexposed']);
    expect(qualityFlags({ ...ordinary, brightClippedFraction: t.clippedFractionAtLeast })).toEqual(['overexposed']);
    expect(qualityFlags({ ...ordinary, brightClippedFraction: t.clippedFractionAtLeast - 0.01 })).toEqual([]);
  });
});

describe('renderJpeg', () => {
  it('makes a review copy at most 1920 wide without touching the original', async () => {
    const original = await renderScene({ ...scene, width: 2560, height: 1440 });
    const before = Buffer.from(original);
    const review = await renderJpeg(original, 1920, 85);
    expect([review.width, review.height]).toEqual([1920, 1080]);
    expect((await sharp(review.bytes).metadata()).format).toBe('jpeg');
    expect(original.equals(before)).toBe(true);
  });

  it('never enlarges a smaller image', async () => {
    const review = await renderJpeg(await flat('#808080', 800, 600), 1920, 85);
    expect([review.width, review.height]).toEqual([800, 600]);
  });
});
