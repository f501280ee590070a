import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');

describe('the Node 24 target', () => {
  it('is the same in package.json, .nvmrc, .npmrc, the Dockerfile and .ci/node-from-registry', () => {
    const manifest = JSON.parse(read('package.json')) as { engines: { node: string }; devDependencies: Record<string, string> };
    expect(manifest.engines.node).toBe('>=24');
    expect(manifest.devDependencies['@types/node']).toMatch(/^\^24\./);
    expect(read('.nvmrc').trim()).toBe('24');
    expect(read('.npmrc')).toMatch(/^engine-strict=true$/m);
    expect(read('Dockerfile')).toMatch(/^FROM node:24-bookworm-slim$/m);
    expect(read('.ci/node-from-registry')).toMatch(/^ {2}want=24$/m);
    expect(read('.ci/run')).toMatch(/^\. \.ci\/node-from-registry$/m);
  });

  it('runs this suite', () => {
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(24);
  });
});

/**
 * Sources the script in bash under `set -euo pipefail` (as .ci/run does), with a fake `node`
 * of the given major version first on PATH and its own cache folder; answers the shell's PATH.
 */
function sourceWith(machineMajor: number, cacheHome: string): { path: string; stderr: string } {
  const fakeBin = path.join(cacheHome, 'machine-bin');
  mkdirSync(fakeBin, { recursive: true });
  writeFileSync(path.join(fakeBin, 'node'), fakeNode(`${machineMajor}.1.0`));
  chmodSync(path.join(fakeBin, 'node'), 0o755);
  // An npm that fails: where a test expects no registry fetch, reaching npm fails the test.
  writeFileSync(path.join(fakeBin, 'npm'), '#!/bin/sh\necho "npm was called: $*" >&2\nexit 1\n');
  chmodSync(path.join(fakeBin, 'npm'), 0o755);
  const out = execFileSync('bash', ['-c', 'set -euo pipefail; . .ci/node-from-registry 2>"$CAPTURE"; printf %s "$PATH"'], {
    cwd: repoRoot,
    env: { PATH: `${fakeBin}:/usr/bin:/bin`, HOME: cacheHome, XDG_CACHE_HOME: cacheHome, CAPTURE: path.join(cacheHome, 'stderr') },
    encoding: 'utf8',
  });
  return { path: out, stderr: readFileSync(path.join(cacheHome, 'stderr'), 'utf8') };
}

/** A stand-in `node` answering the two questions the script asks: its version, and its major. */
function fakeNode(version: string): string {
  return `#!/bin/sh\ncase "$*" in --version) echo v${version} ;; *) echo ${version.split('.')[0]} ;; esac\n`;
}

describe('.ci/node-from-registry', () => {
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
  const folders: string[] = [];
  afterEach(() => {
    for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
  });
  const cacheHome = () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'verity-node-'));
    folders.push(folder);
    return folder;
  };

  it('leaves PATH alone when the machine already has Node 24 or newer', () => {
    const home = cacheHome();
    for (const major of [24, 25]) {
      const result = sourceWith(major, home);
      expect(result.path).toBe(`${home}/machine-bin:/usr/bin:/bin`);
      expect(result.stderr).toBe('');
    }
  });

  it('puts the newest cached Node 24 first on PATH without asking the registry again', () => {
    const home = cacheHome();
    for (const version of ['24.2.0', '24.10.1', '24.9.9']) {
      const bin = path.join(home, 'verity', `node-${version}-linux-${arch}`, 'bin');
      mkdirSync(bin, { recursive: true });
      writeFileSync(path.join(bin, 'node'), fakeNode(version));
      chmodSync(path.join(bin, 'node'), 0o755);
    }
    // The npm on this PATH fails, so success proves the cache was used.
    const result = sourceWith(20, home);
    expect(result.path.split(':')[0]).toBe(path.join(home, 'verity', `node-24.10.1-linux-${arch}`, 'bin'));
    expect(result.stderr).toContain('using v24.10.1');
  });
});
