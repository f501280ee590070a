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
}

export interface CertificationGap {
  kind: CertificationKind;
  /** Why this kind does not cover the moment: never issued, not yet valid, or already expired. */
  problem: 'missing' | 'not_yet_valid' | 'expired';
}

/**
 * The kinds of certification that do not cover `at` (law L1: every one must be valid at the
 * moment of capture). Periods are half-open, [validFrom, validTo): a certificate expiring at
 * midnight does not cover midnight. Empty means certified.
 */
export function certificationGapsAt(certifications: readonly CertificationPeriod[], at: Date): CertificationGap[] {
  const time = at.getTime();
  const gaps: CertificationGap[] = [];
  for (const kind of CERTIFICATION_KINDS) {
    const ofKind = certifications.filter((certification) => certification.kind === kind);
    if (ofKind.some((c) => c.validFrom.getTime() <= time && time < c.validTo.getTime())) continue;
    if (ofKind.length === 0) gaps.push({ kind, problem: 'missing' });
    else if (ofKind.some((c) => c.validTo.getTime() <= time)) gaps.push({ kind, problem: 'expired' });
    else gaps.push({ kind, problem: 'not_yet_valid' });
  }
  return gaps;
}
