import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerCaptureMetrics } from '../core/infrastructure/capture-metrics.js';
import { registerQueueMetrics } from '../core/infrastructure/queue-metrics.js';
import type { Db } from '../db/client.js';
import { registerCaptureLatency, registerGatewayMetrics } from '../ingest/gateway-metrics.js';
import type { GatewayCounters } from '../ingest/gateway.js';
import { registerReviewMetrics } from '../review-ui/review/review-metrics.js';
import { registerJobMetrics } from '../workers/job-metrics.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const reliability = readFileSync(path.join(repoRoot, 'docs/reliability.md'), 'utf8');

/** Each row of the metrics table: its series name and type, the first two cells. */
function documentedSeries(): Map<string, string> {
  const section = reliability.slice(reliability.indexOf('### Metrics'), reliability.indexOf('\n## ', reliability.indexOf('### Metrics')));
  const rows = section.split('\n').filter((line) => line.startsWith('| `verity_'));
  return new Map(
    rows.map((line) => {
      const [, name, type] = line.split('|').map((cell) => cell.trim());
      return [name!.replaceAll('`', ''), type!];
    }),
  );
}

describe('the metrics table in docs/reliability.md', () => {
  it('lists every series a role registers, with its type, and none that no role registers', () => {
    const registry = new Registry();
    // Registering reads nothing: the database and the counters are only asked at a scrape.
    registerGatewayMetrics(registry, () => ({}) as GatewayCounters);
    registerCaptureLatency(registry);
    registerQueueMetrics(registry, []);
    registerJobMetrics(registry);
    registerCaptureMetrics(registry, {} as Db, 300_000);
    registerReviewMetrics(registry);
    // The metric objects themselves: collecting would ask the database this test does not have.
    const registered = new Map(
      registry
        .getMetricsAsArray()
        .map((metric) => metric as unknown as { name: string; type: string })
        .filter((metric) => metric.name.startsWith('verity_'))
        .map((metric) => [metric.name, metric.type]),
    );
    expect(Object.fromEntries(documentedSeries())).toEqual(Object.fromEntries(registered));
  });
});
