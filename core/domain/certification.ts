export const CERTIFICATION_KINDS = [
  'legal_review',
  'technical_review',
  'metrological_verification',
  'signage',
  'location_publication',
] as const;

export type CertificationKind = (typeof CERTIFICATION_KINDS)[number];

export interface CertificationPeriod {
  kind: CertificationKind;
  reference: string;
  validFrom: Date;
  validTo: Date;
  /** When the record was made; absent for records kept before it was (they count as given). */
  recordedAt?: Date;
  /** When a second person confirmed a back-dated record; null while nobody has. */
  confirmedAt?: Date | null;
}

/**
 * A record whose validity starts before it was made corrects the registry's past: it changes
 * whether captures already taken count, so one person's word is not enough (law L1 read with L9).
 */
export function isBackdated(certification: Pick<CertificationPeriod, 'validFrom' | 'recordedAt'>): boolean {
  return certification.recordedAt !== undefined && certification.validFrom.getTime() < certification.recordedAt.getTime();
}

/** The moment a certification starts to count: its validity, or for an unconfirmed back-dated record only its recording. */
export function countsFrom(certification: CertificationPeriod): Date {
  return isBackdated(certification) && !certification.confirmedAt && certification.recordedAt
    ? certification.recordedAt
    : certification.validFrom;
}

export interface CertificationGap {
  kind: CertificationKind;
  /** Why this kind does not cover the moment: never issued, not yet valid, already expired, or covered only by a back-dated record nobody confirmed yet. */
  problem: 'missing' | 'not_yet_valid' | 'expired' | 'unconfirmed';
}

/**
 * The kinds of certification that do not cover `at` (law L1: every one must be valid at the
 * moment of capture). Periods are half-open, [validFrom, validTo): a certificate expiring at
 * midnight does not cover midnight; a back-dated record covers the time before its recording
 * only once confirmed (countsFrom). Empty means certified.
 */
export function certificationGapsAt(certifications: readonly CertificationPeriod[], at: Date): CertificationGap[] {
  const time = at.getTime();
  const gaps: CertificationGap[] = [];
  for (const kind of CERTIFICATION_KINDS) {
    const ofKind = certifications.filter((certification) => certification.kind === kind);
    if (ofKind.some((c) => countsFrom(c).getTime() <= time && time < c.validTo.getTime())) continue;
    if (ofKind.length === 0) gaps.push({ kind, problem: 'missing' });
    else if (ofKind.some((c) => c.validFrom.getTime() <= time && time < c.validTo.getTime())) gaps.push({ kind, problem: 'unconfirmed' });
    else if (ofKind.some((c) => c.validTo.getTime() <= time)) gaps.push({ kind, problem: 'expired' });
    else gaps.push({ kind, problem: 'not_yet_valid' });
  }
  return gaps;
}
