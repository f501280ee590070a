import { describe, expect, it } from 'vitest';
import type { SignedCapture } from './device-protocol.js';
import { ResendBuffer } from './resend-buffer.js';

const capture = (captureId: string) => ({ manifest: { captureId } }) as SignedCapture;

describe('ResendBuffer', () => {
  it('resends only what is unanswered after the delay, and not again at once', () => {
    const buffer = new ResendBuffer();
    buffer.track(capture('a'), 0);
    buffer.track(capture('b'), 500);
    expect(buffer.takeDue(900, 1000)).toEqual([]);
    expect(buffer.takeDue(1000, 1000).map((c) => c.manifest.captureId)).toEqual(['a']);
    expect(buffer.takeDue(1200, 1000)).toEqual([]);
    expect(buffer.takeDue(2000, 1000).map((c) => c.manifest.captureId)).toEqual(['a', 'b']);
  });

  it('forgets a capture on a final acknowledgement but keeps it while pending', () => {
    const buffer = new ResendBuffer();
    buffer.track(capture('a'), 0);
    expect(buffer.acknowledge({ captureId: 'a', status: 'pending' })).toBe(false);
    expect(buffer.size).toBe(1);
    expect(buffer.acknowledge({ captureId: 'a', status: 'quarantined' })).toBe(true);
    expect(buffer.size).toBe(0);
    expect(buffer.acknowledge({ captureId: 'a', status: 'accepted' })).toBe(false);
  });

  it('drops the oldest capture when full and says which', () => {
    const buffer = new ResendBuffer(2);
    buffer.track(capture('a'), 0);
    buffer.track(capture('b'), 1);
    expect(buffer.track(capture('c'), 2)?.manifest.captureId).toBe('a');
    expect(buffer.takeDue(10, 0).map((c) => c.manifest.captureId)).toEqual(['b', 'c']);
  });
});
