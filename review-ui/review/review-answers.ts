import { z } from 'zod';
import { CAPTURE_STATES } from '../../core/domain/capture-lifecycle.js';
import { CERTIFICATION_KINDS } from '../../core/domain/certification.js';
import { DEVICE_KINDS } from '../../core/domain/device-registration.js';
import { WINDOW_SOURCES } from '../../core/domain/fault-window.js';
import { DEVICE_STATUSES } from '../../db/devices.js';
import { fileAnswer, refusalSchema } from '../http/answer-schemas.js';

/**
 * What the capture, review and tampering routes answer, as the OpenAPI document publishes it.
 * The serializer keeps only these fields, so a column added to a query later cannot reach a
 * reviewer's browser, or anyone else's, unannounced.
 */
const captureState = z.enum(CAPTURE_STATES);
const reviewState = z.enum(['awaiting_review', 'awaiting_second_review', 'escalated']);
const certificationKind = z.enum(CERTIFICATION_KINDS);
const ageTally = z.object({
  count: z.number().int(),
  oldestAgeSeconds: z.number().nullable().describe('since the oldest of them was received; null when there are none'),
});

export const captureListSchema = z.object({
  captures: z.array(
    z.object({
      id: z.uuid(),
      deviceId: z.string().nullable(),
      deviceCaptureId: z.string().nullable(),
      state: captureState,
      violationType: z.string().nullable(),
      capturedAt: z.string().nullable(),
      receivedAt: z.string(),
      quarantineReasons: z.array(z.object({ code: z.string(), detail: z.string() })),
      exclusions: z.array(z.object({ windowId: z.string(), source: z.string(), reason: z.string() })),
      media: z.array(z.object({ name: z.string(), sha256: z.string(), contentType: z.string(), thumbnailSha256: z.string().nullable() })),
    }),
  ),
  counts: z.record(captureState, z.number().int()).describe('captures in each state, purged ones included'),
});

export const reconciliationSchema = z.object({
  received: z.number().int(),
  accepted: z.number().int(),
  quarantined: z.number().int(),
  inFlight: z.number().int(),
  stagedChunks: z.number().int(),
  jobsAwaitingQueue: z.number().int(),
  states: z.record(captureState, ageTally),
  stranded: z.object({ stuckAfterSeconds: z.number(), screening: ageTally, media: ageTally }),
});

export const thumbnailAnswer = fileAnswer('the thumbnail, verified against its hash just now', 'image/jpeg');
export const mediaAnswer = fileAnswer('the file as the device sent it, verified against its hash just now', 'image/*', 'video/*');

export const queueSchema = z.object({
  items: z.array(
    z.object({
      id: z.uuid(),
      state: reviewState,
      deviceId: z.string(),
      road: z.string(),
      direction: z.string(),
      violationType: z.string().nullable(),
      capturedAt: z.string(),
      deadline: z.string(),
      overdue: z.boolean(),
      dueSoon: z.boolean(),
      claim: z.object({ by: z.string(), mine: z.boolean(), expiresAt: z.string() }).nullable(),
      thumbnailSha256: z.string().nullable(),
    }),
  ),
  total: z.number().int(),
  overdue: z.number().int(),
  dueSoon: z.number().int(),
});

export const myDecisionsSchema = z.object({
  decisions: z.array(
    z.object({
      captureId: z.uuid(),
      round: z.number().int(),
      step: z.enum(['first', 'second']),
      outcome: z.enum(['approved', 'rejected', 'escalated']),
      reasonCode: z.string().nullable(),
      decidedAt: z.date(),
      stateNow: z.string().describe("the capture's state now, which later steps (a second review, an exclusion) may have moved on"),
      violationType: z.string().nullable(),
      deviceId: z.string().nullable(),
      road: z.string().nullable(),
    }),
  ),
});

export const claimSchema = z.object({ captureId: z.uuid(), expiresAt: z.date() });
export const claimRefusalSchema = refusalSchema.extend({
  heldBy: z.string().optional().describe('who holds the claim, when someone does'),
});

const window = z.object({
  id: z.uuid(),
  source: z.enum(WINDOW_SOURCES),
  startsAt: z.date(),
  endsAt: z.date().nullable(),
  reason: z.string(),
  withdrawn: z.boolean(),
  coversCapture: z.boolean(),
});

