import os from 'node:os';
import type { GatewayCounters } from '../ingest/gateway.js';
import type { GatewayUsage } from './ingest-gateway.js';

/** The shapes one benchmark run is described and reported by, shared by the runner and the report. */

/** Media per capture: two JPEG frames sharing the total. Default capture counts give 20–60 s runs on 2 cores. */
export const SIZES = {
  '100k': { label: '100 KB', totalBytes: 100_000, defaultCaptures: 1500 },
  '1m': { label: '1 MB', totalBytes: 1_000_000, defaultCaptures: 500 },
} as const;
export type SizeKey = keyof typeof SIZES;

export interface RunSpec {
  size: SizeKey;
  connections: number;
  captures: number;
  devices: number;
  concurrency: number;
  warmup: number;
  timeoutMs: number;
  /** Runs of this configuration; the one with the median captures/s is recorded. */
  repeat: number;
  cpuProfDir: string | undefined;
}

export type Outcome = { status: 'accepted' | 'quarantined'; at: number; reasons: string[] } | { status: 'missing'; reasons: string[] };

export interface CpuShare {
  /** Cores busy on average over the measured window (2 = both cores of a 2-core machine). */
  gateway: number;
  loadGenerator: number;
  postgres: number;
  mosquitto: number;
  redis: number;
  other: number;
  machine: number;
}

export interface RunResult {
  spec: RunSpec;
  startedAt: Date;
  accepted: number;
  quarantined: number;
  missing: number;
  reasons: Map<string, number>;
  latencies: number[];
  elapsedMs: number;
  meanCaptureBytes: number;
  pendingAcks: number;
  /** Final acknowledgements for a capture that already had one (or that this bench never sent). */
  extraFinalAcks: number;
  databaseStates: Record<string, number>;
  counters: GatewayCounters | undefined;
  usage: GatewayUsage | undefined;
  cpu: CpuShare | undefined;
}

export function reproduce(spec: RunSpec): string {
  return (
    `npx tsx bench/ingest.ts --size ${spec.size} --connections ${spec.connections} --captures ${spec.captures}` +
    ` --devices ${spec.devices} --concurrency ${spec.concurrency} --warmup ${spec.warmup}` +
    (spec.repeat > 1 ? ` --repeat ${spec.repeat}` : '')
  );
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const machineDescription = () =>
  `${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
