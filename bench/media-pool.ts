import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { MIN_IMAGE_HEIGHT, MIN_IMAGE_WIDTH } from '../core/domain/evidence-minimum.js';

/** The simulator renders 1920×1080 frames; the evidence minimum is 1280×720. */
export const FRAME_WIDTH = 1920;
export const FRAME_HEIGHT = 1080;

/**
 * Gradients with random noise on top: the noise amplitude and the JPEG quality decide the
 * encoded size, so a search over both hits a target size without any image files on disk.
 */
function texturedPixels(amplitude: number, variant: number): Buffer {
  const pixels = Buffer.alloc(FRAME_WIDTH * FRAME_HEIGHT * 3);
  const noise = randomBytes(pixels.length);
  const clamp = (value: number) => (value < 0 ? 0 : value > 255 ? 255 : value);
  for (let y = 0; y < FRAME_HEIGHT; y++) {
    for (let x = 0; x < FRAME_WIDTH; x++) {
      const at = (y * FRAME_WIDTH + x) * 3;
      const jitter = (channel: number) => ((noise[at + channel]! - 128) * amplitude) / 128;
      pixels[at] = clamp((x * 255) / FRAME_WIDTH + jitter(0));
      pixels[at + 1] = clamp((y * 255) / FRAME_HEIGHT + jitter(1));
      pixels[at + 2] = clamp(((x + y + variant * 61) % 256) + jitter(2));
    }
  }
  return pixels;
}

function encode(pixels: Buffer, quality: number): Promise<Buffer> {
  return sharp(pixels, { raw: { width: FRAME_WIDTH, height: FRAME_HEIGHT, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
}

/** A 1920×1080 JPEG whose size is within a few percent of `targetBytes` (about 40 KB to 2 MB). */
export async function jpegOfSize(targetBytes: number, variant: number): Promise<Buffer> {
  let best: Buffer | undefined;
  for (const amplitude of [2, 8, 32, 128]) {
    const pixels = texturedPixels(amplitude, variant);
    let low = 5;
    let high = 98;
    while (low <= high) {
      const quality = Math.floor((low + high) / 2);
      const jpeg = await encode(pixels, quality);
      if (!best || Math.abs(jpeg.length - targetBytes) < Math.abs(best.length - targetBytes)) best = jpeg;
      if (jpeg.length < targetBytes) low = quality + 1;
      else high = quality - 1;
    }
    if (Math.abs(best!.length - targetBytes) <= targetBytes * 0.03) return best!;
  }
  return best!;
}

/**
 * The same picture with a unique JPEG comment (COM segment) right after the start-of-image
 * marker: a valid JPEG with a different SHA-256, so content addressing stores it anew.
 */
export function uniqueJpeg(base: Buffer, tag: string): Buffer {
  if (base[0] !== 0xff || base[1] !== 0xd8) throw new Error('not a JPEG: no start-of-image marker');
  const text = Buffer.from(tag, 'latin1');
  if (text.length > 0xffff - 2) throw new Error('JPEG comment too long');
  const marker = Buffer.from([0xff, 0xfe, (text.length + 2) >> 8, (text.length + 2) & 0xff]);
  return Buffer.concat([base.subarray(0, 2), marker, text, base.subarray(2)]);
}

/**
 * `count` distinct frames of about `frameBytes` each, checked the way the gateway reads them:
 * a uniquified copy must still give sharp its width and height at or above the evidence minimum.
 */
export async function framePool(frameBytes: number, count: number): Promise<Buffer[]> {
  const pool: Buffer[] = [];
  for (let variant = 0; variant < count; variant++) {
    const frame = await jpegOfSize(frameBytes, variant);
    const metadata = await sharp(uniqueJpeg(frame, `verity-bench check ${variant}`)).metadata();
    if ((metadata.width ?? 0) < MIN_IMAGE_WIDTH || (metadata.height ?? 0) < MIN_IMAGE_HEIGHT) {
      throw new Error(`generated frame reads as ${metadata.width}×${metadata.height}, below the evidence minimum`);
    }
    pool.push(frame);
  }
  return pool;
}
