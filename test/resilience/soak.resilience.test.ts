import { describe, expect, it } from 'vitest';
import { soakMarkdown } from '../../bench/soak-figures.js';
import { runSoak } from '../../bench/soak-run.js';

/**
 * Test 15 of docs/reliability.md, short: the soak of `npm run soak` with 20 devices for two
 * minutes, latency and resets on every Redis and Postgres connection and a 10-second outage of
 * each. Passing means: nothing lost, nothing stored twice, every published capture accepted or
 * quarantined with none left in flight (published = accepted + quarantined + in flight), the
 * reconciliation counts agree, every accepted capture reached review, and neither role process
 * ended. RSS and latency are printed, not judged: two minutes say nothing about a leak.
 * Broken on purpose, with the gateway acknowledging a message after one failed attempt, it
 * still passed: the devices' resend of unanswered captures made up for it. With that resend
 * also off, it failed: 2 published captures had no row and the reconciliation counted 241 of 243.
 */
describe('soak, short', () => {
  it('loses nothing and reconciles every count through latency, resets and outages of Redis and Postgres', async () => {
    const report = await runSoak({
      devices: 20,
      minutes: 2,
      intervalMs: 10_000,
      heartbeatMs: 30_000,
      warmupMinutes: 0.5,
      latencyMs: 2,
      jitterMs: 8,
      resetEverySeconds: 15,
      outages: [
        { service: 'redis', atSeconds: 30, seconds: 10 },
        { service: 'postgres', atSeconds: 70, seconds: 10 },
      ],
      drainTimeoutMs: 90_000,
      command: 'npx vitest run --project resilience test/resilience/soak.resilience.test.ts',
      say: (line) => console.log(line),
    });
    console.log(soakMarkdown(report));
    const { counts } = report;
    expect(report.problems).toEqual([]);
    expect(report.faults.outages.map((outage) => outage.service).sort()).toEqual(['postgres', 'redis']);
    expect(report.faults.connectionsReset.postgres).toBeGreaterThan(0);
    // 20 devices every 10 s for 2 minutes, less what a busy machine skips.
    expect(counts.published).toBeGreaterThan(100);
    expect(counts.lost).toBe(0);
    expect(counts.duplicated).toBe(0);
    expect(counts.inFlight).toBe(0);
    expect(counts.accepted + counts.quarantined + counts.inFlight).toBe(counts.published);
    expect(counts.reachedReview).toBe(counts.accepted);
    expect(report.reconciliation).toMatchObject({ received: counts.published, inFlight: 0, stranded: 0 });
    expect(report.latencyMs.all.count).toBe(counts.published);
    expect(report.rss.map((trend) => trend.role)).toEqual(['ingest', 'workers']);
  });
});
