import { describe, expect, it } from 'vitest';
import { frameTimes, type VideoProbe } from './video.js';

const probe: VideoProbe = {
  formatName: 'mov,mp4,m4a,3gp,3g2,mj2',
  durationSeconds: 3,
  codec: 'h264',
  width: 1280,
  height: 720,
  frameRate: 25,
  frameCount: 75,
};

describe('frameTimes', () => {
  it('takes the poster at a tenth of the clip and four key frames evenly inside it', () => {
    expect(frameTimes(probe)).toEqual({ poster: 0.3, keyframes: [0.6, 1.2, 1.8, 2.4] });
  });

  it('takes the poster from the first frame of a very short clip', () => {
    expect(frameTimes({ ...probe, durationSeconds: 0.4, frameCount: 10 }).poster).toBe(0);
  });

  it('takes no more key frames than the clip has frames', () => {
    expect(frameTimes({ ...probe, durationSeconds: 0.08, frameCount: 2 }).keyframes).toHaveLength(2);
  });

  it('takes only a poster at 0 s when the duration is unknown', () => {
    expect(frameTimes({ ...probe, durationSeconds: null })).toEqual({ poster: 0, keyframes: [] });
  });
});
