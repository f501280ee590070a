import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CAPTURE_STATES,
  CAPTURE_TRANSITIONS,
  REVIEWING_STATES,
  canTransition,
  evidenceEligibility,
  type EvidenceFacts,
  forbiddenInDatabase,
  lifecycleMarkdown,
  type CaptureState,
} from './capture-lifecycle.js';
import { CERTIFICATION_KINDS } from './certification.js';
import { REVIEW_STATES } from './review-policy.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The text of the last migration that (re)defines a function: the definition the database runs. */
function newestMigrationDefining(fn: string): string {
  const folder = path.join(repoRoot, 'db/migrations');
  const defines = new RegExp(`CREATE (OR REPLACE )?FUNCTION ${fn}\\(`);
  const newest = readdirSync(folder)
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((file) => readFileSync(path.join(folder, file), 'utf8'))
    .findLast((text) => defines.test(text));
  if (newest === undefined) throw new Error(`no migration defines ${fn}`);
  return newest;
}

describe('capture lifecycle', () => {
  it('names only known states and keeps review-policy in step', () => {
    for (const row of CAPTURE_TRANSITIONS) {
      if (row.from) expect(CAPTURE_STATES).toContain(row.from);
      expect(CAPTURE_STATES).toContain(row.to);
    }
    expect([...REVIEWING_STATES]).toEqual([...REVIEW_STATES]);
  });

  it('refuses what is not in the table, with a reason', () => {
    expect(canTransition('quarantined', 'approved', 'reviewer')).toMatchObject({ allowed: false });
    expect(canTransition('awaiting_review', 'approved', 'gateway')).toMatchObject({ allowed: false, reason: /reviewer/ });
    expect(canTransition(null, 'approved', 'gateway')).toMatchObject({ allowed: false });
  });

  it('never reaches approved without a reviewer, whatever the sequence', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(CAPTURE_TRANSITIONS.length * 4)), (picks) => {
        let state: CaptureState | null = null;
        let reviewed = false;
        for (const pick of picks) {
          const options = CAPTURE_TRANSITIONS.filter((row) => row.from === state);
          const row = options[pick % Math.max(options.length, 1)];
          if (!row) break;
          if (row.to === 'approved') expect(row.by).toBe('reviewer');
          if (row.by === 'reviewer') reviewed = true;
          expect(forbiddenInDatabase(state ?? row.to, row.to)).toBe(false);
          state = row.to;
        }
        if (state === 'approved') expect(reviewed).toBe(true);
      }),
    );
  });

  it('is the table docs/design-notes.md shows', () => {
    const notes = readFileSync(path.join(repoRoot, 'docs/design-notes.md'), 'utf8');
    const shown = /<!-- capture-lifecycle-table:start -->\n\n([\s\S]*?)\n\n<!-- capture-lifecycle-table:end -->/.exec(notes)?.[1];
    expect(shown, 'docs/design-notes.md lost its capture-lifecycle-table markers').toBeDefined();
    expect(shown).toBe(lifecycleMarkdown());
  });

  it('has the database trigger refuse exactly the changes forbiddenInDatabase names', () => {
    const migration = newestMigrationDefining('captures_refuse_forbidden_transition');
    const list = /\(OLD\.state::text, NEW\.state::text\) IN \(([\s\S]*?)\) THEN/.exec(migration)?.[1];
    expect(list, 'the trigger lost its list of forbidden pairs').toBeDefined();
    const inTrigger = [...list!.matchAll(/\('(\w+)', '(\w+)'\)/g)].map(([, from, to]) => `${from} -> ${to}`);
    const forbidden = CAPTURE_STATES.flatMap((from) =>
      CAPTURE_STATES.filter((to) => forbiddenInDatabase(from, to)).map((to) => `${from} -> ${to}`),
    );
    expect(inTrigger.sort()).toEqual(forbidden.sort());
  });
});

describe('evidenceEligibility', () => {
  const capturedAt = new Date('2026-06-01T08:00:00Z');
  const year = { validFrom: new Date('2026-01-01T00:00:00Z'), validTo: new Date('2027-01-01T00:00:00Z') };
  const image = (name: string, offsetMs: number, width = 1920) => ({
    name,
    contentType: 'image/jpeg',
    capturedAt: new Date(capturedAt.getTime() + offsetMs).toISOString(),
    width,
    height: 1080,
  });
  const eligible: EvidenceFacts = {
    state: 'approved',
    deviceId: 'CAM-1',
    capturedAt,
    violationType: 'speeding',
    certifications: CERTIFICATION_KINDS.map((kind) => ({ kind, reference: `${kind}-1`, ...year })),
    integrityProblems: [],
    media: [image('frame-1.jpg', 0), image('frame-2.jpg', 400)],
    windows: [],
    overriddenWindowIds: [],
  };
  const window = {
    id: 'w1',
    deviceId: 'CAM-1',
    source: 'operator' as const,
    startsAt: new Date('2026-06-01T07:00:00Z'),
    endsAt: null,
    reason: 'lens',
  };

  it('says yes, with no reason, when every rule holds', () => {
    expect(evidenceEligibility(eligible)).toEqual({ eligible: true, reasons: [] });
  });

  it.each<[string, Partial<EvidenceFacts>, RegExp]>([
    ['not approved', { state: 'awaiting_review' }, /awaiting_review, not approved/],
    ['a certification missing at capture time', { certifications: eligible.certifications.slice(1) }, /certification .* at capture time/],
    [
      'a signature that no longer verifies',
      { integrityProblems: ['the device signature does not verify'] },
      /integrity: the device signature/,
    ],
    ['too few clear images', { media: [image('frame-1.jpg', 0), image('frame-2.jpg', 400, 640)] }, /evidence minimum/],
    ['a malfunction window covering the capture', { windows: [window] }, /malfunction window w1/],
    ['a reader who administers the device', { reader: { administeredDeviceIds: ['CAM-1'] } }, /./],
  ])('says no, naming why, for %s', (_case, change, reason) => {
    const answer = evidenceEligibility({ ...eligible, ...change });
    expect(answer.eligible).toBe(false);
    expect(answer.reasons.join('\n')).toMatch(reason);
  });

  it('lets a confirmed tampering finding set a window aside', () => {
    expect(evidenceEligibility({ ...eligible, windows: [window], overriddenWindowIds: ['w1'] })).toEqual({ eligible: true, reasons: [] });
  });
});
