import { Counter, Histogram, type Registry } from 'prom-client';
import type { ReviewOutcome, ReviewStep } from '../../core/domain/review-policy.js';

const DAY = 24 * 3600;

/** Counts one recorded decision and how long after its capture it came. */
export type DecisionTiming = (outcome: ReviewOutcome, step: ReviewStep, secondsSinceCapture: number) => void;

/**
 * `verity_review_decisions_total{outcome,step}` and `verity_review_latency_seconds{outcome,step}`.
 * Latency runs from the signed capture time, where the statutory review clock starts
 * (REVIEW_DEADLINE_DAYS), so an operator reads straight off it how close decisions come to the
 * deadline; a second approval's latency includes the wait for the first. Buckets from minutes to
 * past a two-week deadline.
 */
export function registerReviewMetrics(registry: Registry): DecisionTiming {
  const decisions = new Counter({
    name: 'verity_review_decisions_total',
    help: 'Review decisions recorded, by outcome (approved, rejected, escalated) and step (first, second approval)',
    labelNames: ['outcome', 'step'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'verity_review_latency_seconds',
    help: 'Seconds from the signed capture time (where the statutory review deadline counts from) to each recorded decision, by outcome and step',
    labelNames: ['outcome', 'step'],
    buckets: [60, 300, 900, 3600, 4 * 3600, 12 * 3600, DAY, 2 * DAY, 3 * DAY, 4 * DAY, 5 * DAY, 7 * DAY, 10 * DAY, 14 * DAY, 30 * DAY],
    registers: [registry],
  });
  return (outcome, step, seconds) => {
    decisions.inc({ outcome, step });
    latency.observe({ outcome, step }, seconds);
  };
}
