import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { auditHash, GENESIS_HASH, type AuditEvent } from './audit-log.js';

const recordedAt = new Date('2024-06-15T12:34:56.789Z');
const event: AuditEvent = {
  actor: 'reviewer:alice',
  action: 'capture.approved',
  subjectType: 'capture',
  subjectId: '3f1c2b7a-9d4e-4c1a-8b2f-1e2d3c4b5a69',
  details: { note: 'plate legible', speed: { measuredKmh: 92, limitKmh: 60 }, tags: ['a', 'b'] },
};

interface Row {
  previousHash: string;
  recordedAt: Date;
  event: AuditEvent;
  hash: string;
}

/** Appends the way the database does: each row's hash covers its predecessor's hash. */
function fold(events: readonly { recordedAt: Date; event: AuditEvent }[]): Row[] {
  const rows: Row[] = [];
  for (const entry of events) {
    const previousHash = rows.at(-1)?.hash ?? GENESIS_HASH;
    rows.push({ previousHash, ...entry, hash: auditHash(previousHash, entry.recordedAt, entry.event) });
  }
  return rows;
}

/** Index of the first row whose stored hashes do not match a recomputation, or -1 if the chain holds. */
function firstBrokenLink(rows: readonly Row[]): number {
  let expectedPrevious = GENESIS_HASH;
  for (const [index, row] of rows.entries()) {
    if (row.previousHash !== expectedPrevious) return index;
    if (auditHash(row.previousHash, row.recordedAt, row.event) !== row.hash) return index;
    expectedPrevious = row.hash;
  }
  return -1;
}

describe('GENESIS_HASH', () => {
  it('is 64 zeros, the shape of a SHA-256 hex digest', () => {
    expect(GENESIS_HASH).toBe('0000000000000000000000000000000000000000000000000000000000000000');
  });
});

describe('auditHash', () => {
  it('is a lowercase SHA-256 hex digest', () => {
    expect(auditHash(GENESIS_HASH, recordedAt, event)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is the SHA-256 of the RFC 8785 canonical JSON of the row', () => {
    const canonical =
      '{"action":"capture.approved","actor":"reviewer:alice",' +
      '"details":{"note":"plate legible","speed":{"limitKmh":60,"measuredKmh":92},"tags":["a","b"]},' +
      `"previousHash":"${GENESIS_HASH}","recordedAt":"2024-06-15T12:34:56.789Z",` +
      '"subjectId":"3f1c2b7a-9d4e-4c1a-8b2f-1e2d3c4b5a69","subjectType":"capture"}';
    expect(auditHash(GENESIS_HASH, recordedAt, event)).toBe(createHash('sha256').update(canonical).digest('hex'));
  });

  it('is deterministic', () => {
    const again = structuredClone(event);
    expect(auditHash(GENESIS_HASH, new Date(recordedAt.getTime()), again)).toBe(auditHash(GENESIS_HASH, recordedAt, event));
  });

  it('changes when any field changes', () => {
    const base = auditHash(GENESIS_HASH, recordedAt, event);
    const variants: [string, string][] = [
      ['previousHash', auditHash('1'.padStart(64, '0'), recordedAt, event)],
      ['recordedAt by one millisecond', auditHash(GENESIS_HASH, new Date(recordedAt.getTime() + 1), event)],
      ['actor', auditHash(GENESIS_HASH, recordedAt, { ...event, actor: 'reviewer:bob' })],
      ['action', auditHash(GENESIS_HASH, recordedAt, { ...event, action: 'capture.rejected' })],
      ['subjectType', auditHash(GENESIS_HASH, recordedAt, { ...event, subjectType: 'device' })],
      ['subjectId', auditHash(GENESIS_HASH, recordedAt, { ...event, subjectId: '3f1c2b7a-9d4e-4c1a-8b2f-1e2d3c4b5a6a' })],
      ['a top-level detail', auditHash(GENESIS_HASH, recordedAt, { ...event, details: { ...event.details, note: 'plate legible.' } })],
      [
        'a nested detail',
        auditHash(GENESIS_HASH, recordedAt, { ...event, details: { ...event.details, speed: { measuredKmh: 93, limitKmh: 60 } } }),
      ],
      ['an array element order', auditHash(GENESIS_HASH, recordedAt, { ...event, details: { ...event.details, tags: ['b', 'a'] } })],
      ['an added detail', auditHash(GENESIS_HASH, recordedAt, { ...event, details: { ...event.details, extra: null } })],
      ['a removed detail', auditHash(GENESIS_HASH, recordedAt, { ...event, details: { speed: event.details.speed, tags: ['a', 'b'] } })],
      [
        'a number becoming a string',
        auditHash(GENESIS_HASH, recordedAt, { ...event, details: { ...event.details, speed: { measuredKmh: '92', limitKmh: 60 } } }),
      ],
    ];
    for (const [field, hash] of variants) expect(hash, field).not.toBe(base);
    expect(new Set(variants.map(([, hash]) => hash)).size).toBe(variants.length);
  });

  it('does not let a value slide between fields', () => {
    // Concatenation without structure would make these two collide.
    const a = auditHash(GENESIS_HASH, recordedAt, { ...event, actor: 'ab', action: 'c' });
    const b = auditHash(GENESIS_HASH, recordedAt, { ...event, actor: 'a', action: 'bc' });
    expect(a).not.toBe(b);
  });

  it('does not depend on the key order of details, at any depth', () => {
    const reordered: AuditEvent = {
      subjectId: event.subjectId,
      details: { tags: ['a', 'b'], speed: { limitKmh: 60, measuredKmh: 92 }, note: 'plate legible' },
      subjectType: event.subjectType,
      action: event.action,
      actor: event.actor,
    };
    expect(auditHash(GENESIS_HASH, recordedAt, reordered)).toBe(auditHash(GENESIS_HASH, recordedAt, event));
  });

  it('property: the key order of details never matters', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (details) => {
        const reversed = Object.fromEntries(Object.entries(details).reverse());
        expect(auditHash(GENESIS_HASH, recordedAt, { ...event, details: reversed })).toBe(
          auditHash(GENESIS_HASH, recordedAt, { ...event, details }),
        );
      }),
    );
  });

  it('property: distinct details give distinct hashes', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.dictionary(fc.string(), fc.jsonValue()), (a, b) => {
        fc.pre(JSON.stringify(sortKeys(a)) !== JSON.stringify(sortKeys(b)));
        expect(auditHash(GENESIS_HASH, recordedAt, { ...event, details: a })).not.toBe(
          auditHash(GENESIS_HASH, recordedAt, { ...event, details: b }),
        );
      }),
    );
  });
});

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  // -0 and 0 are the same JSON number.
  return value === 0 ? 0 : value;
}

