import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CERTIFICATION_KINDS, certificationGapsAt, type CertificationKind, type CertificationPeriod } from './certification.js';

const DAY = 24 * 60 * 60 * 1000;
const at = new Date('2024-06-15T12:00:00.000Z');

function period(kind: CertificationKind, validFrom: Date | string, validTo: Date | string, reference = `${kind}-ref`): CertificationPeriod {
  return { kind, reference, validFrom: new Date(validFrom), validTo: new Date(validTo) };
}

/** One period per kind, each covering [from, to). */
function fullSet(from: Date | string, to: Date | string): CertificationPeriod[] {
  return CERTIFICATION_KINDS.map((kind) => period(kind, from, to));
}

describe('certificationGapsAt', () => {
  it('knows exactly the five kinds the law requires', () => {
    expect([...CERTIFICATION_KINDS]).toEqual([
      'legal_review',
      'technical_review',
      'metrological_verification',
      'signage',
      'location_publication',
    ]);
  });

  it('reports no gaps when every kind covers the moment', () => {
    expect(certificationGapsAt(fullSet('2024-01-01T00:00:00Z', '2025-01-01T00:00:00Z'), at)).toEqual([]);
  });

  it('reports every kind as missing when there are no certifications at all', () => {
    expect(certificationGapsAt([], at)).toEqual(CERTIFICATION_KINDS.map((kind) => ({ kind, problem: 'missing' })));
  });

  it.each(CERTIFICATION_KINDS)('requires %s: without it that kind alone is missing', (kind) => {
    const others = fullSet('2024-01-01T00:00:00Z', '2025-01-01T00:00:00Z').filter((c) => c.kind !== kind);
    expect(certificationGapsAt(others, at)).toEqual([{ kind, problem: 'missing' }]);
  });

  describe('half-open periods [validFrom, validTo)', () => {
    const validFrom = new Date('2024-01-01T00:00:00.000Z');
    const validTo = new Date('2025-01-01T00:00:00.000Z');
    const certifications = fullSet(validFrom, validTo);

    it('covers the exact validFrom instant', () => {
      expect(certificationGapsAt(certifications, validFrom)).toEqual([]);
    });

    it('does not cover one millisecond before validFrom', () => {
      const gaps = certificationGapsAt(certifications, new Date(validFrom.getTime() - 1));
      expect(gaps).toEqual(CERTIFICATION_KINDS.map((kind) => ({ kind, problem: 'not_yet_valid' })));
    });

    it('covers one millisecond before validTo', () => {
      expect(certificationGapsAt(certifications, new Date(validTo.getTime() - 1))).toEqual([]);
    });

    it('does not cover the exact validTo instant: a certificate expiring at midnight does not cover midnight', () => {
      const gaps = certificationGapsAt(certifications, validTo);
      expect(gaps).toEqual(CERTIFICATION_KINDS.map((kind) => ({ kind, problem: 'expired' })));
    });

    it('an empty period (validFrom = validTo) covers nothing, not even its own instant', () => {
      const instant = new Date('2024-06-15T12:00:00.000Z');
      const gaps = certificationGapsAt(fullSet(instant, instant), instant);
      expect(gaps.map((gap) => gap.kind)).toEqual([...CERTIFICATION_KINDS]);
    });
  });

  describe('missing vs expired vs not yet valid', () => {
    const valid = fullSet('2024-01-01T00:00:00Z', '2025-01-01T00:00:00Z');

    it('tells the three problems apart, one kind each, in the order of CERTIFICATION_KINDS', () => {
      const certifications = [
        ...valid.filter((c) => !['legal_review', 'signage', 'location_publication'].includes(c.kind)),
        period('signage', '2023-01-01T00:00:00Z', '2024-01-01T00:00:00Z'),
        period('legal_review', '2024-07-01T00:00:00Z', '2025-07-01T00:00:00Z'),
      ];
      expect(certificationGapsAt(certifications, at)).toEqual([
        { kind: 'legal_review', problem: 'not_yet_valid' },
        { kind: 'signage', problem: 'expired' },
        { kind: 'location_publication', problem: 'missing' },
      ]);
    });

    it('calls a kind expired when it has both an expired and a future period but none covering', () => {
      const certifications = [
        ...valid.filter((c) => c.kind !== 'technical_review'),
        period('technical_review', '2025-01-01T00:00:00Z', '2026-01-01T00:00:00Z'),
        period('technical_review', '2023-01-01T00:00:00Z', '2024-01-01T00:00:00Z'),
      ];
      expect(certificationGapsAt(certifications, at)).toEqual([{ kind: 'technical_review', problem: 'expired' }]);
    });

    it('ignores periods of other kinds when judging one kind', () => {
      const certifications = [
        ...valid.filter((c) => c.kind !== 'metrological_verification'),
        period('signage', '2020-01-01T00:00:00Z', '2030-01-01T00:00:00Z', 'extra-signage'),
      ];
      expect(certificationGapsAt(certifications, at)).toEqual([{ kind: 'metrological_verification', problem: 'missing' }]);
    });
  });

  describe('several periods of one kind', () => {
    it('is satisfied when any one of them covers the moment, whatever the order', () => {
      const signage = [
        period('signage', '2022-01-01T00:00:00Z', '2023-01-01T00:00:00Z', 'old'),
        period('signage', '2024-06-01T00:00:00Z', '2024-07-01T00:00:00Z', 'current'),
        period('signage', '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z', 'future'),
      ];
      const others = fullSet('2024-01-01T00:00:00Z', '2025-01-01T00:00:00Z').filter((c) => c.kind !== 'signage');
      expect(certificationGapsAt([...others, ...signage], at)).toEqual([]);
      expect(certificationGapsAt([...signage].reverse().concat(others), at)).toEqual([]);
    });

    it('a renewal that starts after the old period ended leaves a gap in between, and only there', () => {
      const others = fullSet('2020-01-01T00:00:00Z', '2030-01-01T00:00:00Z').filter((c) => c.kind !== 'legal_review');
      const certifications = [
        ...others,
        period('legal_review', '2023-01-01T00:00:00Z', '2024-01-01T00:00:00Z', 'first'),
        period('legal_review', '2024-01-08T00:00:00Z', '2025-01-08T00:00:00Z', 'renewal'),
      ];
      expect(certificationGapsAt(certifications, new Date('2023-12-31T23:59:59.999Z'))).toEqual([]);
      expect(certificationGapsAt(certifications, new Date('2024-01-01T00:00:00.000Z'))).toEqual([
        { kind: 'legal_review', problem: 'expired' },
      ]);
      expect(certificationGapsAt(certifications, new Date('2024-01-05T00:00:00.000Z'))).toEqual([
        { kind: 'legal_review', problem: 'expired' },
      ]);
      expect(certificationGapsAt(certifications, new Date('2024-01-08T00:00:00.000Z'))).toEqual([]);
    });

    it('a renewal that starts exactly when the old one ends leaves no gap', () => {
      const others = fullSet('2020-01-01T00:00:00Z', '2030-01-01T00:00:00Z').filter((c) => c.kind !== 'legal_review');
      const certifications = [
        ...others,
        period('legal_review', '2023-01-01T00:00:00Z', '2024-01-01T00:00:00Z', 'first'),
        period('legal_review', '2024-01-01T00:00:00Z', '2025-01-01T00:00:00Z', 'renewal'),
      ];
      for (let ms = -2; ms <= 2; ms++) {
        expect(certificationGapsAt(certifications, new Date(Date.UTC(2024, 0, 1) + ms))).toEqual([]);
      }
    });
  });

  it('does not mutate its input', () => {
    const certifications = fullSet('2024-01-01T00:00:00Z', '2025-01-01T00:00:00Z');
    const snapshot = structuredClone(certifications);
    certificationGapsAt(certifications, at);
    expect(certifications).toEqual(snapshot);
  });

  describe('properties', () => {
    const instant = fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2100, 0, 1) });
    const kind = fc.constantFrom(...CERTIFICATION_KINDS);

    /** Periods that all cover `time`: validFrom <= time < validTo. */
    const coveringPeriods = (time: number) =>
      fc
        .array(
          fc.record({
            kind,
            reference: fc.string(),
            before: fc.integer({ min: 0, max: 3650 * DAY }),
            after: fc.integer({ min: 1, max: 3650 * DAY }),
          }),
          { maxLength: 10 },
        )
        .map((extras) =>
          [
            // Every kind at least once, so the set as a whole certifies.
            ...CERTIFICATION_KINDS.map((k, i) => ({ kind: k, reference: `base-${i}`, before: i * DAY, after: 1 + i })),
            ...extras,
          ].map(({ kind: k, reference, before, after }) => ({
            kind: k,
            reference,
            validFrom: new Date(time - before),
            validTo: new Date(time + after),
          })),
        );

    it('a set of periods that all cover the moment has no gaps; removing one kind yields exactly that kind as missing', () => {
      fc.assert(
        fc.property(
          instant.chain((time) => fc.tuple(fc.constant(time), coveringPeriods(time), kind)),
          ([time, certifications, removed]) => {
            const moment = new Date(time);
            expect(certificationGapsAt(certifications, moment)).toEqual([]);
            const without = certifications.filter((c) => c.kind !== removed);
            expect(certificationGapsAt(without, moment)).toEqual([{ kind: removed, problem: 'missing' }]);
          },
        ),
      );
    });

    it('a gap is reported for exactly the kinds with no covering period, with the right problem', () => {
      const arbitraryPeriod = fc
        .record({ kind, from: instant, length: fc.integer({ min: 0, max: 3650 * DAY }) })
        .map(({ kind: k, from, length }) => period(k, new Date(from), new Date(from + length)));
      fc.assert(
        fc.property(fc.array(arbitraryPeriod, { maxLength: 15 }), instant, (certifications, time) => {
          const gaps = certificationGapsAt(certifications, new Date(time));
          const expected = CERTIFICATION_KINDS.flatMap((k) => {
            const ends = certifications.filter((c) => c.kind === k).map((c) => [c.validFrom.getTime(), c.validTo.getTime()] as const);
            if (ends.some(([from, to]) => from <= time && time < to)) return [];
            if (ends.length === 0) return [{ kind: k, problem: 'missing' }];
            return [{ kind: k, problem: ends.some(([, to]) => to <= time) ? 'expired' : 'not_yet_valid' }];
          });
          expect(gaps).toEqual(expected);
        }),
      );
    });
  });
});
