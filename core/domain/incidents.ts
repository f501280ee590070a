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

export interface IncidentMember {
  captureId: string;
  capturedAt: Date;
  /** The incident the capture belongs to now; null for a capture just approved. */
  incidentId: string | null;
}

/**
 * The incidents of one act, whatever order the captures were approved in: captures sorted by
 * time, a gap longer than the window starts a new incident (single linkage). So a capture
 * taken between two incidents within the window of both joins them, and taking a capture out
 * may split one.
 */
export function groupIntoIncidents<T extends { captureId: string; capturedAt: Date }>(members: readonly T[], windowMs: number): T[][] {
  const sorted = [...members].sort((a, b) => a.capturedAt.getTime() - b.capturedAt.getTime() || compareIds(a.captureId, b.captureId));
  const groups: T[][] = [];
  let previous: T | undefined;
  for (const member of sorted) {
    const current = groups.at(-1);
    if (current && previous && member.capturedAt.getTime() - previous.capturedAt.getTime() <= windowMs) current.push(member);
    else groups.push([member]);
    previous = member;
  }
  return groups;
}

export interface PlannedIncident {
  /** The incident that carries this group on; null when a new incident has to be opened. */
  incidentId: string | null;
  captureIds: string[];
  firstCapturedAt: Date;
  lastCapturedAt: Date;
  /** Other incidents whose captures this group takes (a merge, or part of a split). */
  takenFrom: string[];
  /** Captures that were in no incident before (just approved). */
  added: string[];
}

export interface RegroupPlan {
  incidents: PlannedIncident[];
  /** Incidents left with no group to carry: merged into the groups that took their captures, or emptied. */
  closed: string[];
}

/**
 * How the incidents of one act change when captures join or leave: the groups come from
 * groupIntoIncidents, and each existing incident, oldest first, carries on the earliest group
 * that holds its captures and no older incident. Incident ids thus stay where they were as far
 * as the groups allow; the groups themselves never depend on ids or order.
 */
export function planRegrouping(
  members: readonly IncidentMember[],
  existing: readonly { id: string; createdAt: Date }[],
  windowMs: number,
): RegroupPlan {
  const groups = groupIntoIncidents(members, windowMs);
  const carrier: (string | null)[] = groups.map(() => null);
  const byAge = [...existing].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || compareIds(a.id, b.id));
  for (const incident of byAge) {
    const index = groups.findIndex((group, at) => carrier[at] === null && group.some((member) => member.incidentId === incident.id));
    if (index >= 0) carrier[index] = incident.id;
  }
  const planned = groups.map((group, index): PlannedIncident => {
    const incidentId = carrier[index] ?? null;
    const takenFrom = [...new Set(group.map((member) => member.incidentId))].filter((id): id is string => id !== null && id !== incidentId);
    return {
      incidentId,
      captureIds: group.map((member) => member.captureId),
      firstCapturedAt: group[0]!.capturedAt,
      lastCapturedAt: group.at(-1)!.capturedAt,
      takenFrom: takenFrom.sort(compareIds),
      added: group.filter((member) => member.incidentId === null).map((member) => member.captureId),
    };
  });
  return { incidents: planned, closed: byAge.filter((incident) => !carrier.includes(incident.id)).map((incident) => incident.id) };
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
