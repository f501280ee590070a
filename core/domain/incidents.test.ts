import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupIntoIncidents, incidentSubject, planRegrouping, type IncidentMember } from './incidents.js';

const MINUTE = 60_000;
const WINDOW = 30 * MINUTE;
const t0 = Date.parse('2026-01-01T10:00:00Z');

/** The partition as sorted lists of capture ids, independent of incident ids. */
function partitionOf(assignment: Map<string, string>): string[][] {
  const byIncident = new Map<string, string[]>();
  for (const [captureId, incidentId] of assignment) byIncident.set(incidentId, [...(byIncident.get(incidentId) ?? []), captureId]);
  return [...byIncident.values()].map((ids) => ids.sort()).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
}

/**
 * Plays approvals and exclusions against the plan as db/incidents.ts applies it: the incidents
 * a change can touch are those within the window of the joining capture, or the one a capture left.
 */
class IncidentBook {
  readonly assignment = new Map<string, string>();
  private readonly spans = new Map<string, { first: number; last: number; createdAt: number; closed: boolean }>();
  private opened = 0;

  constructor(private readonly times: Map<string, number>) {}

  join(captureId: string): void {
    const at = this.times.get(captureId)!;
    const affected = [...this.spans].filter(([, span]) => !span.closed && span.last >= at - WINDOW && span.first <= at + WINDOW);
    this.apply(
      affected.map(([id]) => id),
      { captureId, capturedAt: new Date(at), incidentId: null },
    );
  }

  leave(captureId: string): void {
    const incidentId = this.assignment.get(captureId);
    if (!incidentId) return;
    this.assignment.delete(captureId);
    this.apply([incidentId]);
  }

  private apply(affected: string[], joining?: IncidentMember): void {
    const members: IncidentMember[] = [...this.assignment]
      .filter(([, incidentId]) => affected.includes(incidentId))
      .map(([captureId, incidentId]) => ({ captureId, capturedAt: new Date(this.times.get(captureId)!), incidentId }));
    if (joining) members.push(joining);
    const plan = planRegrouping(
      members,
      affected.map((id) => ({ id, createdAt: new Date(this.spans.get(id)!.createdAt) })),
      WINDOW,
    );
    for (const group of plan.incidents) {
      const id = group.incidentId ?? `incident-${++this.opened}`;
      this.spans.set(id, {
        first: group.firstCapturedAt.getTime(),
        last: group.lastCapturedAt.getTime(),
        createdAt: this.spans.get(id)?.createdAt ?? this.opened,
        closed: false,
      });
      for (const captureId of group.captureIds) this.assignment.set(captureId, id);
    }
    for (const id of plan.closed) this.spans.get(id)!.closed = true;
  }
}

describe('incident grouping', () => {
  it('groups by plate, case- and space-insensitively, and never groups captures without a subject', () => {
    expect(incidentSubject('c1', { plate: ' 粤b·3k7q9 ' })).toBe('plate:粤B·3K7Q9');
    expect(incidentSubject('c1', { decibels: 91 })).toBe('capture:c1');
    expect(incidentSubject('c1', { plate: '' })).toBe('capture:c1');
  });

  it('joins captures at most the window apart, and starts a new incident one millisecond later', () => {
    const member = (id: string, at: number) => ({ captureId: id, capturedAt: new Date(at) });
    const groups = groupIntoIncidents([member('a', t0), member('b', t0 + WINDOW), member('c', t0 + 2 * WINDOW + 1)], WINDOW);
    expect(groups.map((group) => group.map((m) => m.captureId))).toEqual([['a', 'b'], ['c']]);
  });

  it('merges the incidents a capture bridges: t1, t1+55 min and t1+28 min are one act in any approval order', () => {
    const times = new Map([
      ['t1', t0],
      ['t1+55', t0 + 55 * MINUTE],
      ['t1+28', t0 + 28 * MINUTE],
    ]);
    const book = new IncidentBook(times);
    for (const id of ['t1', 't1+55', 't1+28']) book.join(id);
    expect(partitionOf(book.assignment)).toEqual([['t1', 't1+28', 't1+55']]);
  });

  it('gives the incident to the older one on a merge, and splits when the bridging capture leaves', () => {
    const members: IncidentMember[] = [
      { captureId: 'a', capturedAt: new Date(t0), incidentId: 'old' },
      { captureId: 'c', capturedAt: new Date(t0 + 55 * MINUTE), incidentId: 'new' },
      { captureId: 'b', capturedAt: new Date(t0 + 28 * MINUTE), incidentId: null },
    ];
    const merged = planRegrouping(
      members,
      [
        { id: 'new', createdAt: new Date(t0 + 2 * 3600_000) },
        { id: 'old', createdAt: new Date(t0 + 3600_000) },
      ],
      WINDOW,
    );
    expect(merged.incidents).toEqual([
      expect.objectContaining({ incidentId: 'old', captureIds: ['a', 'b', 'c'], takenFrom: ['new'], added: ['b'] }),
    ]);
    expect(merged.closed).toEqual(['new']);

    const split = planRegrouping(
      [members[0]!, members[1]!].map((member) => ({ ...member, incidentId: 'old' })),
      [{ id: 'old', createdAt: new Date(t0) }],
      WINDOW,
    );
    expect(split.incidents.map((group) => [group.incidentId, group.captureIds, group.takenFrom])).toEqual([
      ['old', ['a'], []],
      [null, ['c'], ['old']],
    ]);
    expect(split.closed).toEqual([]);
  });

  it('ends with the grouping of time order, whatever the order of approvals and exclusions', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 6 * 60 }), { minLength: 1, maxLength: 14 }).chain((minutes) =>
          fc.tuple(
            fc.constant(minutes),
            fc.shuffledSubarray(
              minutes.map((_, index) => index),
              { minLength: minutes.length },
            ),
            fc.subarray(minutes.map((_, index) => index)),
          ),
        ),
        ([minutes, approvalOrder, excluded]) => {
          const times = new Map(minutes.map((minute, index) => [`c${index}`, t0 + minute * MINUTE]));
          const book = new IncidentBook(times);
          // Exclusions land between approvals, each after the capture it removes was approved.
          for (const [step, index] of approvalOrder.entries()) {
            book.join(`c${index}`);
            const due = excluded.filter((candidate) => approvalOrder.indexOf(candidate) <= step);
            for (const gone of due) book.leave(`c${gone}`);
          }
          const remaining = [...times].filter(([id]) => !excluded.includes(Number(id.slice(1))));
          const expected = groupIntoIncidents(
            remaining.map(([captureId, at]) => ({ captureId, capturedAt: new Date(at) })),
            WINDOW,
          ).map((group) => group.map((member) => member.captureId).sort());
          expect(partitionOf(book.assignment)).toEqual(expected.sort((a, b) => (a[0]! < b[0]! ? -1 : 1)));
        },
      ),
      { numRuns: 500 },
    );
  });
});
