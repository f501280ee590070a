/**
 * Malfunction windows (law L4): no penalty may rest on a record taken while the device was not
 * working properly. A window is half-open, [startsAt, endsAt); an open-ended window (endsAt
 * null) covers everything from its start on, until someone closes it.
 */
export const WINDOW_SOURCES = [
  'device_reported',
  'operator',
  'heartbeat_silence',
  'self_test_failed',
  'verification_expired',
  'clock_offset',
  'sensor_out_of_range',
  'sensor_stuck',
  'capture_rate_jump',
] as const;

export type WindowSource = (typeof WINDOW_SOURCES)[number];

export interface MalfunctionWindow {
  id: string;
  deviceId: string;
  source: WindowSource;
  startsAt: Date;
  endsAt: Date | null;
  reason: string;
  /** A window withdrawn as a false alarm no longer excludes anything, but stays on record. */
  withdrawnAt?: Date | null;
}

/** Whether `window` covers the instant `at`. */
export function windowCovers(window: MalfunctionWindow, at: Date): boolean {
  if (window.withdrawnAt) return false;
  const time = at.getTime();
  return window.startsAt.getTime() <= time && (window.endsAt === null || time < window.endsAt.getTime());
}

/** Every active window of `deviceId` that covers `capturedAt`, earliest first. */
export function coveringWindows(windows: readonly MalfunctionWindow[], deviceId: string, capturedAt: Date): MalfunctionWindow[] {
  return windows
    .filter((window) => window.deviceId === deviceId && windowCovers(window, capturedAt))
    .sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime());
}
