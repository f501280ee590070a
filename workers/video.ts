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

/** A decoded frame and the instant of the clip it shows, so a reviewer knows what they are looking at. */
export interface Frame {
  seconds: number;
  bytes: Buffer;
}

export type VideoAnalysis =
  { readable: false; probe: VideoProbe | null; error: string } | { readable: true; probe: VideoProbe; poster: Frame; keyframes: Frame[] };

export interface VideoOptions {
  /** Per ffmpeg or ffprobe run; past it ffmpeg is killed, ffprobe abandoned, and the job fails, to be retried. */
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
  if (running < SLOTS) running++;
  // The finishing run hands its slot straight over, so a newcomer cannot slip in between.
  else await new Promise<void>((resolve) => waiting.push(resolve));
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
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

/**
 * Only a tool that ran and rejected the file says something about the evidence. A missing binary, a
 * kill by signal (the OOM killer) or a timeout says something about this machine, and is thrown so
 * the job is retried rather than the video being recorded as unreadable.
 */
export class VideoToolError extends Error {}

function rejectedTheFile(error: Error): boolean {
  return /^ff(mpeg|probe) exited with code \d+/.test(error.message);
}

function ffprobe(file: string, timeoutMs: number): Promise<ffmpeg.FfprobeData> {
  return inSlot(
    () =>
      new Promise((resolve, reject) => {
        // fluent-ffmpeg does not expose the ffprobe process, so it cannot be killed; ffprobe reads only the
        // headers and a bounded probe size of a local file, so a hang past this is not expected in practice.
        const timer = setTimeout(() => reject(new VideoToolError(`ffprobe ran past ${timeoutMs} ms`)), timeoutMs);
        ffmpeg.ffprobe(file, (error: Error | null, data) => {
          clearTimeout(timer);
          if (!error) resolve(data);
          else reject(rejectedTheFile(error) ? error : new VideoToolError(firstLine(error), { cause: error }));
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

/** One JPEG frame at `seconds`, or null when ffmpeg finds no frame there to decode. */
async function extractFrame(input: string, seconds: number, output: string, timeoutMs: number): Promise<Buffer | null> {
  const decoded = await inSlot(
    () =>
      new Promise<boolean>((resolve, reject) => {
        ffmpeg(input, { timeout: Math.ceil(timeoutMs / 1000) })
          .seekInput(seconds.toFixed(3))
          .outputOptions(['-frames:v 1', '-q:v 2', '-an'])
          .output(output)
          .on('end', () => resolve(true))
          .on('error', (error: Error) => {
            if (rejectedTheFile(error)) resolve(false);
            else reject(new VideoToolError(firstLine(error), { cause: error }));
          })
          .run();
      }),
  );
  if (!decoded) return null;
  try {
    const bytes = await readFile(output);
    return bytes.length > 0 ? bytes : null;
  } catch (error) {
    // ffmpeg exits cleanly without writing anything when the seek lands past the last frame.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Where the poster and key frames are taken: the poster at 10%, key frames evenly inside the clip. */
export function frameTimes(probe: VideoProbe): { poster: number; keyframes: number[] } {
  const duration = probe.durationSeconds;
  if (duration === null || duration <= 0) return { poster: 0, keyframes: [] };
  const count = Math.min(MAX_KEYFRAMES, probe.frameCount ?? MAX_KEYFRAMES);
  // Milliseconds are what ffmpeg is told to seek to, so they are what is recorded.
  const ms = (seconds: number): number => Math.round(seconds * 1000) / 1000;
  return {
    poster: duration < SHORT_CLIP_SECONDS ? 0 : ms(duration * 0.1),
    keyframes: Array.from({ length: count }, (_, i) => ms((duration * (i + 1)) / (count + 1))),
  };
}

/**
 * Probes a video and takes its poster and key frames. A file ffprobe cannot read, without a
 * video stream, or without a decodable poster frame is reported as unreadable, not thrown: that
 * is a finding about the evidence. Trouble with the tools themselves throws a VideoToolError.
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
      if (error instanceof VideoToolError) throw error;
      return { readable: false, probe: null, error: toolVerdict(error, input) };
    }
    if (!probe) return { readable: false, probe: null, error: 'no video stream' };
    const times = frameTimes(probe);
    const poster = await extractFrame(input, times.poster, path.join(dir, 'poster.jpg'), options.timeoutMs);
    if (!poster) return { readable: false, probe, error: `no frame could be decoded at ${times.poster.toFixed(3)} s` };
    const keyframes: Frame[] = [];
    for (const [index, seconds] of times.keyframes.entries()) {
      const bytes = await extractFrame(input, seconds, path.join(dir, `keyframe-${index + 1}.jpg`), options.timeoutMs);
      if (bytes) keyframes.push({ seconds, bytes });
    }
    return { readable: true, probe, poster: { seconds: times.poster, bytes: poster }, keyframes };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

/** ffprobe's last word on stderr ("moov atom not found"), without the temporary path, is what a reviewer can use. */
function toolVerdict(error: unknown, input: string): string {
  const lines = (error instanceof Error ? error.message : String(error)).split('\n').filter((line) => line.trim() !== '');
  const last = lines.length > 1 ? lines[lines.length - 1]!.replaceAll(`${input}: `, '').trim() : '';
  return last ? `${lines[0]}: ${last}` : (lines[0] ?? 'unknown error');
}
