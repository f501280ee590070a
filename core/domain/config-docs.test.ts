import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ENVIRONMENT_VARIABLES } from './config.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
const envExample = readFileSync(path.join(repoRoot, '.env.example'), 'utf8');

/** The variables the README's configuration table names, each row's first cell. */
function readmeTableVariables(): string[] {
  const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1));
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => [...(line.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((match) => match[1] ?? ''));
}

/** The variables .env.example sets or shows commented out (`NAME=` or `# NAME=` at a line's start). */
function envExampleVariables(): string[] {
  return [...envExample.matchAll(/^(?:# )?([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1] ?? '');
}

describe('the configuration documents', () => {
  it('README.md has a row for every variable core/domain/config.ts reads, and none for a variable it does not', () => {
    const documented = readmeTableVariables();
    expect([...ENVIRONMENT_VARIABLES].filter((name) => !documented.includes(name))).toEqual([]);
    expect(documented.filter((name) => !(ENVIRONMENT_VARIABLES as readonly string[]).includes(name))).toEqual([]);
    expect(new Set(documented).size).toBe(documented.length);
  });

  it('.env.example shows every variable core/domain/config.ts reads, and none it does not', () => {
    const shown = envExampleVariables();
    expect([...ENVIRONMENT_VARIABLES].filter((name) => !shown.includes(name))).toEqual([]);
    expect(shown.filter((name) => !(ENVIRONMENT_VARIABLES as readonly string[]).includes(name))).toEqual([]);
  });
});
