import { Gauge, type Registry } from 'prom-client';
import { CAPTURE_STATES } from '../domain/capture-lifecycle.js';
import { captureTallies } from '../../db/capture-reads.js';
import type { Db } from '../../db/client.js';
import { tallyStuckCaptures, type StuckNeed } from '../../db/stuck-captures.js';

const NEEDS: readonly StuckNeed[] = ['screening', 'media'];

/**
 * Where captures stand, read from Postgres at each scrape with the grouped counts the
 * reconciliation report and the stranded-captures health check already use, so the three never
 * disagree. Every state and need is present, zero or not, so an alert can compare against 0.
 */
export function registerCaptureMetrics(registry: Registry, db: Db, stuckAfterMs: number): void {
  new Gauge({
    name: 'verity_captures',
    help: 'Captures in each lifecycle state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const counts = new Map((await captureTallies(db)).map((row) => [row.state, row.count]));
      for (const state of CAPTURE_STATES) this.set({ state }, counts.get(state) ?? 0);
    },
  });
  // The two stranded series share one tally: a scrape collects them side by side.
  let tally: ReturnType<typeof tallyStuckCaptures> | undefined;
  const stranded = () => {
    tally ??= tallyStuckCaptures(db, stuckAfterMs).finally(() => {
      tally = undefined;
    });
    return tally;
  };
  new Gauge({
    name: 'verity_captures_stranded',
    help: `Captures waiting longer than ${Math.round(stuckAfterMs / 1000)} s (JOB_STUCK_AFTER_MS) for a job, by the job they need; the job reconciler re-sends it`,
    labelNames: ['need'],
    registers: [registry],
    async collect() {
      const now = await stranded();
      for (const need of NEEDS) this.set({ need }, now[need].count);
    },
  });
  new Gauge({
    name: 'verity_captures_stranded_oldest_age_seconds',
    help: 'Seconds since the oldest stranded capture was received, by the job it needs; 0 when none is stranded',
    labelNames: ['need'],
    registers: [registry],
    async collect() {
      const now = await stranded();
      for (const need of NEEDS) this.set({ need }, now[need].oldestAgeSeconds ?? 0);
    },
  });
}
