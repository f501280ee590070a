import { createPublicKey } from 'node:crypto';
import { z } from 'zod';
import { CERTIFICATION_KINDS } from './certification.js';

export const DEVICE_KINDS = ['traffic_camera', 'speed_radar', 'noise_sensor', 'emission_sensor', 'weigh_in_motion'] as const;

const ed25519PublicKeyPem = z.string().refine((pem) => {
  try {
    return createPublicKey(pem).asymmetricKeyType === 'ed25519';
  } catch {
    return false;
  }
}, 'must be an Ed25519 public key in PEM (SPKI) form');

export const enrolmentSchema = z.strictObject({
  kind: z.enum(DEVICE_KINDS),
  model: z.string().min(1).max(200),
  serial: z.string().min(1).max(200),
  agency: z.string().min(1).max(200),
  publicKeyPem: ed25519PublicKeyPem,
  road: z.string().min(1).max(200),
  direction: z.string().min(1).max(100),
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
});

export const certificationSchema = z
  .strictObject({
    kind: z.enum(CERTIFICATION_KINDS),
    reference: z.string().min(1).max(200),
    validFrom: z.iso.datetime({ offset: true }),
    validTo: z.iso.datetime({ offset: true }),
    documentSha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
  })
  .refine((value) => Date.parse(value.validTo) > Date.parse(value.validFrom), {
    message: 'validTo must be after validFrom',
    path: ['validTo'],
  });

export type Enrolment = z.infer<typeof enrolmentSchema>;
export type CertificationInput = z.infer<typeof certificationSchema>;
