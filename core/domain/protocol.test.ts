import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ACCEPTED_PROTOCOL_VERSIONS,
  healthReportSchema,
  manifestSchema,
  MAX_CHUNK_BYTES,
  MAX_MEDIA_BYTES,
  parseDeviceTopic,
  PROTOCOL_VERSION,
  topics,
  V1_ACCEPTED_UNTIL,
} from './protocol.js';

const root = 'verity/v1';
const sha = 'ab'.repeat(32);
/** The most chunks a file of MAX_MEDIA_BYTES can need. */
const MAX_CHUNKS = Math.ceil(MAX_MEDIA_BYTES / MAX_CHUNK_BYTES);

const deviceIdArb = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/);
const sha256Arb = fc.stringMatching(/^[0-9a-f]{64}$/);
const rootArb = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}(\/[A-Za-z0-9_-]{1,12}){0,3}$/);
const chunkArb = fc
  .integer({ min: 1, max: MAX_CHUNKS })
  .chain((count) => fc.tuple(fc.integer({ min: 0, max: count - 1 }), fc.constant(count)));

describe('topics', () => {
  it('builds the documented topic names', () => {
    expect(topics.capture(root, 'cam-1')).toBe('verity/v1/devices/cam-1/captures');
    expect(topics.mediaChunk(root, 'cam-1', sha, 2, 5)).toBe(`verity/v1/devices/cam-1/media/${sha}/2/5`);
    expect(topics.ack(root, 'cam-1')).toBe('verity/v1/devices/cam-1/acks');
    expect(topics.health(root, 'cam-1')).toBe('verity/v1/devices/cam-1/health');
    expect(topics.gatewaySubscriptions(root)).toEqual([
      'verity/v1/devices/+/captures',
      'verity/v1/devices/+/media/+/+/+',
      'verity/v1/devices/+/health',
    ]);
  });
});

