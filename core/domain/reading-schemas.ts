import { z } from 'zod';
import { DEVICE_KINDS } from './device-registration.js';

/**
 * The readings each violation type must carry (names, units, ranges). The two-person rule and
 * the sensor plausibility checks read these names, so a reading a device names differently
 * (`speed_kmh`) would silently bypass both: the gateway refuses it instead (`readings_invalid`).
 *
 * Two ranges per measured quantity: `min`–`max` is what the protocol accepts, and a value
 * outside it is no measurement at all (a wrong unit or encoding). `plausible` is what the
 * quantity can physically be at a road; a value between the two is a well-formed reading of a
 * faulty sensor, which the health scan turns into a malfunction window (docs/device-health.md).
 */
interface MeasuredReading {
  type: 'number' | 'integer';
  unit: string;
  description: string;
  min: number;
  max: number;
  plausible?: { min: number; max: number; maxIdenticalRun: number };
}

interface TextReading {
  type: 'string';
  unit?: undefined;
  description: string;
  minLength: number;
  maxLength: number;
}

export type ReadingDefinition = MeasuredReading | TextReading;

export const READINGS = {
  speedKmh: {
    type: 'number',
    unit: 'km/h',
    description: 'speed of the vehicle as the radar or section timer measured it',
    min: 0,
    max: 1000,
    plausible: { min: 0, max: 350, maxIdenticalRun: 20 },
  },
  limitKmh: { type: 'integer', unit: 'km/h', description: 'speed limit in force at the site and moment of capture', min: 5, max: 200 },
  redForMs: {
    type: 'integer',
    unit: 'ms',
    description: 'how long the signal had shown red when the vehicle crossed the stop line',
    min: 0,
    max: 600_000,
  },
  noiseDb: {
    type: 'number',
    unit: 'dB(A)',
    description: 'A-weighted sound level the sensor measured',
    min: 0,
    max: 200,
    plausible: { min: 20, max: 150, maxIdenticalRun: 60 },
  },
  limitDb: { type: 'number', unit: 'dB(A)', description: 'noise limit in force at the site and moment of capture', min: 20, max: 150 },
  co2Ppm: {
    type: 'number',
    unit: 'ppm',
    description: 'CO₂ concentration the remote sensor measured in the exhaust plume',
    min: 0,
    max: 1_000_000,
    plausible: { min: 300, max: 50_000, maxIdenticalRun: 60 },
  },
  limitPpm: { type: 'number', unit: 'ppm', description: 'emission limit in force for the vehicle class', min: 1, max: 1_000_000 },
  axleLoadKg: {
    type: 'number',
    unit: 'kg',
    description: 'heaviest axle load the weigh-in-motion scale measured',
    min: 0,
    max: 200_000,
    plausible: { min: 0, max: 60_000, maxIdenticalRun: 20 },
  },
  limitKg: { type: 'number', unit: 'kg', description: 'axle load limit in force for the vehicle class', min: 1, max: 200_000 },
  plate: { type: 'string', description: 'licence plate as the device read it', minLength: 1, maxLength: 16 },
} as const satisfies Record<string, ReadingDefinition>;

export type ReadingName = keyof typeof READINGS;

/** Which readings each violation type carries: `true` required, `false` optional. */
export const READINGS_BY_TYPE = {
  speeding: { speedKmh: true, limitKmh: true, plate: false },
  red_light: { redForMs: true, plate: false },
  illegal_lane_change: { plate: false },
  wrong_way: { plate: false },
  no_seat_belt: { plate: false },
  illegal_parking: { plate: false },
  illegal_stopping: { plate: false },
  noise_limit: { noiseDb: true, limitDb: true },
  emission_limit: { co2Ppm: true, limitPpm: true, plate: false },
  overweight: { axleLoadKg: true, limitKg: true, plate: false },
} as const satisfies Record<string, Partial<Record<ReadingName, boolean>>>;

export type ViolationType = keyof typeof READINGS_BY_TYPE;

export const VIOLATION_TYPES = Object.keys(READINGS_BY_TYPE) as ViolationType[];

export type DeviceKind = (typeof DEVICE_KINDS)[number];

/**
 * Which kinds of device may report each violation type: a device's metrological verification
 * covers the quantity it measures, so a noise sensor's readings cannot prove a speed.
 */
export const REPORTED_BY: Readonly<Record<ViolationType, readonly DeviceKind[]>> = {
  speeding: ['traffic_camera', 'speed_radar'],
  red_light: ['traffic_camera'],
  illegal_lane_change: ['traffic_camera'],
  wrong_way: ['traffic_camera'],
  no_seat_belt: ['traffic_camera'],
  illegal_parking: ['traffic_camera'],
  illegal_stopping: ['traffic_camera'],
  noise_limit: ['noise_sensor'],
  emission_limit: ['emission_sensor'],
  overweight: ['weigh_in_motion'],
};

