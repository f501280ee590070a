import sharp from 'sharp';

export interface Rendition {
  bytes: Buffer;
  width: number;
  height: number;
  contentType: 'image/jpeg';
}

/**
 * Some damaged JPEGs still decode partially; evidence must not be silently repaired, so
 * sharp is told to fail on any decoding error instead of producing a plausible picture.
 */
const strictInput = { failOn: 'error' } as const;

/** A JPEG no wider than `maxWidth`, keeping the aspect ratio; the original is not touched. */
export async function renderJpeg(original: Buffer, maxWidth: number, quality = 80): Promise<Rendition> {
  const { data, info } = await sharp(original, strictInput)
    .rotate()
    .resize({ width: maxWidth, withoutEnlargement: true })
    .jpeg({ quality, mozjpeg: false })
    .toBuffer({ resolveWithObject: true });
  return { bytes: data, width: info.width, height: info.height, contentType: 'image/jpeg' };
}