describe('parseDeviceTopic', () => {
  it('reads a health topic', () => {
    expect(parseDeviceTopic(root, 'verity/v1/devices/cam-1/health')).toEqual({ kind: 'health', deviceId: 'cam-1' });
    expect(parseDeviceTopic(root, 'verity/v1/devices/cam-1/health/extra')).toBeUndefined();
  });

  it('reads a captures topic', () => {
    expect(parseDeviceTopic(root, 'verity/v1/devices/cam-1/captures')).toEqual({ kind: 'capture', deviceId: 'cam-1' });
  });

  it('reads a media-chunk topic', () => {
    expect(parseDeviceTopic(root, `verity/v1/devices/cam-1/media/${sha}/3/7`)).toEqual({
      kind: 'media-chunk',
      deviceId: 'cam-1',
      sha256: sha,
      chunkIndex: 3,
      chunkCount: 7,
    });
  });

  it('accepts the largest chunk count a 64 MiB file needs, and its last index', () => {
    expect(MAX_CHUNKS).toBe(256);
    expect(parseDeviceTopic(root, topics.mediaChunk(root, 'd', sha, MAX_CHUNKS - 1, MAX_CHUNKS))).toMatchObject({
      chunkIndex: MAX_CHUNKS - 1,
      chunkCount: MAX_CHUNKS,
    });
  });

  it('does not handle its own outgoing acks topic', () => {
    expect(parseDeviceTopic(root, topics.ack(root, 'cam-1'))).toBeUndefined();
  });

  describe('rejects', () => {
    it.each([
      ['a different root', `other/v1/devices/cam-1/captures`],
      ['a root that only shares a prefix', `verity/v10/devices/cam-1/captures`],
      ['a root one level deeper', `verity/v1/x/devices/cam-1/captures`],
      ['the root without the devices level', `verity/v1/cam-1/captures`],
      ['a leading slash', `/verity/v1/devices/cam-1/captures`],
    ])('%s', (_label, topic) => {
      expect(parseDeviceTopic(root, topic)).toBeUndefined();
    });

    it.each([
      ['no device id', 'verity/v1/devices//captures'],
      ['device and nothing else', 'verity/v1/devices/cam-1'],
      ['a trailing slash', 'verity/v1/devices/cam-1/captures/'],
      ['an extra level after captures', 'verity/v1/devices/cam-1/captures/extra'],
      ['an unknown kind', 'verity/v1/devices/cam-1/photos'],
      ['a media topic without index and count', `verity/v1/devices/cam-1/media/${sha}`],
      ['a media topic without count', `verity/v1/devices/cam-1/media/${sha}/0`],
      ['a media topic with an extra level', `verity/v1/devices/cam-1/media/${sha}/0/1/2`],
      ['a media topic with an empty index', `verity/v1/devices/cam-1/media/${sha}//1`],
      ['a media topic with an empty count', `verity/v1/devices/cam-1/media/${sha}/0/`],
    ])('extra or missing levels: %s', (_label, topic) => {
      expect(parseDeviceTopic(root, topic)).toBeUndefined();
    });

    it.each([
      ['+ as device id', 'verity/v1/devices/+/captures'],
      ['# as device id', 'verity/v1/devices/#'],
      ['+ inside a device id', 'verity/v1/devices/cam+1/captures'],
      ['+ as hash', 'verity/v1/devices/cam-1/media/+/0/1'],
      ['+ as index', `verity/v1/devices/cam-1/media/${sha}/+/1`],
      ['# as count', `verity/v1/devices/cam-1/media/${sha}/0/#`],
    ])('wildcards: %s', (_label, topic) => {
      expect(parseDeviceTopic(root, topic)).toBeUndefined();
    });

    it.each([
      ['a device id starting with a dot', '.cam'],
      ['a device id starting with a dash', '-cam'],
      ['a device id of 65 characters', 'a'.repeat(65)],
      ['a device id with a space', 'cam 1'],
      ['a device id with non-ASCII letters', 'camé'],
    ])('%s', (_label, deviceId) => {
      expect(parseDeviceTopic(root, `verity/v1/devices/${deviceId}/captures`)).toBeUndefined();
    });

    it.each([
      ['uppercase hex', 'AB'.repeat(32)],
      ['one uppercase digit', `${'a'.repeat(63)}F`],
      ['63 hex digits', 'a'.repeat(63)],
      ['65 hex digits', 'a'.repeat(65)],
      ['a non-hex letter', `${'a'.repeat(63)}g`],
    ])('a sha256 with %s', (_label, hash) => {
      expect(parseDeviceTopic(root, `verity/v1/devices/cam-1/media/${hash}/0/1`)).toBeUndefined();
    });

    it.each([
      ['a non-numeric index', 'x', '1'],
      ['a negative index', '-1', '2'],
      ['a fractional index', '0.5', '2'],
      ['an exponent index', '1e0', '2'],
      ['a hex index', '0x1', '2'],
      ['an index with a plus sign', '+1', '2'],
      ['an index with whitespace', ' 1', '2'],
      ['an index equal to the count', '3', '3'],
      ['an index above the count', '4', '3'],
      ['a zero count', '0', '0'],
      ['a negative count', '0', '-1'],
      ['a non-numeric count', '0', 'many'],
      ['a fractional count', '0', '1.5'],
      ['an exponent count', '0', '1e1'],
      ['a count one above the maximum', '0', String(MAX_CHUNKS + 1)],
      ['a huge count', '0', '99999999999999999999'],
      ['Infinity', '0', 'Infinity'],
    ])('%s', (_label, index, count) => {
      expect(parseDeviceTopic(root, `verity/v1/devices/cam-1/media/${sha}/${index}/${count}`)).toBeUndefined();
    });
  });

  describe('properties', () => {
    it('every captures topic the builder makes parses back to its device', () => {
      fc.assert(
        fc.property(rootArb, deviceIdArb, (topicRoot, deviceId) => {
          expect(parseDeviceTopic(topicRoot, topics.capture(topicRoot, deviceId))).toEqual({ kind: 'capture', deviceId });
        }),
      );
    });

    it('every media-chunk topic the builder makes parses back to its parts', () => {
      fc.assert(
        fc.property(rootArb, deviceIdArb, sha256Arb, chunkArb, (topicRoot, deviceId, sha256, [chunkIndex, chunkCount]) => {
          expect(parseDeviceTopic(topicRoot, topics.mediaChunk(topicRoot, deviceId, sha256, chunkIndex, chunkCount))).toEqual({
            kind: 'media-chunk',
            deviceId,
            sha256,
            chunkIndex,
            chunkCount,
          });
        }),
      );
    });

    it('no acks topic is ever taken for a device-originated one', () => {
      fc.assert(
        fc.property(rootArb, deviceIdArb, (topicRoot, deviceId) => {
          expect(parseDeviceTopic(topicRoot, topics.ack(topicRoot, deviceId))).toBeUndefined();
        }),
      );
    });

    it('a topic under another root is never parsed', () => {
      fc.assert(
        fc.property(rootArb, rootArb, deviceIdArb, (topicRoot, otherRoot, deviceId) => {
          fc.pre(otherRoot !== topicRoot);
          expect(parseDeviceTopic(topicRoot, topics.capture(otherRoot, deviceId))).toBeUndefined();
        }),
      );
    });

    it('an index at or beyond the count is never accepted', () => {
      fc.assert(
        fc.property(
          deviceIdArb,
          sha256Arb,
          fc.integer({ min: 1, max: MAX_CHUNKS }),
          fc.integer({ min: 0, max: 1000 }),
          (deviceId, sha256, count, excess) => {
            expect(parseDeviceTopic(root, topics.mediaChunk(root, deviceId, sha256, count + excess, count))).toBeUndefined();
          },
        ),
      );
    });

    it('a count above the maximum is never accepted', () => {
      fc.assert(
        fc.property(deviceIdArb, sha256Arb, fc.integer({ min: MAX_CHUNKS + 1, max: 2 ** 40 }), (deviceId, sha256, count) => {
          expect(parseDeviceTopic(root, topics.mediaChunk(root, deviceId, sha256, 0, count))).toBeUndefined();
        }),
      );
    });

    it('whatever it accepts is exactly what a builder makes (leading zeros in numbers aside)', () => {
      // Position-wise near-misses: each level is either what the protocol wants there or something close to it.
      const mostly = <T>(good: readonly T[], bad: readonly T[]) =>
        fc.oneof({ arbitrary: fc.constantFrom(...good), weight: 4 }, { arbitrary: fc.constantFrom(...bad), weight: 1 });
      const device = mostly(['cam', 'x.y', '0'], ['', '+', '#', '-x', 'a'.repeat(65)]);
      const kind = mostly(['captures', 'media'], ['acks', 'Captures', '']);
      const hash = mostly([sha], ['AB'.repeat(32), 'a'.repeat(63), '+', '']);
      const number = mostly(['0', '00', '1', '01', '7', '255', '256'], ['257', '-1', '1.0', '1e1', '+', '']);
      const extra = fc.array(fc.constantFrom('x', '', '0'), { maxLength: 1 });
      const levels = fc.oneof(
        fc.tuple(device, kind, extra).map(([d, k, e]) => [d, k, ...e]),
        fc.tuple(device, kind, hash, number, number, extra).map(([d, k, h, i, c, e]) => [d, k, h, i, c, ...e]),
        fc.tuple(device, kind, hash, number).map((l) => [...l]),
      );
      let accepted = 0;
      fc.assert(
        fc.property(levels, (topicLevels) => {
          const topic = `${root}/devices/${topicLevels.join('/')}`;
          const parsed = parseDeviceTopic(root, topic);
          if (parsed === undefined) return;
          accepted++;
          if (parsed.kind === 'capture') {
            expect(topics.capture(root, parsed.deviceId)).toBe(topic);
            return;
          }
          if (parsed.kind === 'health') {
            expect(topics.health(root, parsed.deviceId)).toBe(topic);
            return;
          }
          const withoutLeadingZeros = [...topicLevels.slice(0, 3), ...topicLevels.slice(3).map((n) => String(Number(n)))];
          expect(topics.mediaChunk(root, parsed.deviceId, parsed.sha256, parsed.chunkIndex, parsed.chunkCount)).toBe(
            `${root}/devices/${withoutLeadingZeros.join('/')}`,
          );
        }),
        { numRuns: 3000 },
      );
      // Guards against a generator that never reaches the accepting paths.
      expect(accepted).toBeGreaterThan(50);
    });
  });
});