export const captureDetailSchema = z.object({
  capture: z.object({
    id: z.uuid(),
    state: captureState,
    deviceCaptureId: z.string().nullable(),
    violationType: z.string().nullable(),
    capturedAt: z.date(),
    receivedAt: z.date(),
    deadline: z.date(),
    overdue: z.boolean(),
    reviewRound: z.number().int(),
    incidentId: z.uuid().nullable(),
    manifest: z
      .looseObject({ readings: z.record(z.string(), z.unknown()).optional(), clockOffsetMs: z.number().optional() })
      .describe('the signed manifest as the device sent it, every field kept'),
    twoPersonRule: z.boolean(),
  }),
  device: z.object({
    id: z.string(),
    kind: z.enum(DEVICE_KINDS),
    model: z.string(),
    serial: z.string(),
    agency: z.string(),
    road: z.string(),
    direction: z.string(),
    latitude: z.number(),
    longitude: z.number(),
    status: z.enum(DEVICE_STATUSES),
  }),
  certification: z.object({
    certifiedAtCapture: z.boolean(),
    gaps: z.array(z.object({ kind: certificationKind, problem: z.enum(['missing', 'not_yet_valid', 'expired', 'unconfirmed']) })),
    records: z.array(
      z.object({ kind: certificationKind, reference: z.string(), validFrom: z.date(), validTo: z.date(), coversCapture: z.boolean() }),
    ),
  }),
  health: z.object({
    clockOffsetMs: z.number().nullable(),
    lastHeartbeatBefore: z.date().nullable(),
    reportsBefore: z.array(z.object({ kind: z.string(), reportedAt: z.date(), payload: z.unknown() })),
    windows: z.array(window),
  }),
  integrity: z.object({
    signature: z.object({ valid: z.boolean(), keyFingerprint: z.string().nullable() }),
    record: z.object({
      matchesSigned: z.boolean(),
      differences: z.array(z.object({ field: z.string(), stored: z.unknown(), signed: z.unknown() })),
      unreadable: z.string().nullable(),
    }),
    media: z.array(z.object({ name: z.string(), expected: z.string(), actual: z.string().nullable(), matches: z.boolean() })),
    intact: z.boolean(),
    problems: z.array(z.string()),
  }),
  evidence: z.object({ eligible: z.boolean(), reasons: z.array(z.string()) }),
  media: z.array(
    z.object({
      name: z.string(),
      sha256: z.string(),
      contentType: z.string(),
      sizeBytes: z.number().int(),
      width: z.number().int().nullable(),
      height: z.number().int().nullable(),
      sharpness: z.number().nullable(),
      meanLuminance: z.number().nullable(),
      durationSeconds: z.number().nullable(),
      flags: z.array(z.string()),
      thumbnailSha256: z.string().nullable(),
      reviewSha256: z.string().nullable(),
      posterSha256: z.string().nullable(),
      keyframeSha256s: z.array(z.string()),
    }),
  ),
  decisions: z.array(
    z.object({
      round: z.number().int(),
      step: z.enum(['first', 'second']),
      outcome: z.enum(['approved', 'rejected', 'escalated']),
      by: z.string(),
      certificateNumber: z.string(),
      reasonCode: z.string().nullable(),
      note: z.string().nullable(),
      decidedAt: z.date(),
    }),
  ),
  annotations: z.array(z.object({ kind: z.string(), note: z.string(), by: z.string(), at: z.date() })),
  claim: z.object({ by: z.string(), personId: z.string(), expiresAt: z.date() }).nullable(),
  earlierCaptures: z
    .array(
      z.object({
        id: z.uuid(),
        deviceId: z.string().nullable(),
        capturedAt: z.date().nullable(),
        state: captureState,
        violationType: z.string().nullable(),
      }),
    )
    .describe('earlier captures of the same subject, for telling one act from several'),
});

export const nextClaimSchema = z.object({ claim: claimSchema, detail: captureDetailSchema.optional() });

export const decisionSchema = z.object({
  ok: z.literal(true),
  state: z.string().describe("the capture's state after the decision"),
  step: z.enum(['first', 'second']),
  incidentId: z.uuid().nullable(),
});

export const createdSchema = z.object({ id: z.uuid() });
export const findingConfirmedSchema = z.object({ captureId: z.uuid() });
