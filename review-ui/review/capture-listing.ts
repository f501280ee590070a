import {
  captureTallies,
  malfunctionWindowsById,
  mediaOfCaptures,
  newestCaptures,
  stagedChunkCount,
  undispatchedJobCount,
} from '../../db/capture-reads.js';
import { CAPTURE_STATES, type CaptureState } from '../../core/domain/capture-lifecycle.js';
import type { Db } from '../../db/client.js';
import { ageSeconds, tallyStuckCaptures, type StuckNeed, type StuckTally } from '../../db/stuck-captures.js';

export { isThumbnail } from '../../db/capture-reads.js';

export interface CaptureSummary {
  id: string;
  deviceId: string | null;
  deviceCaptureId: string | null;
  state: CaptureState;
  violationType: string | null;
  capturedAt: string | null;
  receivedAt: string;
  quarantineReasons: { code: string; detail: string }[];
  /** The malfunction windows an excluded capture falls in, so reviewers see why it left review. */
  exclusions: { windowId: string; source: string; reason: string }[];
  media: { name: string; sha256: string; contentType: string; thumbnailSha256: string | null }[];
}

/** Newest first, with each capture's media and thumbnails, for the review list. */
export async function listCaptures(
  db: Db,
  filter: { state?: CaptureState | undefined; before?: Date | undefined; limit: number },
): Promise<CaptureSummary[]> {
  const rows = await newestCaptures(db, filter);
  if (rows.length === 0) return [];
  const mediaRows = await mediaOfCaptures(
    db,
    rows.map((row) => row.id),
  );
  const windows = await malfunctionWindowsById(db, [...new Set(rows.flatMap((row) => row.exclusionWindowIds ?? []))]);
  return rows.map((row) => ({
    id: row.id,
    deviceId: row.deviceId,
    deviceCaptureId: row.deviceCaptureId,
    state: row.state,
    violationType: row.violationType,
    capturedAt: row.capturedAt?.toISOString() ?? null,
    receivedAt: row.receivedAt.toISOString(),
    quarantineReasons: row.quarantineReasons ?? [],
    exclusions: windows
      .filter((window) => row.exclusionWindowIds?.includes(window.id))
      .map((window) => ({ windowId: window.id, source: window.source, reason: window.reason })),
    media: mediaRows
      .filter((item) => item.captureId === row.id)
      .map(({ name, sha256, contentType, thumbnailSha256 }) => ({ name, sha256, contentType, thumbnailSha256 })),
  }));
}

/** How many captures sit in each state; every state is present, zero or not. */
export async function countByState(db: Db): Promise<Record<CaptureState, number>> {
  const counts = Object.fromEntries(CAPTURE_STATES.map((state) => [state, 0])) as Record<CaptureState, number>;
  for (const row of await captureTallies(db)) counts[row.state] = row.count;
  return counts;
}

export interface Reconciliation {
  /** Distinct capture messages received: accepted + quarantined + inFlight, always. */
  received: number;
  accepted: number;
  quarantined: number;
  inFlight: number;
  stagedChunks: number;
  /** Outbox rows not yet handed to the queue; a job the queue later lost shows in `stranded`, not here. */
  jobsAwaitingQueue: number;
  /** Every state, with how many captures are in it and how long ago the oldest of them was received. */
  states: Record<CaptureState, StuckTally>;
  /** Captures waiting longer than `stuckAfterSeconds` for a job, by the job they wait for. */
  stranded: { stuckAfterSeconds: number } & Record<StuckNeed, StuckTally>;
}

/** Where every capture message stands, so published and stored counts can be reconciled. */
export async function reconcile(db: Db, stuckAfterMs: number): Promise<Reconciliation> {
  const now = new Date();
  const byState = await captureTallies(db);
  const states = Object.fromEntries(
    CAPTURE_STATES.map((state) => [state, { count: 0, oldestAgeSeconds: null as number | null }]),
  ) as Record<CaptureState, StuckTally>;
  for (const row of byState) states[row.state] = { count: row.count, oldestAgeSeconds: ageSeconds(row.oldest, now) };
  const counts = Object.fromEntries(Object.entries(states).map(([state, tally]) => [state, tally.count])) as Record<CaptureState, number>;
  const quarantined = counts.quarantined;
  const inFlight = counts.received;
  const received = Object.values(counts).reduce((sum, count) => sum + count, 0);
  return {
    received,
    accepted: received - quarantined - inFlight,
    quarantined,
    inFlight,
    stagedChunks: await stagedChunkCount(db),
    jobsAwaitingQueue: await undispatchedJobCount(db),
    states,
    stranded: { stuckAfterSeconds: Math.round(stuckAfterMs / 1000), ...(await tallyStuckCaptures(db, stuckAfterMs, now)) },
  };
}