type FieldSchema<D extends ReadingDefinition> = D extends TextReading ? z.ZodString : z.ZodNumber;

function fieldSchema<D extends ReadingDefinition>(definition: D): FieldSchema<D> {
  const meta = { description: definition.description, ...(definition.unit ? { unit: definition.unit } : {}) };
  if (definition.type === 'string') return z.string().min(definition.minLength).max(definition.maxLength).meta(meta) as FieldSchema<D>;
  const number = definition.type === 'integer' ? z.number().int() : z.number();
  return number.min(definition.min).max(definition.max).meta(meta) as FieldSchema<D>;
}

const FIELDS = Object.fromEntries(Object.entries(READINGS).map(([name, definition]) => [name, fieldSchema(definition)])) as {
  [N in ReadingName]: FieldSchema<(typeof READINGS)[N]>;
};

/** One strict schema per violation type: an unknown reading is refused, not carried along unread. */
const READING_SCHEMAS = Object.fromEntries(
  Object.entries(READINGS_BY_TYPE).map(([type, names]) => [
    type,
    z.strictObject(
      Object.fromEntries(
        Object.entries(names).map(([name, required]) => {
          const field = FIELDS[name as ReadingName];
          return [name, required ? field : field.optional()];
        }),
      ),
    ),
  ]),
) as Record<ViolationType, z.ZodObject>;

function isViolationType(value: string): value is ViolationType {
  return Object.prototype.hasOwnProperty.call(READINGS_BY_TYPE, value);
}

/** "number in km/h, 0–1000" or "string of 1–16 characters": what a device maker needs to send the reading right. */
function describeReading(name: ReadingName): string {
  const definition: ReadingDefinition = READINGS[name];
  if (definition.type === 'string') return `string of ${definition.minLength}–${definition.maxLength} characters`;
  return `${definition.type === 'integer' ? 'integer' : 'number'} in ${definition.unit}, ${definition.min}–${definition.max}`;
}

/**
 * What is wrong with a capture's readings for its violation type and the kind of device that
 * sent them (undefined when the device is unknown), each problem a phrase a device maker can act on; empty when they match the schema. The phrases are read off the
 * schema's own issues, so they cannot accept what the published schema refuses.
 */
export function readingProblems(
  violationType: string,
  readings: Readonly<Record<string, unknown>>,
  deviceKind: DeviceKind | undefined,
): string[] {
  if (!isViolationType(violationType)) {
    return [`no reading schema for violation type ${violationType}; known types: ${VIOLATION_TYPES.join(', ')}`];
  }
  const kindProblem =
    deviceKind && !REPORTED_BY[violationType].includes(deviceKind)
      ? [`a ${deviceKind} does not report ${violationType} (reported by ${REPORTED_BY[violationType].join(', ')})`]
      : [];
  const result = READING_SCHEMAS[violationType].safeParse(readings);
  if (result.success) return kindProblem;
  // A misnamed reading shows up as one unknown and one missing name: the unknown one comes first.
  const unknown = new Set<string>();
  const wrong = new Set<string>();
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) unknown.add(`unknown reading ${key}`);
      continue;
    }
    const name = String(issue.path[0]) as ReadingName;
    const value = readings[name];
    wrong.add(
      value === undefined
        ? `missing required reading ${name} (${describeReading(name)})`
        : `reading ${name} is ${JSON.stringify(value)}, expected ${describeReading(name)}`,
    );
  }
  return [...kindProblem, ...unknown, ...wrong];
}

const speedAndLimit = z.object({ speedKmh: FIELDS.speedKmh, limitKmh: FIELDS.limitKmh });

/** The measured speed and the limit in force, when the readings carry both as the schema defines them. */
export function speedReadings(readings: Readonly<Record<string, unknown>> | undefined): { speedKmh: number; limitKmh: number } | undefined {
  const parsed = speedAndLimit.safeParse(readings);
  return parsed.success ? parsed.data : undefined;
}

/**
 * The JSON Schema of a manifest's `violationType` and `readings` (docs/reading-schemas.json):
 * one branch per violation type, so any JSON Schema validator checks a device's output.
 */
export function readingsJsonSchema(): Record<string, unknown> {
  const branches = VIOLATION_TYPES.map((type) =>
    z
      .looseObject({ violationType: z.literal(type), readings: READING_SCHEMAS[type] })
      .meta({ title: type, deviceKinds: REPORTED_BY[type] }),
  );
  const [first, ...rest] = branches;
  if (!first) throw new Error('no violation types');
  const { $schema, ...schema } = z.toJSONSchema(z.discriminatedUnion('violationType', [first, ...rest]));
  return {
    $schema,
    title: 'Verity manifest readings',
    description:
      'The violationType and readings members of a verity manifest (docs/protocol.md, Readings); deviceKinds names the kinds of registered device that may report each type. Other manifest members are not described here.',
    ...schema,
  };
}
