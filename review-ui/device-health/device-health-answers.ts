import { z } from 'zod';
import { WINDOW_SOURCES } from '../../core/domain/fault-window.js';

/** What the health routes answer, as the OpenAPI document publishes it; the serializer sends only these fields. */
const source = z.enum(WINDOW_SOURCES);

export const windowAnswerSchema = z.object({
  id: z.uuid(),
  deviceId: z.string(),
  source,
  startsAt: z.date(),
  endsAt: z.date().nullable(),
  reason: z.string(),
  detail: z.unknown(),
  recordedBy: z.string(),
  recordedAt: z.date(),
  withdrawnAt: z.date().nullable(),
  withdrawnBy: z.string().nullable(),
  withdrawalReason: z.string().nullable(),
});

export const deviceTimelineSchema = z.object({
  asOf: z.date(),
  from: z.date(),
  device: z.object({ id: z.string(), status: z.string(), lastHeartbeatAt: z.date().nullable() }),
  events: z.array(z.object({ id: z.number().int(), kind: z.string(), reportedAt: z.date(), summary: z.string() })),
  eventsTruncated: z.boolean(),
  heartbeats: z.array(z.object({ at: z.date(), count: z.number().int() })),
  windows: z.array(
    z.object({
      id: z.uuid(),
      source,
      startsAt: z.date(),
      endsAt: z.date().nullable(),
      reason: z.string(),
      recordedBy: z.string(),
      recordedAt: z.date(),
      withdrawn: z.object({ at: z.date(), by: z.string(), reason: z.string() }).nullable(),
      excludedCaptures: z.number().int(),
    }),
  ),
});

export const fleetHealthSchema = z.object({
  asOf: z.date(),
  devices: z.array(
    z.object({
      id: z.string(),
      kind: z.string(),
      road: z.string(),
      direction: z.string(),
      status: z.string(),
      enrolledAt: z.date(),
      lastHeartbeatAt: z.date().nullable(),
      silentSince: z.date().nullable(),
      openWindows: z.array(z.object({ id: z.uuid(), source, since: z.date(), until: z.date().nullable(), reason: z.string() })),
      excludedLast24h: z.number().int(),
      rateAnomalies: z.array(z.object({ metric: z.string(), basis: z.string(), rateRatio: z.number().nullable() })),
      down: z.boolean(),
    }),
  ),
});
