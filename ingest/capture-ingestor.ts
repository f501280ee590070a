import { and, eq, sql } from 'drizzle-orm';
import sharp from 'sharp';
import { checkCaptureTiming, DEFAULT_CAPTURE_POLICY, type CapturePolicy } from '../core/domain/capture-policy.js';
import {
  checkDeviceStanding,
  checkMediaFile,
  checkProvenance,
  checkReadings,
  readEnvelope,
  UNTRUSTED_PROVENANCE,
} from '../core/domain/capture-verifier.js';
import { checkEvidenceMinimum, type MediaFacts } from '../core/domain/evidence-minimum.js';
import { mediaJobFor, screeningJobFor } from '../core/domain/capture-jobs.js';
import { sha256Hex, type MediaStore } from '../core/infrastructure/media-store.js';
import { assembleStaged } from '../core/domain/chunk-assembly.js';
import {
  MAX_CAPTURE_MESSAGE_BYTES,
  MAX_CHUNK_BYTES,
  type AckReason,
  type Acknowledgement,
  type Manifest,
  type ProtocolVersion,
} from '../core/domain/protocol.js';
import { messageProtocol } from '../core/domain/signed-ack.js';
import { reason, type QuarantineReason } from '../core/domain/quarantine-reasons.js';
import { appendAudit } from '../db/audit-log.js';
import type { Db, Tx } from '../db/client.js';
import { captureMedia, captures, media, mediaChunks, outbox } from '../db/schema.js';
import { changeCaptureState, newCapture } from '../db/captures.js';
import { expireStagedChunks, type ExpiredChunkSet } from '../db/staged-chunks.js';
import type { DeviceDirectory } from './device-directory.js';

const GATEWAY_ACTOR = 'system:ingest-gateway';

type CaptureRow = typeof captures.$inferSelect;
type StoredMedia = Pick<typeof media.$inferSelect, 'sha256' | 'sizeBytes' | 'width' | 'height'>;

/** Reads an image's size from its header; null when it cannot be decoded (flagged, not fatal). */
async function imageSize(bytes: Buffer, contentType: string): Promise<{ width: number | null; height: number | null }> {
  if (!contentType.startsWith('image/')) return { width: null, height: null };
  try {
    const metadata = await sharp(bytes).metadata();
    return { width: metadata.width ?? null, height: metadata.height ?? null };
  } catch {
    return { width: null, height: null };
  }
}

export interface IngestResult {
  /** Whether this call committed anything new; false for a redelivered duplicate. */
  stored: boolean;
  ack: Acknowledgement;
  /** The version of the message answered: a v1 device gets the plain v1 acknowledgement it can read. */
  answers: ProtocolVersion;
  deviceId: string | undefined;
}

function ackFor(row: Pick<CaptureRow, 'deviceCaptureId' | 'messageSha256' | 'state' | 'quarantineReasons'>): Acknowledgement {
  return {
    about: 'capture',
    captureId: row.deviceCaptureId,
    messageSha256: row.messageSha256,
    status: row.state === 'quarantined' ? 'quarantined' : row.state === 'received' ? 'pending' : 'accepted',
    reasons: row.quarantineReasons ?? [],
  };
}

function answerFor(row: CaptureRow): Pick<IngestResult, 'ack' | 'answers'> {
  return { ack: ackFor(row), answers: messageProtocol(row.rawMessage) };
}

/**
 * The gateway's I/O around the pure checks in core/domain/capture-verifier.ts. Every message that
 * reaches `ingestCapture` ends as a capture row: verified, quarantined with its reasons, or
 * received and waiting for its media. Each call commits before it returns, so the caller can
 * acknowledge the MQTT message afterwards and a crash never loses an acknowledged capture.
 */
export class CaptureIngestor {
  constructor(
    private readonly db: Db,
    private readonly store: MediaStore,
    private readonly directory: DeviceDirectory,
    private readonly policy: CapturePolicy = DEFAULT_CAPTURE_POLICY,
  ) {}

