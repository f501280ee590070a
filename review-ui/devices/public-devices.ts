import type { Db } from '../../db/client.js';
import { listPublishedDevices as publishedDevicesAt, type PublishedDevice } from '../../db/devices.js';

export type { PublishedDevice };

/**
 * Devices the public may know about (law L1: a location is published before the device is
 * used): enabled, with a location publication valid at `at`.
 */
export async function listPublishedDevices(db: Db, at: Date): Promise<PublishedDevice[]> {
  return publishedDevicesAt(db, at);
}
