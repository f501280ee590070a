import { z } from 'zod';
import { CAPTURE_STATES } from '../../core/domain/capture-lifecycle.js';
import { fileAnswer } from '../http/answer-schemas.js';

/** What the incident and reject-reason routes answer, as the OpenAPI document publishes it. */
const incidentSchema = z.object({
  id: z.uuid(),
  subject: z.string(),
  violationType: z.string(),
  road: z.string(),
  direction: z.string(),
  firstCapturedAt: z.date(),
  lastCapturedAt: z.date(),
  createdAt: z.date(),
  closedAt: z.date().nullable().describe('set once the incident was merged into others or emptied'),
  closedInto: z.array(z.uuid()).nullable().describe('the incidents it was merged or split into'),
});
type Incident = z.infer<typeof incidentSchema>;

/** An incident as answered: the described fields, taken one by one from the row. */
export function incidentAnswer(row: Incident): Incident {
  return {
    id: row.id,
    subject: row.subject,
    violationType: row.violationType,
    road: row.road,
    direction: row.direction,
    firstCapturedAt: row.firstCapturedAt,
    lastCapturedAt: row.lastCapturedAt,
    createdAt: row.createdAt,
    closedAt: row.closedAt,
    closedInto: row.closedInto,
  };
}

export const incidentListSchema = z.object({ incidents: z.array(incidentSchema) });

export const incidentWithCapturesSchema = z.object({
  incident: incidentSchema,
  captures: z.array(
    z.object({ id: z.uuid(), deviceId: z.string().nullable(), capturedAt: z.date().nullable(), state: z.enum(CAPTURE_STATES) }),
  ),
});

export const evidencePackageAnswer = fileAnswer(
  'the signed evidence package (docs/evidence-package.md); its SHA-256 is in the x-package-sha256 header',
  'application/zip',
);

export const rejectReasonSchema = z.object({
  code: z.string(),
  label: z.string(),
  statutory: z.boolean().describe('an erasure case of MPS order 157 art. 22: it cannot be retired'),
  retiredAt: z.date().nullable(),
});
type RejectReason = z.infer<typeof rejectReasonSchema>;

/** A reject reason as answered, taken field by field from the row. */
export function rejectReasonAnswer(row: RejectReason): RejectReason {
  return { code: row.code, label: row.label, statutory: row.statutory, retiredAt: row.retiredAt };
}

export const rejectReasonListSchema = z.object({ reasons: z.array(rejectReasonSchema) });