describe('protocol versions', () => {
  const manifest = (protocol: string) => ({
    protocol,
    captureId: '3f1c2b7a-9d4e-4c1a-8b2f-1e2d3c4b5a69',
    deviceId: 'cam-1',
    capturedAt: '2026-12-03T10:00:00Z',
    clockOffsetMs: 0,
    location: { latitude: 22.5, longitude: 114.05 },
    violationType: 'speeding',
    readings: {},
    media: [{ name: 'f.jpg', sha256: 'a'.repeat(64), sizeBytes: 1, contentType: 'image/jpeg', capturedAt: '2026-12-03T10:00:00Z' }],
  });
  const heartbeat = (protocol: string) => ({ protocol, deviceId: 'cam-1', kind: 'heartbeat', reportedAt: '2026-12-03T10:00:00Z' });

  it('reads manifests and health reports of version 2 and of the deprecated version 1, and no other', () => {
    expect(PROTOCOL_VERSION).toBe('verity/2');
    expect(ACCEPTED_PROTOCOL_VERSIONS).toEqual(['verity/1', 'verity/2']);
    for (const version of ACCEPTED_PROTOCOL_VERSIONS) {
      expect(manifestSchema.safeParse(manifest(version)).success).toBe(true);
      expect(healthReportSchema.safeParse(heartbeat(version)).success).toBe(true);
    }
    for (const version of ['verity/3', 'verity/0', 'VERITY/2', '']) {
      expect(manifestSchema.safeParse(manifest(version)).success).toBe(false);
      expect(healthReportSchema.safeParse(heartbeat(version)).success).toBe(false);
    }
  });

  it('refuses an upper-case captureId in version 2, where one UUID in two spellings would be two captures, and keeps reading it in version 1', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.constantFrom(...ACCEPTED_PROTOCOL_VERSIONS), (uuid, version) => {
        const lower = manifestSchema.safeParse({ ...manifest(version), captureId: uuid.toLowerCase() });
        expect(lower.success).toBe(true);
        const upper = uuid.toUpperCase();
        if (upper === uuid.toLowerCase()) return;
        const parsed = manifestSchema.safeParse({ ...manifest(version), captureId: upper });
        expect(parsed.success).toBe(version === 'verity/1');
        if (!parsed.success) expect(parsed.error.issues[0]?.message).toBe('captureId: write the UUID in lower case');
      }),
    );
  });

  it('announces in docs/protocol.md the last day version 1 is accepted', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../docs/protocol.md', import.meta.url)), 'utf8');
    expect(doc).toContain(`The gateway still accepts \`verity/1\` until **${V1_ACCEPTED_UNTIL}**`);
  });
});

describe('date-times', () => {
  const heartbeat = (reportedAt: string) =>
    healthReportSchema.safeParse({ protocol: 'verity/1', deviceId: 'cam-1', kind: 'heartbeat', reportedAt });
  const instantArb = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true });

  it('reads RFC 3339 times with a lower-case t and z as the same instant as upper case', () => {
    fc.assert(
      fc.property(instantArb, fc.boolean(), fc.boolean(), (instant, lowerT, lowerZ) => {
        let written = instant.toISOString();
        if (lowerT) written = written.replace('T', 't');
        if (lowerZ) written = written.replace('Z', 'z');
        const parsed = heartbeat(written);
        expect(parsed.success).toBe(true);
        expect(new Date(parsed.data!.reportedAt).getTime()).toBe(instant.getTime());
      }),
    );
  });

  it('reads a lower-case t with a numeric offset, and still refuses what is not a date-time', () => {
    expect(heartbeat('2026-12-02t17:30:00+08:00').success).toBe(true);
    for (const wrong of ['2026-13-02t17:30:00z', '2026-12-02 17:30:00', '2026-12-02t17:30:00', 'yesterday'])
      expect(heartbeat(wrong).success, wrong).toBe(false);
  });
});
