import { Counter, Histogram, type Registry } from 'prom-client';
import { V1_ACCEPTED_UNTIL } from '../core/domain/protocol.js';
import type { CaptureTiming, GatewayCounters } from './gateway.js';

/** What each counter of the gateway counts, as the series' help text says. */
const SERIES: Record<keyof GatewayCounters, { name: string; help: string }> = {
  captureMessages: { name: 'verity_ingest_capture_messages_total', help: 'Capture messages received, duplicates included' },
  duplicates: { name: 'verity_ingest_duplicates_total', help: 'Capture messages already stored (redeliveries and replays)' },
  accepted: { name: 'verity_ingest_accepted_total', help: 'Captures accepted as verified' },
  quarantined: { name: 'verity_ingest_quarantined_total', help: 'Captures kept in quarantine with a reason' },
  chunks: { name: 'verity_ingest_media_chunks_total', help: 'Media chunks received' },
  chunksRefused: { name: 'verity_ingest_media_chunks_refused_total', help: 'Media chunks refused' },
  chunkSetsExpired: {
    name: 'verity_ingest_chunk_sets_expired_total',
    help: 'Sets of staged media chunks expired before their file was complete',
  },
  healthReports: { name: 'verity_ingest_health_reports_total', help: 'Device health reports received' },
  healthRefused: { name: 'verity_ingest_health_reports_refused_total', help: 'Device health reports refused' },
  ignoredTopics: { name: 'verity_ingest_ignored_messages_total', help: 'Messages on topics the gateway does not handle' },
  unsignedAcks: {
    name: 'verity_ingest_unsigned_acks_total',
    help: `Unsigned acknowledgements answering deprecated verity/1 messages, accepted until ${V1_ACCEPTED_UNTIL}`,
  },
};

/** The gateway's own counters as Prometheus counters, read when scraped so the two never disagree. */
export function registerGatewayMetrics(registry: Registry, counters: () => GatewayCounters): void {
  for (const [key, series] of Object.entries(SERIES) as [keyof GatewayCounters, (typeof SERIES)[keyof GatewayCounters]][]) {
    new Counter({
      name: series.name,
      help: series.help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(counters()[key]);
      },
    });
  }
}

/**
 * `verity_ingest_latency_seconds{outcome}`: how long one capture message held the gateway, retries
 * included. Buckets from a commit on an idle database to a Redis or Postgres outage's backoff.
 */
export function registerCaptureLatency(registry: Registry): CaptureTiming {
  const histogram = new Histogram({
    name: 'verity_ingest_latency_seconds',
    help: 'Seconds from receiving a capture message to its outcome committed and its acknowledgement sent, by outcome (accepted, quarantined, pending: stored to wait for its media, duplicate: stored before)',
    labelNames: ['outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  return (outcome, seconds) => histogram.observe({ outcome }, seconds);
}
