import { describe, expect, it } from 'vitest';
import { outOfRange, trailingIdenticalRun } from './sensor-plausibility.js';

describe('outOfRange', () => {
  it('names readings beyond their physical range and ignores unknown or non-numeric ones', () => {
    expect(outOfRange({ speedKmh: 420, noiseDb: 80, plate: 'B·12345', unknownThing: 1e9 })).toEqual(['speedKmh 420 outside 0–350']);
    expect(outOfRange({ speedKmh: -1 })).toEqual(['speedKmh -1 outside 0–350']);
    expect(outOfRange({ speedKmh: 0, noiseDb: 150 })).toEqual([]);
  });
});

describe('trailingIdenticalRun', () => {
  it('counts the identical values at the end', () => {
    expect(trailingIdenticalRun([])).toBe(0);
    expect(trailingIdenticalRun([1, 2, 2, 2])).toBe(3);
    expect(trailingIdenticalRun([2, 2, 1])).toBe(1);
  });
});
