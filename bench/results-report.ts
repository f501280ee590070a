import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { machineDescription, percentile, reproduce, SIZES, type CpuShare, type RunResult } from './run-model.js';

export const benchDir = path.dirname(fileURLToPath(import.meta.url));
export const README = path.join(benchDir, 'README.md');
export const START_MARKER = '<!-- ingest-results:start -->';
export const END_MARKER = '<!-- ingest-results:end -->';
export const DATA_PREFIX = '<!-- ingest-results-data ';

/* ------------------------------------------------------------------ reporting */

export interface ResultRow {
  size: string;
  connections: number;
  devices: number;
  concurrency: number;
  captures: number;
  capturesPerSecond: number;
  megabytesPerSecond: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  date: string;
  machine: string;
  command: string;
  cpu: CpuShare | undefined;
  gatewayEventLoopBusy: number | undefined;
  queriesPerCapture: number | undefined;
  /** Captures per second of every run of this configuration, ascending (one entry without --repeat). */
  runs: number[];
}

export function problemsOf(result: RunResult): string[] {
  const problems: string[] = [];
  if (result.quarantined > 0) problems.push(`${result.quarantined} quarantined`);
  if (result.missing > 0) problems.push(`${result.missing} without a final acknowledgement`);
  const expected = result.spec.warmup + result.spec.captures;
  if ((result.databaseStates.verified ?? 0) !== expected) {
    problems.push(`database holds ${JSON.stringify(result.databaseStates)}, expected ${expected} verified`);
  }
  if (result.reasons.size > 0) problems.push(`reasons: ${[...result.reasons].map(([code, n]) => `${code} ×${n}`).join(', ')}`);
  return problems;
}

