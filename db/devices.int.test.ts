import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertificationKind } from '../core/domain/certification.js';
import { createTestDatabase, uniqueName } from '../test/support/isolated.js';
import {
  insertCertification,
  insertDevice,
  listLapsingCertifications,
  listPublishedDevices,
  setDeviceStatus,
  type DeviceStatus,
} from './devices.js';

const DAY = 24 * 3600 * 1000;
/** Far from the wall clock, so nothing another record or default timestamp does can fall in the periods tested. */
const AT = new Date('2031-03-01T00:00:00Z');
const day = (offset: number) => new Date(AT.getTime() + offset * DAY);

describe('device repository queries over a real Postgres', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    database = await createTestDatabase('db_devices');
  });

  afterAll(async () => {
    await database?.drop();
  });

  /** A device with the given status and certification periods, in days from AT. */
  async function device(status: DeviceStatus, periods: [CertificationKind, number, number][]): Promise<string> {
    const id = uniqueName('dev').replaceAll('_', '-').slice(0, 60);
    await database.db.transaction(async (tx) => {
      await insertDevice(
        tx,
        {
          id,
          kind: 'traffic_camera',
          model: 'Cam 7',
          serial: `SERIAL-${id}`,
          agency: 'City Traffic Police',
          publicKeyPem: `PEM-${id}`,
          road: 'Harbour Road',
          direction: 'eastbound',
          latitude: 22.54,
          longitude: 114.05,
        },
        { deviceId: id, publicKeyPem: `PEM-${id}`, fingerprint: `FP-${id}`, validFrom: day(-1000), reason: 'enrolment' },
      );
      for (const [index, [kind, from, to]] of periods.entries()) {
        await insertCertification(tx, { deviceId: id, kind, reference: `${kind}-${index}`, validFrom: day(from), validTo: day(to) });
      }
      if (status !== 'enabled') await setDeviceStatus(tx, id, status);
    });
    return id;
  }

  it('lists certifications ending soon that no record of the same kind for the same device renews', async () => {
    const a = await device('enabled', [
      ['metrological_verification', -300, 10],
      // Renewed before it ends: the successor overlaps.
      ['signage', -300, 10],
      ['signage', 5, 400],
      // Renewed exactly when it ends: adjoining periods leave no gap.
      ['technical_review', -300, 10],
      ['technical_review', 10, 400],
      // A successor a day late leaves a gap, so the old one still lapses.
      ['legal_review', -300, 10],
      ['legal_review', 11, 400],
      // Ends exactly at AT (already over) or after the horizon: not lapsing in the period.
      ['location_publication', -300, 0],
      ['location_publication', 31, 400],
    ]);
    // A's record of this kind covers the moment B's ends, yet renews only A's.
    const b = await device('enabled', [['metrological_verification', -300, 30]]);
    await device('enabled', [['metrological_verification', 15, 400]]);
    const revoked = await device('revoked', [['metrological_verification', -300, 10]]);

    const lapsing = await listLapsingCertifications(database.db, AT, day(30));
    const ours = lapsing.filter((row) => [a, b, revoked].includes(row.deviceId));

    expect(ours.map(({ deviceId, kind, validTo }) => ({ deviceId, kind, validTo }))).toEqual([
      { deviceId: a, kind: 'legal_review', validTo: day(10) },
      { deviceId: a, kind: 'metrological_verification', validTo: day(10) },
      { deviceId: b, kind: 'metrological_verification', validTo: day(30) },
    ]);
  });

  it('publishes enabled devices whose location publication covers the moment, since the earliest covering record', async () => {
    const published = await device('enabled', [
      ['location_publication', -500, -400],
      ['location_publication', -100, 100],
      ['location_publication', -20, 200],
    ]);
    const startsNow = await device('enabled', [['location_publication', 0, 100]]);
    const endedNow = await device('enabled', [['location_publication', -100, 0]]);
    const disabled = await device('disabled', [['location_publication', -100, 100]]);
    const otherKindOnly = await device('enabled', [['metrological_verification', -100, 100]]);
    const ids = [published, startsNow, endedNow, disabled, otherKindOnly];

    const list = await listPublishedDevices(database.db, AT);
    const ours = list.filter((row) => ids.includes(row.id));

    expect(ours.map(({ id, publishedSince }) => ({ id, publishedSince }))).toEqual(
      [
        { id: published, publishedSince: day(-100) },
        { id: startsNow, publishedSince: day(0) },
      ].sort((x, y) => x.id.localeCompare(y.id)),
    );
    // Only public columns leave the query.
    expect(Object.keys(ours[0]!).sort()).toEqual(['agency', 'direction', 'id', 'kind', 'latitude', 'longitude', 'publishedSince', 'road']);
  });
});
