import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';

const require = createRequire(import.meta.url);
let source: Promise<string> | undefined;

/** What axe-core reports about one rule broken on the page, trimmed to what a failing test should print. */
export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * Runs axe-core (the npm package, injected from disk: no network) on the page as it is now and
 * returns the violations of `impacts` (by default serious and critical), optionally of `rules` only.
 */
export async function axeViolations(
  page: Page,
  { rules, impacts = ['serious', 'critical'] }: { rules?: string[]; impacts?: string[] } = {},
): Promise<AxeViolation[]> {
  source ??= readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  // Evaluated, not added as a <script>: the pages' Content-Security-Policy rightly refuses inline scripts.
  if ((await page.evaluate<string>('typeof window.axe')) !== 'object') await page.evaluate(await source);
  // WCAG 2.5.3 (a button's accessible name holds its visible text, so a voice user can say what
  // they see) is marked experimental in axe-core and off unless asked for.
  const options = {
    rules: { 'label-content-name-mismatch': { enabled: true } },
    ...(rules ? { runOnly: { type: 'rule', values: rules } } : {}),
  };
  const violations = await page.evaluate<AxeViolation[]>(
    `axe.run(document, ${JSON.stringify(options)}).then((result) => result.violations.map((violation) => ({
      id: violation.id, impact: violation.impact, help: violation.help,
      targets: violation.nodes.map((node) => node.target.join(' ')),
    })))`,
  );
  return violations.filter((violation) => impacts.includes(violation.impact ?? ''));
}
