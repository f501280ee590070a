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

/**
 * libjpeg reports corrupt entropy data (flipped bits, random bytes after a valid header) only as a
 * warning and conceals it with smeared blocks; 'error' lets such a file through, so the measure
 * decodes at 'warning' first to notice it.
 */
const pickyInput = { failOn: 'warning' } as const;

/** A JPEG no wider than `maxWidth`, keeping the aspect ratio; the original is not touched. */
export async function renderJpeg(original: Buffer, maxWidth: number, quality = 80): Promise<Rendition> {
  const { data, info } = await sharp(original, strictInput)
    .rotate()
    .resize({ width: maxWidth, withoutEnlargement: true })
    .jpeg({ quality, mozjpeg: false })
    .toBuffer({ resolveWithObject: true });
  return { bytes: data, width: info.width, height: info.height, contentType: 'image/jpeg' };
}

/** Flags are hints for a reviewer about whether a record is "clear", never a verdict on it. */
export const QUALITY_FLAGS = ['unreadable', 'corrupt_data', 'below_minimum_resolution', 'blurry', 'underexposed', 'overexposed'] as const;
export type QualityFlag = (typeof QUALITY_FLAGS)[number];

/** Documented, with how each was chosen, in docs/media-quality.md; change both together. */
export const QUALITY_THRESHOLDS = {
  minimumWidth: 1280,
  minimumHeight: 720,
  /** Variance of the Laplacian at MEASURE_WIDTH: sharp simulator scenes 316-538, a 1 px Gaussian blur 48-68. */
  blurryBelow: 75,
  darkPixelAtMost: 5,
  brightPixelAtLeast: 250,
  /** Mean luminance (0-255); simulator scenes measure 103-123. */
  underexposedMeanBelow: 50,
  overexposedMeanAbove: 205,
  /** Fraction of pixels clipped to black, or to white, that hides detail whatever the mean. */
  clippedFractionAtLeast: 0.25,
} as const;

/**
 * Sharpness is measured on a copy at most this wide: the Laplacian's variance depends on scale, so a
 * fixed width lets one threshold serve 720p and 4K cameras alike, and keeps the pass under ~20 ms.
 */
export const MEASURE_WIDTH = 1280;

export interface ImageQuality {
  width: number | null;
  height: number | null;
  sharpness: number | null;
  meanLuminance: number | null;
  darkClippedFraction: number | null;
  brightClippedFraction: number | null;
  flags: QualityFlag[];
  /** What the decoder said when it refused the file, for the record. */
  decodeError: string | null;
}

interface Grey {
  pixels: Buffer;
  width: number;
  height: number;
  stride: number;
}

async function decodeGrey(bytes: Buffer, input: typeof strictInput | typeof pickyInput): Promise<Grey> {
  const { data, info } = await sharp(bytes, input)
    .rotate()
    .greyscale()
    .resize({ width: MEASURE_WIDTH, withoutEnlargement: true })
    .raw()
    .toBuffer({ resolveWithObject: true });
  // Grey plus alpha comes out as two channels; only the first is luminance.
  return { pixels: data, width: info.width, height: info.height, stride: info.channels };
}

/**
 * The Laplacian and the histogram are computed here from raw pixels rather than with sharp's
 * `convolve` + `stats`: convolve casts its result back to 8 bits, clipping the negative half of
 * the Laplacian's responses and so biasing its variance, and one pass gives every measure.
 */
function measureGrey({ pixels, width, height, stride }: Grey) {
  const at = (x: number, y: number): number => pixels[(y * width + x) * stride]!;
  let sum = 0;
  let dark = 0;
  let bright = 0;
  for (let i = 0; i < width * height; i++) {
    const value = pixels[i * stride]!;
    sum += value;
    if (value <= QUALITY_THRESHOLDS.darkPixelAtMost) dark++;
    if (value >= QUALITY_THRESHOLDS.brightPixelAtLeast) bright++;
  }
  let count = 0;
  let lapSum = 0;
  let lapSquares = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const response = at(x, y - 1) + at(x - 1, y) + at(x + 1, y) + at(x, y + 1) - 4 * at(x, y);
      lapSum += response;
      lapSquares += response * response;
      count++;
    }
  }
  const lapMean = count > 0 ? lapSum / count : 0;
  const pixelCount = width * height;
  return {
    sharpness: count > 0 ? lapSquares / count - lapMean * lapMean : 0,
    meanLuminance: sum / pixelCount,
    darkClippedFraction: dark / pixelCount,
    brightClippedFraction: bright / pixelCount,
  };
}

/** The flags that follow from measures; pure, so thresholds can be tested without decoding. */
export function qualityFlags(measures: Omit<ImageQuality, 'flags' | 'decodeError'>): QualityFlag[] {
  const t = QUALITY_THRESHOLDS;
  const flags: QualityFlag[] = [];
  const { width, height, sharpness, meanLuminance, darkClippedFraction, brightClippedFraction } = measures;
  if (width !== null && height !== null && (width < t.minimumWidth || height < t.minimumHeight)) flags.push('below_minimum_resolution');
  if (sharpness !== null && sharpness < t.blurryBelow) flags.push('blurry');
  if (
    (meanLuminance !== null && meanLuminance < t.underexposedMeanBelow) ||
    (darkClippedFraction !== null && darkClippedFraction >= t.clippedFractionAtLeast)
  ) {
    flags.push('underexposed');
  }
  if (
    (meanLuminance !== null && meanLuminance > t.overexposedMeanAbove) ||
    (brightClippedFraction !== null && brightClippedFraction >= t.clippedFractionAtLeast)
  ) {
    flags.push('overexposed');
  }
  return flags;
}

/**
 * Measures an image for the reviewer. Never throws for bad bytes: a file sharp cannot decode is
 * the finding `unreadable`, which the reviewer must see, not a job to retry.
 */
export async function measureImage(bytes: Buffer): Promise<ImageQuality> {
  let grey: Grey;
  let concealed = false;
  try {
    grey = await decodeGrey(bytes, pickyInput);
  } catch {
    try {
      grey = await decodeGrey(bytes, strictInput);
      concealed = true;
    } catch (error) {
      return unreadable(error);
    }
  }
  // Width and height are the original's, as stored; the measures come from the downscaled copy.
  const metadata = await sharp(bytes).metadata();
  const swapped = (metadata.orientation ?? 1) >= 5;
  const measures = {
    width: (swapped ? metadata.height : metadata.width) ?? null,
    height: (swapped ? metadata.width : metadata.height) ?? null,
    ...measureGrey(grey),
  };
  const flags = qualityFlags(measures);
  return { ...measures, flags: concealed ? ['corrupt_data', ...flags] : flags, decodeError: null };
}

function unreadable(error: unknown): ImageQuality {
  return {
    width: null,
    height: null,
    sharpness: null,
    meanLuminance: null,
    darkClippedFraction: null,
    brightClippedFraction: null,
    flags: ['unreadable'],
    decodeError: (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? 'unknown error',
  };
}

/** Describes a JPEG made elsewhere (an ffmpeg frame) as a rendition, keeping its bytes as they are. */
export async function describeJpeg(bytes: Buffer): Promise<Rendition> {
  const { width, height, format } = await sharp(bytes, strictInput).metadata();
  if (format !== 'jpeg' || !width || !height) throw new Error(`not a JPEG with dimensions: ${format}`);
  return { bytes, width, height, contentType: 'image/jpeg' };
}
