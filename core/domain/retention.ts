/**
 * When personal data must go (docs/party.md): the video-image regulation (art. 17) keeps footage
 * not needed as evidence at least 30 days and then deletes it; MPS order 157 (art. 22) erases a
 * record confirmed wrong within 3 days; evidence is kept for its own period.
 */
export type PurgeReason = 'retention' | 'erasure' | 'evidence_retention';

export const PURGE_REASONS: readonly PurgeReason[] = ['retention', 'erasure', 'evidence_retention'];

export interface RetentionSettings {
  nonEvidenceKeepMs: number;
  /** The deadline for an erasure; the job erases on its first run after the decision, well inside it. */
  erasureWithinMs: number;
  evidenceKeepMs: number;
}

/**
 * For each reason, the latest moment a capture's clock may have started for it to be purged
 * now: a clock that started exactly the keep time ago is due. An erasure is due at once.
 */
export function purgeCutoffs(settings: RetentionSettings, now: Date): Record<PurgeReason, Date> {
  return {
    retention: new Date(now.getTime() - settings.nonEvidenceKeepMs),
    erasure: now,
    evidence_retention: new Date(now.getTime() - settings.evidenceKeepMs),
  };
}

/** When an erasure that started at `decidedAt` must be done by. */
export function erasureDeadline(decidedAt: Date, settings: Pick<RetentionSettings, 'erasureWithinMs'>): Date {
  return new Date(decidedAt.getTime() + settings.erasureWithinMs);
}
