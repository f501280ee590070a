import { reason, type QuarantineReason } from './quarantine-reasons.js';

/**
 * What a record of each kind of violation must contain (GA/T 832-2014): a moving violation
 * needs two images taken at different times, or one image and a video; a stationary one two
 * images at least 10 s apart; a sensor reading one image of the source.
 */
export type EvidenceRule = 'moving' | 'stationary' | 'reading';

export const EVIDENCE_RULES: Readonly<Record<string, EvidenceRule>> = {
  speeding: 'moving',
  red_light: 'moving',
  illegal_lane_change: 'moving',
  wrong_way: 'moving',
  no_seat_belt: 'moving',
  illegal_parking: 'stationary',
  illegal_stopping: 'stationary',
  noise_limit: 'reading',
  emission_limit: 'reading',
  overweight: 'reading',
};

export const MIN_IMAGE_WIDTH = 1280;
export const MIN_IMAGE_HEIGHT = 720;
const STATIONARY_MIN_GAP_MS = 10_000;

export interface MediaFacts {
  name: string;
  contentType: string;
  capturedAt: string;
  /** Undefined when the image could not be decoded far enough to read its size. */
  width?: number | null;
  height?: number | null;
}

/**
 * Unknown violation types get the strictest common rule rather than none; the gateway also
 * refuses them for having no reading schema (readings_invalid, core/domain/reading-schemas.ts).
 */
export function evidenceRuleFor(violationType: string): EvidenceRule {
  return EVIDENCE_RULES[violationType] ?? 'moving';
}

/** Whether the media of a capture meets the minimum for its violation type. Empty means it does. */
export function checkEvidenceMinimum(violationType: string, media: readonly MediaFacts[]): QuarantineReason[] {
  const reasons: QuarantineReason[] = [];
  const images = media.filter((item) => item.contentType.startsWith('image/'));
  const clear = images.filter((image) => {
    if (!image.width || !image.height) {
      reasons.push(reason('evidence_insufficient', `${image.name}: image size unreadable`));
      return false;
    }
    if (image.width < MIN_IMAGE_WIDTH || image.height < MIN_IMAGE_HEIGHT) {
      reasons.push(
        reason('evidence_insufficient', `${image.name} is ${image.width}×${image.height}, below ${MIN_IMAGE_WIDTH}×${MIN_IMAGE_HEIGHT}`),
      );
      return false;
    }
    return true;
  });
  const videos = media.filter((item) => item.contentType.startsWith('video/'));
  const times = [...new Set(clear.map((image) => Date.parse(image.capturedAt)))].sort((a, b) => a - b);
  const rule = evidenceRuleFor(violationType);
  switch (rule) {
    case 'moving':
      if (times.length < 2 && !(clear.length >= 1 && videos.length >= 1)) {
        reasons.push(
          reason('evidence_insufficient', `${violationType} needs two clear images taken at different times, or one image and a video`),
        );
      }
      break;
    case 'stationary':
      if (times.length < 2 || times[times.length - 1]! - times[0]! < STATIONARY_MIN_GAP_MS) {
        reasons.push(reason('evidence_insufficient', `${violationType} needs two clear images taken at least 10 s apart`));
      }
      break;
    case 'reading':
      if (clear.length < 1) reasons.push(reason('evidence_insufficient', `${violationType} needs at least one clear image`));
      break;
  }
  return reasons;
}
