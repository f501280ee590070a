import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keyValidAt, retiredKeyProblem, type KeyPeriod } from './key-history.js';

/** A history as rotations write it: each key ends where the next begins, the last is current. */
const history = fc.array(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 1, maxLength: 6 }).map((gaps) => {
  let at = 1_000_000;
  const starts = gaps.map((gap) => (at += gap));
  return starts.map((start, index): KeyPeriod & { id: number } => ({
    id: index,
    validFrom: new Date(start),
    validTo: index + 1 < starts.length ? new Date(starts[index + 1]!) : null,
  }));
});

describe('keyValidAt', () => {
  it('gives exactly the key whose period holds the moment, the enrolment key before it, and the current key after', () => {
    fc.assert(
      fc.property(history, fc.integer({ min: 0, max: 10_000_000 }), fc.boolean(), (keys, at, shuffle) => {
        const given = shuffle ? [...keys].reverse() : keys;
        const found = keyValidAt(given, new Date(at));
        const holding = keys.filter((key) => key.validFrom.getTime() <= at && (key.validTo === null || at < key.validTo.getTime()));
        const expected = holding[0] ?? (at < keys[0]!.validFrom.getTime() ? keys[0] : undefined);
        expect(found?.id).toBe(expected?.id);
      }),
    );
  });

  it('finds no key for a device whose last key ended (a history with no current key)', () => {
    const keys = [{ validFrom: new Date(1000), validTo: new Date(2000) }];
    expect(keyValidAt(keys, new Date(2000))).toBeUndefined();
    expect(keyValidAt([], new Date(2000))).toBeUndefined();
  });
});

describe('retiredKeyProblem', () => {
  it('lets a replaced key count up to the end of the overlap, inclusive, and never after', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e9 }),
        fc.integer({ min: 0, max: 1e8 }),
        fc.integer({ min: -1e8, max: 1e8 }),
        (end, overlap, delta) => {
          const key = { validFrom: new Date(0), validTo: new Date(end) };
          const problem = retiredKeyProblem(key, new Date(end + overlap + delta), overlap);
          expect(problem === undefined).toBe(delta <= 0);
          expect(retiredKeyProblem({ validFrom: new Date(0), validTo: null }, new Date(end + overlap + delta), overlap)).toBeUndefined();
        },
      ),
    );
  });
});
