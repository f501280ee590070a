import type { MqttClient } from 'mqtt';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../core/domain/protocol.js';
import { sha256Hex } from '../core/infrastructure/media-store.js';
import { captureMedia, media, mediaChunks } from '../db/schema.js';
import { chunkMedia, type SignedCapture } from '../device-simulator/device-protocol.js';
import { enrolTestDevice, type TestDevice } from '../test/support/devices.js';
import { waitFor } from '../test/support/isolated.js';
import { rowsOfCapture, signedCapture, startTestGateway, type TestGateway } from '../test/support/test-gateway.js';

const COMPLETENESS_WINDOW_MS = 1500;

/**
 * Test 9 of docs/reliability.md. Passing means: a capture whose first file arrives cut short (a
 * chunk shorter than sent, the last chunk missing, or every chunk of a shorter file) is kept
 * waiting for a repair until the completeness window ends, then quarantined naming the file
 * (media_size_mismatch with media_hash_mismatch, or media_incomplete), and every byte that
 * arrived is kept: stored under its own hash and linked to the capture, or still staged.
 * A file whose chunks join to its hash but not to its signed size is in ingest/gateway.int.test.ts.
 */
describe('truncated media', () => {
  let gateway: TestGateway;
  let camera: TestDevice;
  let device: MqttClient;

  beforeAll(async () => {
    gateway = await startTestGateway('truncated', { completenessTimeoutMs: COMPLETENESS_WINDOW_MS });
    camera = await enrolTestDevice(gateway.database.db);
    device = await gateway.connect('device');
  });

  afterAll(async () => {
    await gateway?.stop();
  });

  /** Publishes the second file whole, the first as `chunksOfFirst` makes it from its four chunks, then the envelope. */
  async function send(signed: SignedCapture, chunksOfFirst: (chunks: Buffer[]) => { chunks: (Buffer | undefined)[]; count: number }) {
    const [first, second] = signed.media;
    const [firstItem, secondItem] = signed.manifest.media;
    const { chunks, count } = chunksOfFirst(chunkMedia(first!.bytes, Math.ceil(first!.bytes.length / 4)));
    for (const [index, chunk] of chunks.entries()) {
      if (chunk)
        await device.publishAsync(topics.mediaChunk(gateway.topicRoot, camera.id, firstItem!.sha256, index, count), chunk, { qos: 1 });
    }
    await device.publishAsync(topics.mediaChunk(gateway.topicRoot, camera.id, secondItem!.sha256, 0, 1), second!.bytes, { qos: 1 });
    await device.publishAsync(topics.capture(gateway.topicRoot, camera.id), signed.envelope, { qos: 1 });
  }

  /** The capture once quarantined, and how long after its receipt that happened. */
  async function quarantined(signed: SignedCapture) {
    const sentAt = Date.now();
    const row = await waitFor('the capture to be judged', async () => {
      const [found] = await rowsOfCapture(gateway, signed.manifest.captureId);
      return found && found.state !== 'received' ? found : undefined;
    });
    expect(row.state).toBe('quarantined');
    return { row, waitedMs: Date.now() - sentAt };
  }

  /** A short file stored as it arrived, under its own hash, and linked to the capture by name. */
  async function expectKept(captureId: string, name: string, arrived: Buffer) {
    const [link] = await gateway.database.db
      .select()
      .from(captureMedia)
      .where(and(eq(captureMedia.captureId, captureId), eq(captureMedia.name, name)));
    expect(link?.mediaSha256).toBe(sha256Hex(arrived));
    const [stored] = await gateway.database.db
      .select()
      .from(media)
      .where(eq(media.sha256, sha256Hex(arrived)));
    expect(stored?.sizeBytes).toBe(arrived.length);
    expect((await gateway.store.get(sha256Hex(arrived))).equals(arrived)).toBe(true);
  }

  it('quarantines a file with one chunk cut short, after the window, for its size and hash, and keeps what arrived', async () => {
    const signed = await signedCapture(camera);
    let arrived = Buffer.alloc(0);
    await send(signed, (chunks) => {
      const cut = chunks.map((chunk, index) => (index === 1 ? chunk.subarray(0, chunk.length - 100) : chunk));
      arrived = Buffer.concat(cut);
      return { chunks: cut, count: chunks.length };
    });
    const { row, waitedMs } = await quarantined(signed);
    expect(waitedMs).toBeGreaterThanOrEqual(COMPLETENESS_WINDOW_MS - 200);
    const first = signed.manifest.media[0]!;
    expect(row.quarantineReasons).toEqual([
      { code: 'media_size_mismatch', detail: expect.stringContaining(first.name) as unknown },
      { code: 'media_hash_mismatch', detail: expect.stringContaining(first.name) as unknown },
    ]);
    await expectKept(row.id, first.name, arrived);
  });

  it('quarantines a file sent shorter than signed, in a complete set of its own chunks, and keeps what arrived', async () => {
    const signed = await signedCapture(camera);
    let arrived = Buffer.alloc(0);
    await send(signed, (chunks) => {
      const shorter = chunks.slice(0, 3);
      arrived = Buffer.concat(shorter);
      return { chunks: shorter, count: shorter.length };
    });
    const { row } = await quarantined(signed);
    const first = signed.manifest.media[0]!;
    expect(row.quarantineReasons?.map((reason) => reason.code)).toEqual(['media_size_mismatch', 'media_hash_mismatch']);
    expect(row.quarantineReasons?.[0]?.detail).toContain(`${arrived.length}`);
    await expectKept(row.id, first.name, arrived);
  });

  it('quarantines a file whose last chunk never comes as media_incomplete, after the window, keeping the chunks that came staged', async () => {
    const signed = await signedCapture(camera);
    await send(signed, (chunks) => ({ chunks: [...chunks.slice(0, -1), undefined], count: chunks.length }));
    const { row, waitedMs } = await quarantined(signed);
    expect(waitedMs).toBeGreaterThanOrEqual(COMPLETENESS_WINDOW_MS - 200);
    const first = signed.manifest.media[0]!;
    expect(row.quarantineReasons).toEqual([{ code: 'media_incomplete', detail: `missing: ${first.name}` }]);
    const staged = await gateway.database.db.select().from(mediaChunks).where(eq(mediaChunks.sha256, first.sha256));
    expect(staged.map((chunk) => chunk.chunkIndex).sort()).toEqual([0, 1, 2]);
    // The second file came whole: it is stored and linked, so the quarantined capture keeps it too.
    expect(
      (await gateway.database.db.select().from(captureMedia).where(eq(captureMedia.captureId, row.id))).map((link) => link.name),
    ).toEqual([signed.manifest.media[1]!.name]);
  });
});
