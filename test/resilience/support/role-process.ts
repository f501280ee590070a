import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../support/isolated.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface RoleProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code or the signal once the process has ended. */
  exited: Promise<number | string>;
  alive(): boolean;
  /** SIGTERM and wait; SIGKILL if it has not gone within ten seconds. */
  stop(): Promise<void>;
}

/** Starts a split-mode entry point (`ingest/main.ts`, `workers/main.ts`, …) as its own process, as production runs it. */
export function spawnRole(entry: string, env: Record<string, string>): RoleProcess {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit').then(([code, signal]) => (code ?? signal) as number | string);
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    output: () => output,
    exited,
    alive,
    stop: async () => {
      if (!alive()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Waits for a line in the role's output, failing with the whole output if the process ends first. */
export async function waitForOutput(role: RoleProcess, text: string, timeoutMs = 120_000): Promise<void> {
  await waitFor(
    `"${text}" in the output`,
    async () => {
      if (!role.alive()) throw new Error(`the process ended: ${role.output()}`);
      return role.output().includes(text) ? true : undefined;
    },
    timeoutMs,
  );
}

/** GET /health of a role: its status code and body, or undefined when nothing answers. */
export async function health(port: number): Promise<{ status: number; body: { status: string; failing: string[] } } | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5000) });
    return { status: response.status, body: (await response.json()) as { status: string; failing: string[] } };
  } catch {
    return undefined;
  }
}
