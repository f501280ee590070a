import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseStrictJson } from './strict-json.js';

const bytes = (text: string) => Buffer.from(text, 'utf8');

const hugeInteger = (value: unknown): boolean =>
  typeof value === 'number'
    ? Number.isInteger(value) && !Number.isSafeInteger(value)
    : typeof value === 'object' && value !== null && Object.values(value).some(hugeInteger);

/**
 * JSON values every parser reads alike. Integers past 2^53 are left out: JSON.stringify writes
 * -59914882875660170 for a double whose exact value is -59914882875660168, a reading other
 * parsers do not share, and the rule refuses that (tested below).
 */
const portableJson = fc.jsonValue().filter((value) => !hugeInteger(value));

describe('parseStrictJson: I-JSON, so one signature has one reading', () => {
  it('reads every portable JSON text exactly as JSON.parse does', () => {
    fc.assert(
      fc.property(portableJson, (value) => {
        const text = JSON.stringify(value);
        expect(parseStrictJson(bytes(text))).toEqual({ ok: true, value: JSON.parse(text) as unknown });
      }),
    );
  });

  it('refuses a repeated name at any depth, wherever it sits among the others', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.integer(), { minKeys: 1, maxKeys: 6 }),
        fc.nat({ max: 5 }),
        fc.nat({ max: 3 }),
        (members, pick, depth) => {
          const names = Object.keys(members);
          const repeated = names[pick % names.length]!;
          const inner = `{${names.map((name) => `${JSON.stringify(name)}:${members[name]}`).join(',')},${JSON.stringify(repeated)}:0}`;
          let text = inner;
          for (let level = 0; level < depth; level++) text = level % 2 === 0 ? `{"outer":${text}}` : `[1,${text}]`;
          const result = parseStrictJson(bytes(text));
          expect(result.ok).toBe(false);
          if (!result.ok) expect(result.problem).toContain(`"${repeated}" appears twice`);
        },
      ),
    );
  });

  it('names where the repeated name is', () => {
    expect(parseStrictJson(bytes('{"readings":{"speedKmh":92,"plate":"A","speedKmh":61}}'))).toEqual({
      ok: false,
      problem: 'the name "speedKmh" appears twice in readings',
    });
    expect(parseStrictJson(bytes('{"a":1,"a":2}'))).toMatchObject({ problem: 'the name "a" appears twice in the top-level object' });
    // The same name in sibling objects, or escaped differently but equal once decoded, is judged by its value.
    expect(parseStrictJson(bytes('[{"a":1},{"a":2}]')).ok).toBe(true);
    expect(parseStrictJson(bytes('{"a":1,"\\u0061":2}'))).toMatchObject({ ok: false });
    // Braces and quotes inside strings are not structure.
    expect(parseStrictJson(bytes('{"a":"{\\"a\\":1}","b":"}"}')).ok).toBe(true);
  });

  it('refuses what parsers read differently: broken UTF-8, a byte-order mark, lone surrogates, inexact integers', () => {
    expect(parseStrictJson(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]))).toMatchObject({
      problem: 'not valid UTF-8',
    });
    expect(parseStrictJson(bytes('\uFEFF{}'))).toMatchObject({ problem: 'starts with a byte-order mark' });
    expect(parseStrictJson(bytes('{"plate":"\\ud800"}'))).toMatchObject({ problem: 'plate holds a lone UTF-16 surrogate' });
    expect(parseStrictJson(bytes('{"n":9007199254740993}'))).toMatchObject({ ok: false });
    expect(parseStrictJson(bytes('{"n":-12345678901234567890}'))).toMatchObject({ ok: false });
    expect(parseStrictJson(bytes(JSON.stringify({ n: -59914882875660168 })))).toMatchObject({ ok: false });
    // Exact in a double, however large, or written as a float: every parser agrees.
    expect(parseStrictJson(bytes('{"n":9007199254740992,"m":1.5e300,"k":-0.25}')).ok).toBe(true);
    expect(parseStrictJson(bytes('{"n":1e400}'))).toMatchObject({ problem: 'n is a number out of range' });
    expect(parseStrictJson(bytes('{"n":'))).toMatchObject({ ok: false });
  });
});
