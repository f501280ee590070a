/**
 * One act is penalised once (law L10): approved captures of the same subject, for the same
 * violation, on the same stretch of road within a configured window are one incident.
 */

export interface IncidentKey {
  subject: string;
  violationType: string;
  road: string;
  direction: string;
}

/**
 * Who the capture is about: the plate a camera read, or for readings without one (noise,
 * emission sensors) the capture itself, so such captures are never merged by guesswork.
 */
export function incidentSubject(captureId: string, readings: Record<string, unknown> | undefined): string {
  const plate = readings?.plate;
  return typeof plate === 'string' && plate.trim() !== '' ? `plate:${plate.trim().toUpperCase()}` : `capture:${captureId}`;
}

/** Whether a capture taken at `capturedAt` belongs to an incident spanning [first, last]. */
export function fallsInIncident(incident: { firstCapturedAt: Date; lastCapturedAt: Date }, capturedAt: Date, windowMs: number): boolean {
  const at = capturedAt.getTime();
  return at >= incident.firstCapturedAt.getTime() - windowMs && at <= incident.lastCapturedAt.getTime() + windowMs;
}
