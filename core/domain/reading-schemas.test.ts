import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkReadings } from './capture-verifier.js';
import { DEVICE_KINDS } from './device-registration.js';
import { EVIDENCE_RULES } from './evidence-minimum.js';
import {
  READINGS,
  READINGS_BY_TYPE,
  readingsJsonSchema,
  REPORTED_BY,
  VIOLATION_TYPES,
  type ReadingDefinition,
  type ReadingName,
  type ViolationType,
} from './reading-schemas.js';
import { READING_LIMITS } from './sensor-plausibility.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function namesOf(type: ViolationType): { name: ReadingName; required: boolean }[] {
  return Object.entries(READINGS_BY_TYPE[type]).map(([name, required]) => ({ name: name as ReadingName, required }));
}

function validValue(definition: ReadingDefinition): fc.Arbitrary<number | string> {
  switch (definition.type) {
    case 'string':
      return fc.string({ minLength: definition.minLength, maxLength: definition.maxLength });
    case 'integer':
      return fc.integer({ min: definition.min, max: definition.max });
    case 'number':
      return fc.double({ min: definition.min, max: definition.max, noNaN: true });
  }
}

function invalidValue(definition: ReadingDefinition): fc.Arbitrary<number | string | boolean> {
  const wrongType = fc.oneof(fc.boolean(), definition.type === 'string' ? fc.integer() : fc.string());
  if (definition.type === 'string') return fc.oneof(wrongType, fc.string({ minLength: definition.maxLength + 1, maxLength: 64 }));
  // fast-check orders -0 below +0, so "below a minimum of 0" can draw -0, which is the in-range value 0.
  const outside = fc.oneof(
    fc.double({ min: -1e12, max: definition.min, maxExcluded: true, noNaN: true }).filter((value) => value < definition.min),
    fc.double({ min: definition.max, minExcluded: true, max: 1e12, noNaN: true }),
  );
  const fractional = fc.double({ min: definition.min, max: definition.max, noNaN: true }).filter((value) => !Number.isInteger(value));
  return definition.type === 'integer' ? fc.oneof(wrongType, outside, fractional) : fc.oneof(wrongType, outside);
}

/** A reading set the schema of `type` accepts: every required reading, any subset of the optional ones. */
function validReadings(type: ViolationType): fc.Arbitrary<Record<string, number | string>> {
  const names = namesOf(type);
  return fc.record(Object.fromEntries(names.map(({ name }) => [name, validValue(READINGS[name])])), {
    requiredKeys: names.filter((reading) => reading.required).map((reading) => reading.name),
  }) as fc.Arbitrary<Record<string, number | string>>;
}

/** A reading set for a violation type, from a kind of device that reports it, or from a device not (yet) known. */
const typedReadings = fc
  .constantFrom(...VIOLATION_TYPES)
  .chain((type) =>
    fc
      .tuple(validReadings(type), fc.option(fc.constantFrom(...REPORTED_BY[type]), { nil: undefined }))
      .map(([readings, kind]) => ({ type, readings, kind })),
  );

