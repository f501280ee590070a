/**
 * Runs every test of the chosen projects on its own, one vitest process per test, to find
 * tests that pass only because an earlier test in the same file left something behind.
 *
 *   npm run test:each-alone -- [--project integration|e2e ...] [files...]
 *
 * Without --project it runs the integration and e2e projects; the files narrow the run the way
 * `vitest run`'s filters do. Exits 1 and lists the tests that failed alone.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

/** Lists the tests vitest would run, as `vitest list` does, but keeping each suite's name apart. */
async function plan(projects: string[], filters: string[]): Promise<Planned[]> {
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
    return testModules
      .flatMap((module) => [...module.children.allTests()])
      .filter((test) => test.options.mode === 'run' || test.options.mode === 'only')
      .map((test) => ({ project: test.project.name, file: path.relative(repoRoot, test.module.moduleId), names: namesOf(test) }))
      .sort((a, b) => a.project.localeCompare(b.project) || a.file.localeCompare(b.file));
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

async function main() {
  const { values, positionals } = parseArgs({ options: { project: { type: 'string', multiple: true } }, allowPositionals: true });
  const projects = values.project ?? ['integration', 'e2e'];
  const tests = await plan(projects, positionals);
  if (tests.length === 0) throw new Error(`no tests in ${projects.join(', ')} match ${positionals.join(' ') || 'the config'}`);

  const reportDir = mkdtempSync(path.join(tmpdir(), 'verity-each-alone-'));
  const failures: Planned[] = [];
  const started = Date.now();
  try {
    for (const [index, test] of tests.entries()) {
      const label = `${test.file} > ${test.names.join(' > ')}`;
      const begun = Date.now();
      const outcome = await runAlone(test, reportDir);
      const seconds = ((Date.now() - begun) / 1000).toFixed(1);
      console.log(`[${index + 1}/${tests.length}] ${outcome.passed ? 'pass' : 'FAIL'} ${seconds}s ${label}`);
      if (!outcome.passed) {
        failures.push(test);
        if (outcome.reason) console.log(`  ${outcome.reason}`);
        console.log(outcome.output.replace(/^/gm, '  | '));
      }
    }
  } finally {
    rmSync(reportDir, { recursive: true, force: true });
  }

  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  console.log(`\n${tests.length - failures.length} of ${tests.length} tests passed alone in ${minutes} min.`);
  if (failures.length > 0) {
    console.log('Failed alone:');
    for (const test of failures)
      console.log(`  npx vitest run ${test.file} --project ${test.project} -t '${patternFor(test).replaceAll("'", "'\\''")}'`);
    process.exitCode = 1;
  }
}

await main();
