import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildManifest, signManifest } from '../../device-simulator/device-protocol.js';
import { sha256Hex } from '../infrastructure/media-store.js';
import { describeDifferences, mediaDifferences, signedEvidenceOf, type StoredCapture } from './signed-evidence.js';

const keys = generateKeyPairSync('ed25519');
const capturedAt = new Date('2026-11-30T08:15:00.000Z');
const manifest = buildManifest({
  deviceId: 'cam-7',
  capturedAt,
  clockOffsetMs: 3,
  location: { latitude: 22.54, longitude: 114.06 },
  violationType: 'speeding',
  readings: { speedKmh: 75, limitKmh: 60, plate: '粤B12345' },
  media: [{ name: 'frame-1.jpg', contentType: 'image/jpeg', capturedAt, bytes: Buffer.from('frame') }],
});
const signed = signManifest(manifest, keys.privateKey, []);

/** The row the gateway writes for this message: every copy agrees with the signed bytes. */
function faithfulRow(): StoredCapture {
  return {
    messageSha256: sha256Hex(signed.envelope),
    rawMessage: signed.envelope,
    deviceId: manifest.deviceId,
    deviceCaptureId: manifest.captureId,
    violationType: manifest.violationType,
    capturedAt,
    latitude: manifest.location.latitude,
    longitude: manifest.location.longitude,
    manifest: JSON.parse(JSON.stringify(manifest)) as unknown,
  };
}

describe('signedEvidenceOf: the signed bytes decide, the row is only a copy', () => {
  it('finds nothing to report in a faithful row', () => {
    const evidence = signedEvidenceOf(faithfulRow());
    expect(evidence).toMatchObject({ readable: true, differences: [] });
  });

  it('names every edited column with both values', () => {
    const edits: [keyof StoredCapture, unknown][] = [
      ['deviceId', 'cam-8'],
      ['deviceCaptureId', '00000000-0000-4000-8000-000000000000'],
      ['violationType', 'parking'],
      ['capturedAt', new Date(capturedAt.getTime() + 1)],
      ['latitude', 22.55],
      ['longitude', 0],
      ['messageSha256', '0'.repeat(64)],
    ];
    for (const [field, value] of edits) {
      const evidence = signedEvidenceOf({ ...faithfulRow(), [field]: value });
      expect(evidence.readable && evidence.differences.map((difference) => difference.field)).toEqual([field]);
    }
  });

  it('names any edited, added or removed manifest field by its path', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('readings.speedKmh', 'readings.plate', 'location.latitude', 'clockOffsetMs', 'readings.extra'),
        fc.oneof(fc.integer(), fc.string()),
        (path, value) => {
          const copy = JSON.parse(JSON.stringify(manifest)) as Record<string, Record<string, unknown>>;
          const [head, tail] = path.split('.') as [string, string | undefined];
          if (tail) copy[head]![tail] = value;
          else (copy as Record<string, unknown>)[head] = value;
          const original = tail ? (manifest as unknown as Record<string, Record<string, unknown>>)[head]![tail] : manifest.clockOffsetMs;
          const evidence = signedEvidenceOf({ ...faithfulRow(), manifest: copy });
          const expected = value === original ? [] : [`manifest.${path}`];
          expect(evidence.readable && evidence.differences.map((difference) => difference.field)).toEqual(expected);
        },
      ),
    );
    const removed = JSON.parse(JSON.stringify(manifest)) as { readings: Record<string, unknown> };
    delete removed.readings.plate;
    const evidence = signedEvidenceOf({ ...faithfulRow(), manifest: removed });
    expect(evidence.readable && describeDifferences(evidence.differences)).toBe(
      'manifest.readings.plate: the database says nothing, the device signed "粤B12345"',
    );
  });

  it('reports unreadable signed bytes instead of trusting the copy', () => {
    const evidence = signedEvidenceOf({ ...faithfulRow(), rawMessage: Buffer.from('{"manifest":"e30=","signature":"e30="}') });
    expect(evidence.readable).toBe(false);
  });

  it('compares the linked media with the signed list, both ways', () => {
    const item = manifest.media[0]!;
    expect(mediaDifferences(manifest, [{ name: item.name, sha256: item.sha256 }])).toEqual([]);
    expect(mediaDifferences(manifest, [{ name: item.name, sha256: 'f'.repeat(64) }])).toEqual([
      { field: `media.${item.name}`, stored: 'f'.repeat(64), signed: item.sha256 },
    ]);
    expect(mediaDifferences(manifest, []).map((difference) => difference.field)).toEqual([`media.${item.name}`]);
    expect(
      mediaDifferences(manifest, [
        { name: item.name, sha256: item.sha256 },
        { name: 'extra.jpg', sha256: 'a'.repeat(64) },
      ]),
    ).toEqual([{ field: 'media.extra.jpg', stored: 'a'.repeat(64), signed: null }]);
  });
});