export function rowOf(result: RunResult): ResultRow {
  const sorted = [...result.latencies].sort((a, b) => a - b);
  const seconds = result.elapsedMs / 1000;
  const round = (value: number) => Math.round(value * 100) / 100;
  const cpu =
    result.cpu &&
    (Object.fromEntries(Object.entries(result.cpu).map(([key, value]: [string, number]) => [key, round(value)])) as unknown as CpuShare);
  return {
    size: SIZES[result.spec.size].label,
    connections: result.spec.connections,
    devices: result.spec.devices,
    concurrency: result.spec.concurrency,
    captures: result.accepted,
    capturesPerSecond: round(result.accepted / seconds),
    megabytesPerSecond: round((result.accepted * result.meanCaptureBytes) / 1e6 / seconds),
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? Number.NaN),
    date: `${result.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    machine: machineDescription(),
    command: reproduce(result.spec),
    cpu,
    gatewayEventLoopBusy: result.usage && round(result.usage.eventLoopBusy),
    queriesPerCapture: result.usage && round(result.usage.databaseQueries / Math.max(1, result.accepted)),
    runs: [round(result.accepted / seconds)],
  };
}

export const fixed = (value: number | undefined, digits: number) =>
  value === undefined || Number.isNaN(value) ? '–' : value.toFixed(digits);

export function printTable(rows: ResultRow[]): void {
  const header = [
    'media/capture',
    'conns',
    'devices',
    'in flight',
    'captures',
    'captures/s',
    'all runs',
    'MB/s',
    'p50 ms',
    'p95 ms',
    'p99 ms',
    'max ms',
  ];
  const lines = rows.map((row) => [
    row.size,
    String(row.connections),
    String(row.devices),
    String(row.concurrency),
    String(row.captures),
    fixed(row.capturesPerSecond, 1),
    row.runs.map((run) => fixed(run, 1)).join(' '),
    fixed(row.megabytesPerSecond, 1),
    fixed(row.p50, 0),
    fixed(row.p95, 0),
    fixed(row.p99, 0),
    fixed(row.max, 0),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const format = (cells: string[]) => cells.map((cell, column) => cell.padStart(widths[column]!)).join('  ');
  console.log(`\n${format(header)}`);
  for (const line of lines) console.log(format(line));
  console.log('\nCPU over the measured window, in cores busy (this machine has ' + os.cpus().length + '):');
  const cpuHeader = [
    'media/capture',
    'conns',
    'in flight',
    'SQL/capture',
    'gateway',
    'gw loop busy',
    'load gen',
    'postgres',
    'mosquitto',
    'redis',
    'other',
    'machine',
  ];
  const cpuLines = rows.map((row) => [
    row.size,
    String(row.connections),
    String(row.concurrency),
    fixed(row.queriesPerCapture, 1),
    fixed(row.cpu?.gateway, 2),
    row.gatewayEventLoopBusy === undefined ? '–' : `${Math.round(row.gatewayEventLoopBusy * 100)}%`,
    fixed(row.cpu?.loadGenerator, 2),
    fixed(row.cpu?.postgres, 2),
    fixed(row.cpu?.mosquitto, 2),
    fixed(row.cpu?.redis, 2),
    fixed(row.cpu?.other, 2),
    fixed(row.cpu?.machine, 2),
  ]);
  const cpuWidths = cpuHeader.map((title, column) => Math.max(title.length, ...cpuLines.map((line) => line[column]!.length)));
  const cpuFormat = (cells: string[]) => cells.map((cell, column) => cell.padStart(cpuWidths[column]!)).join('  ');
  console.log(cpuFormat(cpuHeader));
  for (const line of cpuLines) console.log(cpuFormat(line));
}

export const rowKey = (row: ResultRow) => `${row.size}|${row.connections}|${row.devices}|${row.concurrency}`;

export function resultsBlock(rows: ResultRow[]): string {
  const order = (row: ResultRow) => Object.values(SIZES).findIndex((size) => size.label === row.size);
  const sorted = [...rows].sort(
    (a, b) => order(a) - order(b) || b.connections - a.connections || a.devices - b.devices || a.concurrency - b.concurrency,
  );
  const results = sorted.map(
    (row) =>
      `| ${row.size} | ${row.connections} | ${row.devices} | ${row.concurrency} | ${row.captures} | ${fixed(row.capturesPerSecond, 1)} | ` +
      `${row.runs.map((run) => fixed(run, 1)).join(', ')} | ` +
      `${fixed(row.p50, 0)} | ${fixed(row.p95, 0)} | ${fixed(row.p99, 0)} | ${row.date} | ${row.machine} | \`${row.command}\` |`,
  );
  const cpu = sorted.map(
    (row) =>
      `| ${row.size} | ${row.connections} | ${row.concurrency} | ${fixed(row.megabytesPerSecond, 1)} | ${fixed(row.queriesPerCapture, 1)} | ` +
      `${fixed(row.cpu?.gateway, 2)} | ` +
      `${row.gatewayEventLoopBusy === undefined ? '–' : `${Math.round(row.gatewayEventLoopBusy * 100)}%`} | ` +
      `${fixed(row.cpu?.loadGenerator, 2)} | ${fixed(row.cpu?.postgres, 2)} | ${fixed(row.cpu?.mosquitto, 2)} | ${fixed(row.cpu?.redis, 2)} | ` +
      `${fixed(row.cpu?.other, 2)} | ${fixed(row.cpu?.machine, 2)} |`,
  );
  return [
    START_MARKER,
    `${DATA_PREFIX}${JSON.stringify(sorted)} -->`,
    '',
    '_Written by `bench/ingest.ts`; a run replaces the row of its own configuration and keeps the others. With `--repeat`, the',
    'row (latencies and CPU included) is the run with the median captures/s._',
    '',
    '| media per capture | connections | devices | in flight | captures | captures/s | captures/s of every run | p50 ms | p95 ms | p99 ms | date | machine | command |',
    '| --- | --: | --: | --: | --: | --: | --- | --: | --: | --: | --- | --- | --- |',
    ...results,
    '',
    'The same measured windows: media throughput, SQL statements the gateway sent per capture (BEGIN and COMMIT',
    'included), and CPU in cores busy on average (2.00 would be the whole machine, read from `/proc`); "gateway loop',
    'busy" is the event-loop utilisation of the gateway process, "other" is everything else on the machine:',
    '',
    '| media per capture | connections | in flight | MB/s | SQL per capture | gateway | gateway loop busy | load generator | postgres | mosquitto | redis | other | machine |',
    '| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |',
    ...cpu,
    '',
    END_MARKER,
  ].join('\n');
}

export async function updateReadme(rows: ResultRow[]): Promise<void> {
  let text: string;
  try {
    text = await readFile(README, 'utf8');
  } catch {
    text = `# Benchmarks\n\n## Results\n\n${START_MARKER}\n${END_MARKER}\n`;
  }
  if (!text.includes(START_MARKER) || text.indexOf(END_MARKER) < text.indexOf(START_MARKER)) {
    text = `${text.trimEnd()}\n\n## Results\n\n${START_MARKER}\n${END_MARKER}\n`;
  }
  const start = text.indexOf(START_MARKER);
  const end = text.indexOf(END_MARKER, start);
  const block = text.slice(start, end);
  const dataAt = block.indexOf(DATA_PREFIX);
  let previous: ResultRow[] = [];
  if (dataAt >= 0) {
    try {
      const parsed = JSON.parse(block.slice(dataAt + DATA_PREFIX.length, block.indexOf(' -->', dataAt))) as Partial<ResultRow>[];
      previous = parsed.map((row) => ({ ...row, runs: row.runs ?? [row.capturesPerSecond ?? Number.NaN] }) as ResultRow);
    } catch {
      previous = [];
    }
  }
  const merged = new Map(previous.map((row) => [rowKey(row), row]));
  for (const row of rows) merged.set(rowKey(row), row);
  const updated = text.slice(0, start) + resultsBlock([...merged.values()]) + text.slice(end + END_MARKER.length);
  const options = (await prettier.resolveConfig(README)) ?? {};
  await writeFile(README, await prettier.format(updated, { ...options, filepath: README }));
}
