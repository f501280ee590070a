import { createPublicKey, type KeyObject } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { RegisteredDevice } from '../core/capture-verifier.js';
import type { Db, Tx } from '../db/client.js';
import { deviceCertifications, devices } from '../db/schema.js';

/**
 * Looks devices up for the gateway. Status and certifications are read fresh for every
 * capture (a revocation must bite at once); only the parsed key is cached, because parsing a
 * PEM costs as much as the signature check itself.
 */
export class DeviceDirectory {
  private readonly keys = new Map<string, KeyObject>();

  constructor(private readonly db: Db) {}

  /** `executor` lets a caller inside a transaction read through it (PGlite has one connection). */
  async find(deviceId: string, executor: Db | Tx = this.db): Promise<RegisteredDevice | undefined> {
    const [device] = await executor.select().from(devices).where(eq(devices.id, deviceId));
    if (!device) return undefined;
    const certifications = await executor
      .select({
        kind: deviceCertifications.kind,
        reference: deviceCertifications.reference,
        validFrom: deviceCertifications.validFrom,
        validTo: deviceCertifications.validTo,
        recordedAt: deviceCertifications.recordedAt,
        confirmedAt: deviceCertifications.confirmedAt,
      })
      .from(deviceCertifications)
      .where(eq(deviceCertifications.deviceId, deviceId));
    return { id: device.id, status: device.status, publicKey: this.keyFor(device.publicKeyPem), certifications };
  }

  private keyFor(pem: string): KeyObject {
    let key = this.keys.get(pem);
    if (!key) {
      key = createPublicKey(pem);
      this.keys.set(pem, key);
    }
    return key;
  }
}
