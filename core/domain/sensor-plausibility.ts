import { READINGS, type ReadingDefinition } from './reading-schemas.js';

/**
 * Physical plausibility of sensor readings: a reading outside what the quantity can be, or a
 * sensor repeating one value far longer than real traffic or air ever would, is a fault.
 */
export interface ReadingLimits {
  min: number;
  max: number;
  /** Identical consecutive values beyond this count mean the sensor is stuck. */
  maxIdenticalRun: number;
}

/** The measured readings with a physical range, from the reading schemas (core/domain/reading-schemas.ts). */
export const READING_LIMITS: Readonly<Record<string, ReadingLimits>> = Object.fromEntries(
  Object.entries(READINGS as Record<string, ReadingDefinition>).flatMap(([name, definition]) =>
    definition.type !== 'string' && definition.plausible ? [[name, definition.plausible]] : [],
  ),
);

/** Names of readings outside their physical range, with the value and the range. */
export function outOfRange(readings: Readonly<Record<string, number | string | boolean>>): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(readings)) {
    const limits = READING_LIMITS[name];
    if (!limits || typeof value !== 'number') continue;
    if (value < limits.min || value > limits.max) problems.push(`${name} ${value} outside ${limits.min}–${limits.max}`);
  }
  return problems;
}

/** Length of the run of identical values at the end of `values` (most recent last). */
export function trailingIdenticalRun(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const last = values[values.length - 1];
  let run = 0;
  for (let index = values.length - 1; index >= 0 && values[index] === last; index--) run++;
  return run;
}
