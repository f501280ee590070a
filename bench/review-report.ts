import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';

const README = path.join(path.dirname(fileURLToPath(import.meta.url)), 'README.md');
const START_MARKER = '<!-- review-results:start -->';
const END_MARKER = '<!-- review-results:end -->';
const DATA_PREFIX = '<!-- review-results-data ';

interface Summary {
  p50: number;
  p95: number;
  max: number;
  mean: number;
}

/** One mode's run: keypress → next capture painted (`total`) and keypress → decision answered (`decision`), in ms. */
export interface ReviewResult {
  mode: 'warm' | 'cold';
  decisions: number;
  frameKb: number;
  reviewCopies: boolean;
  thinkMs: number;
  total: Summary;
  decision: Summary;
  /** Cores busy on average while timed: this process (the review server), Postgres, Chromium, everything else, the whole machine. */
  cpu: { server: number; postgres: number; chromium: number; other: number; machine: number } | undefined;
  date: string;
  machine: string;
  command: string;
}

const ms = (value: number) => (value < 10 ? value.toFixed(1) : Math.round(value).toString());

function block(results: ReviewResult[]): string {
  const rows = results.map((result) =>
    [
      result.mode === 'warm' ? 'warm (prefetched)' : 'cold (prefetch off)',
      result.thinkMs,
      result.decisions,
      `${result.frameKb} KB${result.reviewCopies ? ', review copies' : ', originals only'}`,
      ms(result.total.p50),
      ms(result.total.p95),
      ms(result.total.max),
      ms(result.total.mean),
      ms(result.decision.p50),
      result.cpu
        ? [result.cpu.server, result.cpu.postgres, result.cpu.chromium, result.cpu.other].map((cores) => cores.toFixed(2)).join(' / ')
        : 'n/a',
      result.date,
      result.machine,
      `\`${result.command}\``,
    ].join(' | '),
  );
  return [
    START_MARKER,
    `${DATA_PREFIX}${JSON.stringify(results)} -->`,
    '',
    '_Written by `bench/review-keypress.ts`; a run replaces the rows of the same mode and think time, and keeps the others._',
    '',
    '| mode | think ms | decisions | frames (2 per capture) | p50 ms | p95 ms | max ms | mean ms | decision answered, p50 ms | cores: server / postgres / Chromium / other | date | machine | command |',
    '| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row} |`),
    '',
    END_MARKER,
  ].join('\n');
}

/** Replaces the results between the review markers of bench/README.md, keeping the configurations this run did not measure. */
export async function updateReviewReadme(results: ReviewResult[]): Promise<void> {
  const text = await readFile(README, 'utf8');
  const start = text.indexOf(START_MARKER);
  const end = text.indexOf(END_MARKER, start);
  if (start < 0 || end < 0) throw new Error(`bench/README.md lacks the ${START_MARKER} … ${END_MARKER} markers`);
  const current = text.slice(start, end);
  const dataAt = current.indexOf(DATA_PREFIX);
  const previous: ReviewResult[] =
    dataAt >= 0 ? (JSON.parse(current.slice(dataAt + DATA_PREFIX.length, current.indexOf(' -->', dataAt))) as ReviewResult[]) : [];
  const merged = new Map([...previous, ...results].map((result) => [`${result.mode}|${result.thinkMs}`, result]));
  const ordered = [...merged.values()].sort((a, b) => b.mode.localeCompare(a.mode) || b.thinkMs - a.thinkMs);
  const updated = text.slice(0, start) + block(ordered) + text.slice(end + END_MARKER.length);
  const options = (await prettier.resolveConfig(README)) ?? {};
  await writeFile(README, await prettier.format(updated, { ...options, filepath: README }));
}