describe('a chain of audit hashes', () => {
  const entries = Array.from({ length: 6 }, (_, i) => ({
    recordedAt: new Date(recordedAt.getTime() + i * 1000),
    event: { ...event, subjectId: `subject-${i}`, details: { step: i, nested: { flag: i % 2 === 0 } } },
  }));

  it('starts at the genesis hash and links each row to its predecessor', () => {
    const rows = fold(entries);
    expect(rows[0]?.previousHash).toBe(GENESIS_HASH);
    for (let i = 1; i < rows.length; i++) expect(rows[i]?.previousHash).toBe(rows[i - 1]?.hash);
    expect(new Set(rows.map((row) => row.hash)).size).toBe(rows.length);
    expect(firstBrokenLink(rows)).toBe(-1);
  });

  it.each([0, 2, 5])('is broken at exactly link %i when that row is edited', (edited) => {
    const rows = fold(entries).map((row) => structuredClone(row));
    const target = rows[edited]!;
    const nested = target.event.details.nested as { flag: boolean };
    target.event.details = { ...target.event.details, nested: { flag: !nested.flag } };
    expect(firstBrokenLink(rows)).toBe(edited);
    // The rows before the edit still verify on their own.
    expect(firstBrokenLink(rows.slice(0, edited))).toBe(-1);
  });

  it('is broken at the next link when an edited row is re-hashed to cover its tracks', () => {
    const rows = fold(entries).map((row) => structuredClone(row));
    const target = rows[2]!;
    target.event.actor = 'mallory';
    target.hash = auditHash(target.previousHash, target.recordedAt, target.event);
    expect(firstBrokenLink(rows)).toBe(3);
  });

  it('is broken where a row is deleted or two rows are swapped', () => {
    const rows = fold(entries);
    expect(firstBrokenLink([...rows.slice(0, 3), ...rows.slice(4)])).toBe(3);
    const swapped = [...rows];
    [swapped[1], swapped[2]] = [swapped[2]!, swapped[1]!];
    expect(firstBrokenLink(swapped)).toBe(1);
  });

  it('property: editing any one row breaks the chain at exactly that row', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ actor: fc.string(), detail: fc.jsonValue() }), { minLength: 1, maxLength: 8 }),
        fc.nat(),
        fc.string({ minLength: 1 }),
        (items, pick, suffix) => {
          const rows = fold(
            items.map((item, i) => ({
              recordedAt: new Date(recordedAt.getTime() + i),
              event: { ...event, actor: item.actor, details: { value: item.detail } },
            })),
          );
          const edited = pick % rows.length;
          const tampered = rows.map((row, i) =>
            i === edited ? { ...row, event: { ...row.event, actor: row.event.actor + suffix } } : row,
          );
          expect(firstBrokenLink(rows)).toBe(-1);
          expect(firstBrokenLink(tampered)).toBe(edited);
        },
      ),
    );
  });
});
