import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CAPTURE_STATES,
  CAPTURE_TRANSITIONS,
  REVIEWING_STATES,
  canTransition,
  forbiddenInDatabase,
  lifecycleMarkdown,
  type CaptureState,
} from './capture-lifecycle.js';
import { REVIEW_STATES } from './review-policy.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

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
    const migration = readFileSync(path.join(repoRoot, 'db/migrations/0012_capture_transitions_guarded.sql'), 'utf8');
    const list = /\(OLD\.state::text, NEW\.state::text\) IN \(([\s\S]*?)\) THEN/.exec(migration)?.[1];
    expect(list, 'the trigger lost its list of forbidden pairs').toBeDefined();
    const inTrigger = [...list!.matchAll(/\('(\w+)', '(\w+)'\)/g)].map(([, from, to]) => `${from} -> ${to}`);
    const forbidden = CAPTURE_STATES.flatMap((from) =>
      CAPTURE_STATES.filter((to) => forbiddenInDatabase(from, to)).map((to) => `${from} -> ${to}`),
    );
    expect(inTrigger.sort()).toEqual(forbidden.sort());
  });
});
