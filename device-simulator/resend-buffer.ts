import type { Acknowledgement } from '../core/domain/protocol.js';
import type { SignedCapture } from './device-protocol.js';

/**
 * What a device keeps until the gateway has answered: a PUBACK only proves the broker got a
 * message, so captures are resent (same bytes, which the gateway stores once) until a final
 * acknowledgement arrives on the device's acks topic, verified as the gateway's before it is given here.
 */
export class ResendBuffer {
  private readonly pending = new Map<string, { capture: SignedCapture; lastSentAt: number }>();

  constructor(private readonly capacity = 500) {}

  get size(): number {
    return this.pending.size;
  }

  /** Remembers a capture just sent; returns the oldest one dropped when the buffer is full. */
  track(capture: SignedCapture, now: number): SignedCapture | undefined {
    this.pending.set(capture.manifest.captureId, { capture, lastSentAt: now });
    if (this.pending.size <= this.capacity) return undefined;
    const [oldestId, oldest] = this.pending.entries().next().value as [string, { capture: SignedCapture }];
    this.pending.delete(oldestId);
    return oldest.capture;
  }

  /** Forgets a capture once the gateway has decided it; a `pending` answer is not final. */
  acknowledge(ack: Pick<Acknowledgement, 'captureId' | 'status'>): boolean {
    if (ack.status === 'pending' || ack.captureId === null) return false;
    return this.pending.delete(ack.captureId);
  }

  /** Captures unanswered for `afterMs`, marked as sent again at `now`. */
  takeDue(now: number, afterMs: number): SignedCapture[] {
    const due: SignedCapture[] = [];
    for (const entry of this.pending.values()) {
      if (now - entry.lastSentAt >= afterMs) {
        entry.lastSentAt = now;
        due.push(entry.capture);
      }
    }
    return due;
  }
}