describe('reading schemas', () => {
  it('accept every reading set made of the named readings in range', () => {
    fc.assert(
      fc.property(typedReadings, ({ type, readings, kind }) => {
        expect(checkReadings({ violationType: type, readings }, kind)).toEqual([]);
      }),
    );
  });

  it('refuse a reading the schema does not name, naming it', () => {
    fc.assert(
      fc.property(
        typedReadings,
        fc.string({ minLength: 1 }).filter((key) => key !== '__proto__'),
        fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string(), fc.boolean()),
        ({ type, readings, kind }, key, value) => {
          fc.pre(!(key in READINGS_BY_TYPE[type]));
          const [problem, ...more] = checkReadings({ violationType: type, readings: { ...readings, [key]: value } }, kind);
          expect(more).toEqual([]);
          expect(problem).toEqual({ code: 'readings_invalid', detail: `${type}: unknown reading ${key}` });
        },
      ),
    );
  });

  it('refuse a reading set without a required reading, naming the reading, its unit and range', () => {
    const withRequired = VIOLATION_TYPES.filter((type) => namesOf(type).some((reading) => reading.required));
    fc.assert(
      fc.property(
        fc
          .constantFrom(...withRequired)
          .chain((type) =>
            fc.tuple(fc.constant(type), validReadings(type), fc.constantFrom(...namesOf(type).filter((reading) => reading.required))),
          ),
        ([type, readings, { name }]) => {
          const rest = Object.fromEntries(Object.entries(readings).filter(([key]) => key !== name));
          const reasons = checkReadings({ violationType: type, readings: rest }, REPORTED_BY[type][0]);
          expect(reasons.map((reason) => reason.code)).toEqual(['readings_invalid']);
          expect(reasons[0]?.detail).toContain(`missing required reading ${name} (`);
          const definition: ReadingDefinition = READINGS[name];
          if (definition.type !== 'string') expect(reasons[0]?.detail).toContain(`${definition.unit}, ${definition.min}–${definition.max}`);
        },
      ),
    );
  });

  it('refuse a reading of the wrong type or outside its range', () => {
    fc.assert(
      fc.property(
        typedReadings.chain(({ type, readings, kind }) =>
          fc
            .constantFrom(...namesOf(type))
            .chain(({ name }) =>
              invalidValue(READINGS[name]).map((value) => ({ type, readings: { ...readings, [name]: value }, kind, name })),
            ),
        ),
        ({ type, readings, kind, name }) => {
          const reasons = checkReadings({ violationType: type, readings }, kind);
          expect(reasons.map((reason) => reason.code)).toEqual(['readings_invalid']);
          expect(reasons[0]?.detail).toContain(`reading ${name} is ${JSON.stringify(readings[name])}, expected`);
        },
      ),
    );
  });

  it('says what a misnamed reading should have been called, unknown name first', () => {
    expect(checkReadings({ violationType: 'speeding', readings: { speed_kmh: 92, limitKmh: 60 } }, 'speed_radar')).toEqual([
      {
        code: 'readings_invalid',
        detail: 'speeding: unknown reading speed_kmh; missing required reading speedKmh (number in km/h, 0–1000)',
      },
    ]);
  });

  it('refuse a violation type that has no schema, naming the known ones', () => {
    const [reason] = checkReadings({ violationType: 'jaywalking', readings: {} }, 'traffic_camera');
    expect(reason?.code).toBe('readings_invalid');
    expect(reason?.detail).toBe(`jaywalking: no reading schema for violation type jaywalking; known types: ${VIOLATION_TYPES.join(', ')}`);
  });

  it('refuse a violation type from a kind of device that does not report it, however good the readings', () => {
    fc.assert(
      fc.property(
        typedReadings.chain(({ type, readings }) =>
          fc.constantFrom(...DEVICE_KINDS.filter((kind) => !REPORTED_BY[type].includes(kind))).map((kind) => ({ type, readings, kind })),
        ),
        ({ type, readings, kind }) => {
          expect(checkReadings({ violationType: type, readings }, kind)).toEqual([
            {
              code: 'readings_invalid',
              detail: `${type}: a ${kind} does not report ${type} (reported by ${REPORTED_BY[type].join(', ')})`,
            },
          ]);
        },
      ),
    );
  });

  it('let every kind of device report some violation type', () => {
    expect(DEVICE_KINDS.filter((kind) => !VIOLATION_TYPES.some((type) => REPORTED_BY[type].includes(kind)))).toEqual([]);
  });

  it('cover exactly the violation types the evidence minimum knows', () => {
    expect([...VIOLATION_TYPES].sort()).toEqual(Object.keys(EVIDENCE_RULES).sort());
  });

  it('give the plausibility checks their physical ranges, inside the accepted ones', () => {
    for (const [name, limits] of Object.entries(READING_LIMITS)) {
      const definition: ReadingDefinition = READINGS[name as ReadingName];
      expect(definition.type).not.toBe('string');
      if (definition.type === 'string') continue;
      expect(limits.min).toBeGreaterThanOrEqual(definition.min);
      expect(limits.max).toBeLessThanOrEqual(definition.max);
    }
    expect(Object.keys(READING_LIMITS).sort()).toEqual(['axleLoadKg', 'co2Ppm', 'noiseDb', 'speedKmh']);
  });
});

interface PropertySchema {
  type: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  unit?: string;
  description: string;
}

interface Branch {
  deviceKinds: string[];
  properties: { violationType: { const: string }; readings: { properties: Record<string, PropertySchema>; required?: string[] } };
}

describe('the published reading schemas', () => {
  const published = readingsJsonSchema() as { oneOf: Branch[] };

  /** The body rows of the tables in docs/protocol.md's Readings section with `columns` cells, backticks removed. */
  function readingsTableRows(columns: number): string[][] {
    const protocol = readFileSync(path.join(repoRoot, 'docs/protocol.md'), 'utf8');
    const start = protocol.indexOf('\n## Readings\n');
    const section = protocol.slice(start, protocol.indexOf('\n## ', start + 1));
    return section
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) =>
        line
          .split('|')
          .slice(1, -1)
          .map((cell) => cell.trim().replaceAll('`', '')),
      )
      .filter((cells) => cells.length === columns);
  }

  it("docs/protocol.md's Readings table says what the schemas say", () => {
    const rows = readingsTableRows(8);
    const documented = rows.map(([type, name, unit, kind, range, plausible, required, meaning]) => ({
      type,
      name,
      unit,
      kind,
      range,
      plausible,
      required,
      meaning,
    }));
    const expected = published.oneOf.flatMap((branch) => {
      const { properties, required = [] } = branch.properties.readings;
      return Object.entries(properties).map(([name, property]) => {
        const limits = READING_LIMITS[name];
        return {
          type: branch.properties.violationType.const,
          name,
          unit: property.unit ?? '',
          kind: property.type,
          range:
            property.type === 'string'
              ? `${property.minLength}–${property.maxLength} characters`
              : `${property.minimum}–${property.maximum}`,
          plausible: limits ? `${limits.min}–${limits.max}` : '',
          required: required.includes(name) ? 'yes' : 'no',
          meaning: property.description,
        };
      });
    });
    expect(documented).toEqual(expected);
  });

  it("docs/protocol.md's table of who reports each violation type says what the schemas say", () => {
    const documented = readingsTableRows(2).map(([type, kinds]) => ({ type, kinds: kinds?.split(', ') }));
    expect(documented).toEqual(
      published.oneOf.map((branch) => ({ type: branch.properties.violationType.const, kinds: branch.deviceKinds })),
    );
  });
});
