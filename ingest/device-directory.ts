import { createPublicKey, type KeyObject } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { RegisteredDevice } from '../core/domain/capture-verifier.js';
import type { Db, Tx } from '../db/client.js';
import { certificationsOfDevice } from '../db/devices.js';
import { deviceKeys, devices } from '../db/schema.js';

/**
 * Looks devices up for the gateway. Status, key history and certifications are read fresh
 * for every capture (a revocation or rotation must bite at once); only the parsed key is cached, because parsing a
 * PEM costs as much as the signature check itself.
 */
export class DeviceDirectory {
  private readonly keys = new Map<string, KeyObject>();

  constructor(private readonly db: Db) {}

  /** `executor` lets a caller inside a transaction read through it (PGlite has one connection). */
  async find(deviceId: string, executor: Db | Tx = this.db): Promise<RegisteredDevice | undefined> {
    const [device] = await executor.select().from(devices).where(eq(devices.id, deviceId));
    if (!device) return undefined;
    const certifications = (await certificationsOfDevice(executor, deviceId)).map(
      ({ kind, reference, validFrom, validTo, recordedAt, confirmedAt }) => ({
        kind,
        reference,
        validFrom,
        validTo,
        recordedAt,
        confirmedAt,
      }),
    );
    const history = await executor
      .select({
        publicKeyPem: deviceKeys.publicKeyPem,
        fingerprint: deviceKeys.fingerprint,
        validFrom: deviceKeys.validFrom,
        validTo: deviceKeys.validTo,
      })
      .from(deviceKeys)
      .where(eq(deviceKeys.deviceId, deviceId));
    const publicKey = this.keyFor(device.publicKeyPem);
    // A device row written without the registry (fixtures, a hand-made import) has no history:
    // its one key then counts for every capture time.
    const keys =
      history.length > 0
        ? history.map(({ publicKeyPem, ...period }) => ({ ...period, publicKey: this.keyFor(publicKeyPem) }))
        : [{ publicKey, fingerprint: 'current', validFrom: new Date(0), validTo: null }];
    return { id: device.id, kind: device.kind, status: device.status, publicKey, keys, certifications };
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
