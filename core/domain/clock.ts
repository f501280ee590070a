/**
 * The one source of "now" for the statutory clocks (docs/party.md lists which parts read it):
 * a rule that takes days can then be tested, or shown in a demo, by moving this clock instead
 * of waiting. Code that only measures how long something took keeps reading the real time.
 */
export interface Clock {
  now(): Date;
}

/** The real time. */
export const systemClock: Clock = { now: () => new Date() };

/** A clock that stands still until moved, for tests of rules that take days. */
export class TestClock implements Clock {
  private current: number;

  constructor(start: Date = new Date()) {
    this.current = start.getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  /** Moves the clock on by `ms` (never back: no statutory clock runs backwards). */
  advance(ms: number): Date {
    if (ms < 0) throw new Error('a test clock only moves forwards');
    this.current += ms;
    return this.now();
  }
}
