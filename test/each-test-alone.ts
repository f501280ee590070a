/**
 * Runs every test of the chosen projects on its own, one vitest process per test, to find
 * tests that pass only because an earlier test in the same file left something behind.
 *
 *   npm run test:each-alone -- [--project integration|e2e ...] [--jobs N] [files...]
 *
 * Without --project it runs the integration and e2e projects; the files narrow the run the way
 * `vitest run`'s filters do. --jobs runs up to that many of those processes at once (default 2,
 * one per core of the machine CI runs on): each already works in databases, queue prefixes and
 * topics of its own, so running side by side proves the same as running in turn. A project runs
 * no more at once than its `maxWorkers` lets its files run in the full suite: e2e tests start a
 * browser and often a whole all-in-one system, and two of those on two cores time out. Exits 1
 * and lists the tests that failed alone.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createVitest } from 'vitest/node';
import type { TestCase } from 'vitest/node';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const vitestBin = path.join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs');

interface Planned {
  project: string;
  file: string;
  /** The test's name and its suites', outermost first. */
  names: string[];
}

interface Outcome {
  passed: boolean;
  /** Why a run counts as failed although vitest exited 0, e.g. the pattern matched nothing. */
  reason?: string;
  output: string;
}

function namesOf(test: TestCase): string[] {
  const names = [test.name];
  for (let parent = test.parent; parent.type === 'suite'; parent = parent.parent) names.unshift(parent.name);
  return names;
}

interface Plan {
  tests: Planned[];
  /** How many files of each project vitest runs at once, where its config says. */
  maxWorkers: Map<string, number>;
}

/** Lists the tests vitest would run, as `vitest list` does, but keeping each suite's name apart. */
async function plan(projects: string[], filters: string[]): Promise<Plan> {
  const vitest = await createVitest('test', { watch: false, project: projects, reporters: [] });
  try {
    const { testModules, unhandledErrors } = await vitest.collect(filters);
    const broken = testModules.filter((module) => module.errors().length > 0);
    if (unhandledErrors.length > 0 || broken.length > 0) {
      for (const module of broken)
        console.error(
          `${module.moduleId}: ${module
            .errors()
            .map((error) => error.message)
            .join('; ')}`,
        );
      for (const error of unhandledErrors) console.error(error);
      throw new Error('vitest could not collect the tests');
    }
    const maxWorkers = new Map<string, number>();
    for (const project of vitest.projects) if (project.config.maxWorkers) maxWorkers.set(project.name, project.config.maxWorkers);
    const tests = testModules
      .flatMap((module) => [...module.children.allTests()])
      .filter((test) => test.options.mode === 'run' || test.options.mode === 'only')
      .map((test) => ({ project: test.project.name, file: path.relative(repoRoot, test.module.moduleId), names: namesOf(test) }))
      .sort((a, b) => a.project.localeCompare(b.project) || a.file.localeCompare(b.file));
    return { tests, maxWorkers };
  } finally {
    await vitest.close();
  }
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * vitest's `-t` matches the suite and test names joined by single spaces; anchoring both ends
 * keeps a test from also selecting another whose name merely contains it.
 */
const patternFor = (test: Planned) => `^${escapeRegExp(test.names.join(' '))}$`;

/** `reportDir` is the caller's alone: processes running at once must not share a report file. */
async function runAlone(test: Planned, reportDir: string): Promise<Outcome> {
  const report = path.join(reportDir, 'report.json');
  rmSync(report, { force: true });
  const args = [
    vitestBin,
    'run',
    test.file,
    '--project',
    test.project,
    '-t',
    patternFor(test),
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
  ];
  const child = spawn(process.execPath, args, { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1' } });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) return { passed: false, output };
  // A pattern that selects nothing (or more than the one test) exits 0 too, and would hide the test.
  const counts = JSON.parse(readFileSync(report, 'utf8')) as { numPassedTests: number; numFailedTests: number };
  if (counts.numPassedTests !== 1 || counts.numFailedTests !== 0) {
    return { passed: false, reason: `the name selected ${counts.numPassedTests} passing tests, not exactly this one`, output };
  }
  return { passed: true, output };
}

const formatDuration = (milliseconds: number) => {
  const seconds = Math.round(milliseconds / 1000);
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
};

function parseJobs(text: string | undefined): number {
  if (text === undefined) return 2;
  const jobs = Number(text);
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`--jobs must be a whole number of at least 1, not ${text}`);
  return jobs;
}

async function main() {
  const { values, positionals } = parseArgs({
    options: { project: { type: 'string', multiple: true }, jobs: { type: 'string' } },
    allowPositionals: true,
  });
  const projects = values.project ?? ['integration', 'e2e'];
  const jobs = parseJobs(values.jobs);
  const { tests, maxWorkers } = await plan(projects, positionals);
  if (tests.length === 0) throw new Error(`no tests in ${projects.join(', ')} match ${positionals.join(' ') || 'the config'}`);
  const byProject = Map.groupBy(tests, (test) => test.project);
  const lanesOf = (project: string) => Math.min(jobs, maxWorkers.get(project) ?? jobs);
  console.log(
    `${tests.length} tests: ${[...byProject].map(([project, its]) => `${its.length} in ${project}, ${lanesOf(project)} at a time`).join('; ')}`,
  );

  const reportRoot = mkdtempSync(path.join(tmpdir(), 'verity-each-alone-'));
  const failures: Planned[] = [];
  const started = Date.now();
  let finished = 0;
  // Each lane takes the next test when its last one ends, so a slow test holds up only its own lane.
  const lane = async (queue: Planned[], reportDir: string) => {
    mkdirSync(reportDir, { recursive: true });
    for (let test = queue.shift(); test; test = queue.shift()) {
      const begun = Date.now();
      const outcome = await runAlone(test, reportDir);
      finished += 1;
      if (!outcome.passed) failures.push(test);
      const elapsed = Date.now() - started;
      // Average wall time per finished test times those left: the lanes are already folded into the average.
      const eta = formatDuration((elapsed / finished) * (tests.length - finished));
      console.log(
        `[${finished}/${tests.length}, ${failures.length} failed, ${formatDuration(elapsed)} elapsed, ~${eta} left] ` +
          `${outcome.passed ? 'pass' : 'FAIL'} ${((Date.now() - begun) / 1000).toFixed(1)}s ${test.file} > ${test.names.join(' > ')}`,
      );
      if (!outcome.passed) {
        if (outcome.reason) console.log(`  ${outcome.reason}`);
        console.log(outcome.output.replace(/^/gm, '  | '));
      }
    }
  };
  try {
    for (const [project, its] of byProject) {
      const queue = [...its];
      await Promise.all(Array.from({ length: lanesOf(project) }, (_, number) => lane(queue, path.join(reportRoot, `lane-${number}`))));
    }
  } finally {
    rmSync(reportRoot, { recursive: true, force: true });
  }

  console.log(`\n${tests.length - failures.length} of ${tests.length} tests passed alone in ${formatDuration(Date.now() - started)}.`);
  if (failures.length > 0) {
    console.log('Failed alone:');
    for (const test of failures.sort((a, b) => a.file.localeCompare(b.file)))
      console.log(`  npx vitest run ${test.file} --project ${test.project} -t '${patternFor(test).replaceAll("'", "'\\''")}'`);
    process.exitCode = 1;
  }
}

await main();
