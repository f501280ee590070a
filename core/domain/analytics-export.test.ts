import { describe, expect, it } from 'vitest';
import { suppressionNote, suppressSmallCounts, toCsv } from './analytics-export.js';

describe('suppressSmallCounts', () => {
  it('keeps rows with at least k events and counts the rest', () => {
    const rows = [{ n: 0 }, { n: 4 }, { n: 5 }, { n: 120 }];
    expect(suppressSmallCounts(rows, (row) => row.n, 5)).toEqual({ kept: [{ n: 5 }, { n: 120 }], suppressed: 2 });
    expect(suppressSmallCounts(rows, (row) => row.n, 1).suppressed).toBe(1);
  });

  it('says what it suppressed', () => {
    expect(suppressionNote(3, 120, 5)).toBe('k-anonymity: 3 of 120 rows with fewer than 5 events suppressed');
  });
});

describe('toCsv', () => {
  it('quotes what needs quoting and leaves the rest alone', () => {
    expect(
      toCsv(
        ['a', 'b', 'c'],
        [
          ['plain', 'with, comma', 'say "hi"'],
          [1.5, null, true],
        ],
      ),
    ).toBe('a,b,c\r\nplain,"with, comma","say ""hi"""\r\n1.5,,true\r\n');
  });

  it('opens with the note when there is one', () => {
    expect(toCsv(['a'], [[1]], 'three\nlines')).toBe('# three lines\r\na\r\n1\r\n');
  });

  it('defuses text a spreadsheet would run as a formula, but not negative numbers', () => {
    expect(toCsv(['road', 'excess'], [['=HYPERLINK("x")', -2.5]])).toBe('road,excess\r\n"\'=HYPERLINK(""x"")",-2.5\r\n');
    expect(toCsv(['road'], [['-1 Ring Road']])).toBe("road\r\n'-1 Ring Road\r\n");
  });

  it('writes no number it cannot represent', () => {
    expect(toCsv(['x'], [[Number.POSITIVE_INFINITY], [Number.NaN]])).toBe('x\r\n\r\n\r\n');
  });
});
