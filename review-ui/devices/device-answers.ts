import { z } from 'zod';
import { CERTIFICATION_KINDS } from '../../core/domain/certification.js';
import { DEVICE_STATUSES } from '../../db/devices.js';

/**
 * What the registry routes answer, as the OpenAPI document publishes it. The serializer keeps
 * only these fields, so a column added to a query later cannot reach a client unannounced.
 */
const certificationKind = z.enum(CERTIFICATION_KINDS);

export const deviceListSchema = z.object({
  asOf: z.date(),
  devices: z.array(
    z.object({
      id: z.string(),
      kind: z.string(),
      model: z.string(),
      serial: z.string(),
      agency: z.string(),
      status: z.string(),
      road: z.string(),
      direction: z.string(),
      latitude: z.number(),
      longitude: z.number(),
      enrolledAt: z.date(),
      keyFingerprint: z.string(),
      certifications: z.array(
        z.object({
          id: z.string(),
          kind: certificationKind,
          reference: z.string(),
          validFrom: z.date(),
          validTo: z.date(),
          documentSha256: z.string().nullable(),
          recordedAt: z.date(),
          recordedBy: z.string().nullable(),
          confirmedAt: z.date().nullable(),
          confirmedBy: z.string().nullable(),
        }),
      ),
      certifiedNow: z.boolean(),
      certificationGaps: z.array(
        z.object({ kind: certificationKind, problem: z.enum(['missing', 'not_yet_valid', 'expired', 'unconfirmed']) }),
      ),
    }),
  ),
});

const brokerAccountSchema = z
  .object({ username: z.string(), password: z.string() })
  .describe('the broker login, shown in this answer only');

export const enrolmentAnswerSchema = z.object({
  id: z.string(),
  outcome: z.enum(['enrolled', 'unchanged']),
  broker: brokerAccountSchema.optional(),
  gatewayKey: z
    .object({ fingerprint: z.string(), publicKeyPem: z.string() })
    .nullable()
    .describe('the key that signs acknowledgements; null until a gateway has started'),
});

export const brokerPasswordAnswerSchema = z.object({ id: z.string(), broker: brokerAccountSchema });

export const certificationAddedSchema = z.object({ id: z.uuid(), needsConfirmation: z.boolean() });

export const certificationConfirmedSchema = z.object({
  ok: z.literal(true),
  windowsChanged: z.number().int(),
  readmitted: z.array(z.string()),
});

export const statusChangedSchema = z.object({ id: z.string(), status: z.enum(DEVICE_STATUSES), outcome: z.enum(['changed', 'unchanged']) });

export const keyRotatedSchema = z.object({ id: z.string(), outcome: z.literal('rotated') });

export const expiringCertificationsSchema = z.object({
  asOf: z.date(),
  days: z.number().int(),
  certifications: z.array(
    z.object({
      certificationId: z.string(),
      deviceId: z.string(),
      kind: z.string(),
      reference: z.string(),
      validTo: z.date(),
      daysLeft: z.number().int(),
    }),
  ),
});