  async ingestCapture(topicDeviceId: string, payload: Buffer): Promise<IngestResult> {
    const messageSha256 = sha256Hex(payload);
    const existing = await this.findByMessage(messageSha256);
    if (existing) {
      // A redelivery after a crash between receipt and completion: finish what was started.
      const completion = existing.state === 'received' ? await this.tryComplete(existing.id) : undefined;
      const current = completion?.row ?? existing;
      return { stored: completion?.completedNow ?? false, ...answerFor(current), deviceId: current.deviceId ?? topicDeviceId };
    }

    if (payload.length > MAX_CAPTURE_MESSAGE_BYTES) {
      return this.quarantine(messageSha256, payload, { deviceId: topicDeviceId }, [
        reason('message_malformed', `capture message is ${payload.length} bytes, over the ${MAX_CAPTURE_MESSAGE_BYTES}-byte limit`),
      ]);
    }
    const reading = readEnvelope(payload);
    if (!reading.ok) {
      return this.quarantine(messageSha256, payload, { deviceId: topicDeviceId, captureId: reading.claimed.captureId }, reading.reasons);
    }
    const { manifest } = reading;
    const device = await this.directory.find(manifest.deviceId);
    const provenance = checkProvenance({
      topicDeviceId,
      ...reading,
      device,
      receivedAt: new Date(),
      keyRotationOverlapMs: this.policy.keyRotationOverlapMs,
    });
    if (provenance.some((problem) => UNTRUSTED_PROVENANCE.has(problem.code))) {
      // Filed under, and answered on, the topic it came from: the broker vouches for the topic
      // (each device may publish only under its own id), while the manifest's claim is unproven.
      return this.quarantine(messageSha256, payload, { deviceId: topicDeviceId, captureId: manifest.captureId, manifest }, [
        ...provenance,
        ...checkCaptureTiming(manifest, new Date(), this.policy),
      ]);
    }

    const inserted = await this.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(captures)
        .values(newCapture({ ...this.captureColumns(messageSha256, payload, manifest), state: 'received' as const }, 'gateway'))
        .onConflictDoNothing()
        .returning();
      if (row) {
        await appendAudit(tx, {
          actor: GATEWAY_ACTOR,
          action: 'capture.received',
          subjectType: 'capture',
          subjectId: row.id,
          details: { deviceId: manifest.deviceId, deviceCaptureId: manifest.captureId, messageSha256 },
        });
      }
      return row;
    });
    if (!inserted) {
      // Either another gateway stored this very message a moment ago, or an accepted capture
      // already holds this capture id: the second is a replay and is kept as such.
      const raced = await this.findByMessage(messageSha256);
      if (raced) return { stored: false, ...answerFor(raced), deviceId: manifest.deviceId };
      return this.quarantine(messageSha256, payload, { deviceId: manifest.deviceId, captureId: manifest.captureId, manifest }, [
        reason('replayed', `capture id ${manifest.captureId} was already accepted from a different message`),
      ]);
    }
    const completion = await this.tryComplete(inserted.id);
    return { stored: true, ...answerFor(completion.row ?? inserted), deviceId: manifest.deviceId };
  }

  /** Stages one media chunk; returns the acknowledgements of captures this chunk completed. */
  async ingestChunk(
    chunk: { deviceId: string; sha256: string; chunkIndex: number; chunkCount: number },
    payload: Buffer,
  ): Promise<{ accepted: true; completed: IngestResult[] } | { accepted: false; reason: AckReason; completed: [] }> {
    if (payload.length === 0 || payload.length > MAX_CHUNK_BYTES) {
      const detail = `chunk of ${payload.length} bytes (allowed 1-${MAX_CHUNK_BYTES})`;
      return { accepted: false, reason: { code: 'chunk_invalid', detail }, completed: [] };
    }
    const [stored] = await this.db.select({ sha256: media.sha256 }).from(media).where(eq(media.sha256, chunk.sha256));
    if (!stored) {
      // The last copy of a chunk wins, so a device repairs a corrupt chunk by sending it again;
      // the signed file hash, checked on assembly, decides whether the repair worked.
      await this.db
        .insert(mediaChunks)
        .values({ ...chunk, data: payload })
        .onConflictDoUpdate({
          target: [mediaChunks.sha256, mediaChunks.deviceId, mediaChunks.chunkCount, mediaChunks.chunkIndex],
          set: { data: payload, receivedAt: sql`now()` },
        });
    }
    const waiting = await this.db
      .select({ id: captures.id })
      .from(captures)
      .where(
        and(
          eq(captures.state, 'received'),
          eq(captures.deviceId, chunk.deviceId),
          sql`${captures.manifest}->'media' @> ${JSON.stringify([{ sha256: chunk.sha256 }])}::jsonb`,
        ),
      );
    const completed: IngestResult[] = [];
    for (const { id } of waiting) {
      const { row, completedNow } = await this.tryComplete(id);
      if (row && completedNow) completed.push({ stored: true, ...answerFor(row), deviceId: row.deviceId ?? undefined });
    }
    return { accepted: true, completed };
  }

  /** Expires the chunk sets whose newest chunk is older than `keepMs`; see db/staged-chunks.ts. */
  expireStagedChunks(keepMs: number): Promise<ExpiredChunkSet[]> {
    return expireStagedChunks(this.db, new Date(Date.now() - keepMs), GATEWAY_ACTOR);
  }

  /**
   * Completes every received capture whose media is all there (a crash can leave one behind
   * with its chunks already acknowledged), and quarantines those still incomplete after `timeoutMs`.
   */
  async sweepReceived(timeoutMs: number): Promise<IngestResult[]> {
    const waiting = await this.db
      .select({ id: captures.id, receivedAt: captures.receivedAt })
      .from(captures)
      .where(eq(captures.state, 'received'));
    const staleBefore = Date.now() - timeoutMs;
    const results: IngestResult[] = [];
    for (const { id, receivedAt } of waiting) {
      const { row, completedNow } = await this.tryComplete(id, { giveUp: receivedAt.getTime() < staleBefore });
      if (row && completedNow) results.push({ stored: true, ...answerFor(row), deviceId: row.deviceId ?? undefined });
    }
    return results;
  }

  /**
   * Finishes a received capture once every media file it names is available: assembles and
   * checks each file, stores it, and moves the capture to verified or quarantined. The row
   * lock makes concurrent completions (last chunk vs. manifest, two gateways) happen once, and
   * `completedNow` tells the one caller that did it, so only it acknowledges and dispatches.
   */
  private async tryComplete(
    captureId: string,
    options: { giveUp?: boolean } = {},
  ): Promise<{ row: CaptureRow | undefined; completedNow: boolean }> {
    return this.db.transaction(async (tx) => {
      const [capture] = await tx.select().from(captures).where(eq(captures.id, captureId)).for('update');
      if (!capture || capture.state !== 'received') return { row: capture, completedNow: false };
      const manifest = capture.manifest as Manifest;
      const missing: string[] = [];
      const files: { name: string; sha256: string }[] = [];
      const facts: MediaFacts[] = [];
      const reasons: QuarantineReason[] = [];
      for (const item of manifest.media) {
        const available = await this.loadMedia(tx, item.sha256, item.contentType, manifest.deviceId, options.giveUp ?? false);
        if (!available) {
          missing.push(item.name);
          continue;
        }
        files.push({ name: item.name, sha256: available.sha256 });
        facts.push({ ...item, width: available.width, height: available.height });
        reasons.push(...checkMediaFile(item, available));
      }
      if (missing.length > 0) {
        if (!options.giveUp) return { row: capture, completedNow: false };
        reasons.push(reason('media_incomplete', `missing: ${missing.join(', ')}`));
      } else {
        reasons.push(...checkEvidenceMinimum(manifest.violationType, facts));
      }
      // Standing, timing and readings are judged here, with the media, so a quarantine lists every reason.
      const device = await this.directory.find(manifest.deviceId, tx);
      reasons.unshift(...checkReadings(manifest, device?.kind));
      if (!device) reasons.unshift(reason('device_unknown'));
      else if (device.status === 'revoked') reasons.unshift(reason('device_revoked'));
      else reasons.unshift(...checkDeviceStanding(device, new Date(manifest.capturedAt)));
      reasons.unshift(...checkCaptureTiming(manifest, capture.receivedAt, this.policy));

      const state = reasons.length > 0 ? 'quarantined' : 'verified';
      const updated = await changeCaptureState(tx, captureId, {
        from: 'received',
        to: state,
        by: 'gateway',
        set: { quarantineReasons: reasons.length > 0 ? reasons : null },
      });
      if (files.length > 0)
        await tx.insert(captureMedia).values(files.map((file) => ({ captureId, mediaSha256: file.sha256, name: file.name })));
      if (state === 'verified') {
        const jobs = [
          mediaJobFor(captureId),
          screeningJobFor({ id: captureId, deviceId: manifest.deviceId, capturedAt: manifest.capturedAt }),
        ];
        await tx
          .insert(outbox)
          .values(jobs.map((job) => ({ queue: job.queue, jobName: job.name, jobId: job.jobId, payload: job.payload })));
      }
      await appendAudit(tx, {
        actor: GATEWAY_ACTOR,
        action: state === 'verified' ? 'capture.verified' : 'capture.quarantined',
        subjectType: 'capture',
        subjectId: captureId,
        details: { reasons, media: files },
      });
      return { row: updated, completedNow: true };
    });
  }

  /**
   * Returns a media file's actual hash and size, assembling it from staged chunks when it is
   * not stored yet. Staged bytes that do not hash to the claimed value are waited on (a repair
   * may still come) until `giveUp`; then they are stored under their real hash so a
   * quarantined capture keeps everything that was sent.
   */
  private async loadMedia(
    tx: Tx,
    claimedSha256: string,
    contentType: string,
    deviceId: string,
    giveUp: boolean,
  ): Promise<StoredMedia | undefined> {
    const [stored] = await tx.select().from(media).where(eq(media.sha256, claimedSha256));
    if (stored) return stored;
    // Only the capture's own device's chunks count: another client's cannot stand in for them.
    const staged = and(eq(mediaChunks.sha256, claimedSha256), eq(mediaChunks.deviceId, deviceId));
    const assembled = assembleStaged(await tx.select().from(mediaChunks).where(staged), claimedSha256, giveUp);
    if (!assembled) return undefined;
    const { bytes } = assembled;
    const sha256 = await this.store.put(bytes);
    const { width, height } = await imageSize(bytes, contentType);
    await tx.insert(media).values({ sha256, sizeBytes: bytes.length, contentType, width, height }).onConflictDoNothing();
    await tx.delete(mediaChunks).where(staged);
    return { sha256, sizeBytes: bytes.length, width, height };
  }

  private captureColumns(messageSha256: string, payload: Buffer, manifest: Manifest) {
    return {
      messageSha256,
      rawMessage: payload,
      deviceId: manifest.deviceId,
      deviceCaptureId: manifest.captureId,
      violationType: manifest.violationType,
      capturedAt: new Date(manifest.capturedAt),
      latitude: manifest.location.latitude,
      longitude: manifest.location.longitude,
      manifest,
    };
  }

  private async quarantine(
    messageSha256: string,
    payload: Buffer,
    claimed: { deviceId?: string | undefined; captureId?: string | undefined; manifest?: Manifest },
    reasons: QuarantineReason[],
  ): Promise<IngestResult> {
    const row = await this.db.transaction(async (tx) => {
      const [inserted] = await tx
        .insert(captures)
        .values(
          newCapture(
            {
              ...(claimed.manifest ? this.captureColumns(messageSha256, payload, claimed.manifest) : {}),
              messageSha256,
              rawMessage: payload,
              deviceId: claimed.deviceId ?? null,
              deviceCaptureId: claimed.captureId ?? null,
              state: 'quarantined' as const,
              quarantineReasons: reasons,
            },
            'gateway',
          ),
        )
        .onConflictDoNothing()
        .returning();
      if (inserted) {
        await appendAudit(tx, {
          actor: GATEWAY_ACTOR,
          action: 'capture.quarantined',
          subjectType: 'capture',
          subjectId: inserted.id,
          details: { reasons, messageSha256, claimedDeviceId: claimed.deviceId ?? null },
        });
      }
      return inserted;
    });
    if (row) return { stored: true, ...answerFor(row), deviceId: claimed.deviceId };
    const existing = await this.findByMessage(messageSha256);
    if (!existing) throw new Error(`capture message ${messageSha256} neither inserted nor found`);
    return { stored: false, ...answerFor(existing), deviceId: existing.deviceId ?? claimed.deviceId };
  }

  private async findByMessage(messageSha256: string): Promise<CaptureRow | undefined> {
    const [row] = await this.db.select().from(captures).where(eq(captures.messageSha256, messageSha256));
    return row;
  }
}
