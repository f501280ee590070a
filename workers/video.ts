import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ffmpeg from 'fluent-ffmpeg';

/** What ffprobe says about a video, as stored in `media_quality.probe`. */
export interface VideoProbe {
  formatName: string | null;
  durationSeconds: number | null;
  codec: string | null;
  width: number | null;
  height: number | null;
  frameRate: number | null;
  frameCount: number | null;
}

export type VideoAnalysis =
  | { readable: false; probe: VideoProbe | null; error: string }
  | { readable: true; probe: VideoProbe; poster: Buffer; keyframes: Buffer[] };

export interface VideoOptions {
  /** Per ffmpeg or ffprobe run; a run past it is killed and the job fails, to be retried. */
  timeoutMs: number;
}

export const DEFAULT_VIDEO_OPTIONS: VideoOptions = { timeoutMs: 60_000 };

export const MAX_KEYFRAMES = 4;

/** Below this, 10% of the clip may be the first frame anyway, and seeking risks landing past the end. */
const SHORT_CLIP_SECONDS = 1;

/**
 * One ffmpeg or ffprobe process at a time per worker process: each decodes on every core it can
 * get, so running them side by side only makes each slower and risks their timeouts.
 */
const SLOTS = 1;
let running = 0;
const waiting: (() => void)[] = [];

async function inSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= SLOTS) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** ffprobe prints "25/1", "N/A" or a number, and fluent-ffmpeg turns only the plain numbers into numbers. */
function toNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'string') return null;
  const [numerator, denominator] = value.split('/').map(Number);
  if (numerator === undefined || !Number.isFinite(numerator)) return null;
  if (denominator === undefined) return numerator;
  return Number.isFinite(denominator) && denominator !== 0 ? numerator / denominator : null;
}

function ffprobe(file: string, timeoutMs: number): Promise<ffmpeg.FfprobeData> {
  return inSlot(
    () =>
      new Promise((resolve, reject) => {
        // fluent-ffmpeg does not expose the ffprobe process, so it cannot be killed; ffprobe reads only the
        // headers and a bounded probe size of a local file, so a hang past this is not expected in practice.
        const timer = setTimeout(() => reject(new Error(`ffprobe ran past ${timeoutMs} ms`)), timeoutMs);
        ffmpeg.ffprobe(file, (error: Error | null, data) => {
          clearTimeout(timer);
          if (error) reject(error);
          else resolve(data);
        });
      }),
  );
}

function summarise(data: ffmpeg.FfprobeData): VideoProbe | null {
  const stream = data.streams.find((candidate) => candidate.codec_type === 'video' && !candidate.disposition?.attached_pic);
  if (!stream) return null;
  const frameRate = toNumber(stream.avg_frame_rate) || toNumber(stream.r_frame_rate);
  return {
    formatName: data.format.format_name ?? null,
    durationSeconds: toNumber(data.format.duration) ?? toNumber(stream.duration),
    codec: stream.codec_name ?? null,
    width: toNumber(stream.width),
    height: toNumber(stream.height),
    frameRate: frameRate || null,
    frameCount: toNumber(stream.nb_frames),
  };
}

/** One JPEG frame at `seconds`, or null when there is no frame there to decode. */
function extractFrame(input: string, seconds: number, output: string, timeoutMs: number): Promise<Buffer | null> {
  return inSlot(
    () =>
      new Promise<void>((resolve, reject) => {
        ffmpeg(input, { timeout: Math.ceil(timeoutMs / 1000) })
          .seekInput(seconds.toFixed(3))
          .outputOptions(['-frames:v 1', '-q:v 2', '-an'])
          .output(output)
          .on('end', () => resolve())
          .on('error', (error: Error) => reject(error))
          .run();
      }),
  ).then(
    () => readFile(output).then((bytes) => (bytes.length > 0 ? bytes : null)),
    (error: Error) => {
      if (/timeout/.test(error.message)) throw error;
      return null;
    },
  );
}

/** Where the poster and key frames are taken: the poster at 10%, key frames evenly inside the clip. */
export function frameTimes(probe: VideoProbe): { poster: number; keyframes: number[] } {
  const duration = probe.durationSeconds;
  if (duration === null || duration <= 0) return { poster: 0, keyframes: [] };
  const count = Math.min(MAX_KEYFRAMES, probe.frameCount ?? MAX_KEYFRAMES);
  return {
    poster: duration < SHORT_CLIP_SECONDS ? 0 : duration * 0.1,
    keyframes: Array.from({ length: count }, (_, i) => (duration * (i + 1)) / (count + 1)),
  };
}

/**
 * Probes a video and takes its poster and key frames. A file ffprobe cannot read, without a
 * video stream, or without a decodable poster frame is reported as unreadable, not thrown: that
 * is a finding about the evidence. Only a timeout throws, since a busy machine may be to blame.
 */
export async function analyseVideo(bytes: Buffer, options: VideoOptions = DEFAULT_VIDEO_OPTIONS): Promise<VideoAnalysis> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'verity-video-'));
  try {
    const input = path.join(dir, 'input');
    await writeFile(input, bytes);
    let probe: VideoProbe | null;
    try {
      probe = summarise(await ffprobe(input, options.timeoutMs));
    } catch (error) {
      if (/ran past/.test((error as Error).message)) throw error;
      return { readable: false, probe: null, error: firstLine(error) };
    }
    if (!probe) return { readable: false, probe: null, error: 'no video stream' };
    const times = frameTimes(probe);
    const poster = await extractFrame(input, times.poster, path.join(dir, 'poster.jpg'), options.timeoutMs);
    if (!poster) return { readable: false, probe, error: `no frame could be decoded at ${times.poster.toFixed(3)} s` };
    const keyframes: Buffer[] = [];
    for (const [index, seconds] of times.keyframes.entries()) {
      const frame = await extractFrame(input, seconds, path.join(dir, `keyframe-${index + 1}.jpg`), options.timeoutMs);
      if (frame) keyframes.push(frame);
    }
    return { readable: true, probe, poster, keyframes };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}
