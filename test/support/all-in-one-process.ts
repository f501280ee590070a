import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DemoAccount } from '../../review-ui/people/demo-people.js';
import { waitFor } from './isolated.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface AllInOneProcess {
  child: ChildProcess;
  reviewUrl: string;
  output(): string;
  /** A demo person all-in-one created on its empty database, with the password it printed. */
  demoAccount(username: string): Promise<DemoAccount>;
  /** Sends SIGINT to the process group, as Ctrl-C in a terminal does, and resolves with the exit code. */
  interrupt(): Promise<number | null>;
  /** Makes sure it is gone, whatever state the test left it in. */
  kill(): Promise<void>;
}

/** Starts `all-in-one.ts` as `npm start` would, with only the given environment (no service URLs). */
export async function startAllInOne(env: Record<string, string> & { DATA_DIR: string }): Promise<AllInOneProcess> {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'all-in-one.ts'], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      REVIEW_PORT: '0',
      MQTT_EMBEDDED_PORT: '0',
      LOG_LEVEL: 'warn',
      SIMULATOR_FAULT_EVERY_MS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so a Ctrl-C can be delivered the way a terminal does: to the whole group.
    detached: true,
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const ctrlC = () => {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGINT');
  };
  /** Asks politely first, as Ctrl-C does, so the embedded redis-server is stopped too. */
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    ctrlC();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const reviewUrl = await waitFor(
      'the review page address',
      async () => {
        if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
        return /Review page: (http:\/\/\S+)/.exec(output)?.[1];
      },
      // Compiling every role through tsx and initialising PGlite takes about a minute when the
      // two cores are shared with other test runs.
      120_000,
    );
    return {
      child,
      reviewUrl,
      output: () => output,
      demoAccount: async (username) => {
        const accounts = JSON.parse(await readFile(path.join(env.DATA_DIR, 'demo-accounts.json'), 'utf8')) as DemoAccount[];
        const account = accounts.find((candidate) => candidate.username === username);
        if (!account)
          throw new Error(`no demo account ${username}; there are ${accounts.map((candidate) => candidate.username).join(', ')}`);
        return account;
      },
      interrupt: async () => {
        ctrlC();
        const [code] = await exited;
        return code;
      },
      kill,
    };
  } catch (error) {
    await kill();
    throw new Error(`all-in-one did not start: ${(error as Error).message}\n--- output ---\n${output}`, { cause: error });
  }
}

export interface CaptureList {
  captures: { id: string; state: string; deviceId: string; media: { thumbnailSha256: string | null }[] }[];
}

/** Logs in over HTTP as a browser would; returns the Cookie header that carries the session. */
export async function logIn(reviewUrl: string, account: { username: string; password: string }): Promise<string> {
  return (await openSession(reviewUrl, account)).cookie;
}

export interface HttpSession {
  cookie: string;
  csrfToken: string;
}

/** Logs in and keeps what a browser keeps: the session cookie and the CSRF token changes need. */
export async function openSession(reviewUrl: string, account: { username: string; password: string }): Promise<HttpSession> {
  const response = await fetch(new URL('/api/session', reviewUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: account.username, password: account.password }),
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) throw new Error(`${account.username} could not log in: ${response.status} ${await response.text()}`);
  const cookie = response.headers.getSetCookie().find((header) => header.startsWith('verity_session='));
  if (!cookie) throw new Error('the login answer set no session cookie');
  const { csrfToken } = (await response.json()) as { csrfToken: string };
  return { cookie: cookie.split(';')[0]!, csrfToken };
}

/**
 * Calls the review API as a logged-in person and fails, instead of waiting forever, when the
 * server does not answer within `timeoutMs`: a hang is the defect these calls look for.
 */
export async function callApi(
  reviewUrl: string,
  session: HttpSession,
  method: 'GET' | 'POST' | 'DELETE',
  route: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<{ status: number; json: unknown }> {
  const started = Date.now();
  try {
    const response = await fetch(new URL(route, reviewUrl), {
      method,
      headers: {
        cookie: session.cookie,
        'x-csrf-token': session.csrfToken,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    return { status: response.status, json: text ? (JSON.parse(text) as unknown) : null };
  } catch (error) {
    throw new Error(`${method} ${route} gave no answer within ${Date.now() - started} ms: ${(error as Error).message}`, { cause: error });
  }
}

/** Waits until the review API lists a capture accepted for review whose images all have thumbnails. */
export function waitForThumbnailedCapture(reviewUrl: string, cookie: string, timeoutMs = 45_000): Promise<CaptureList> {
  return waitFor(
    'a capture awaiting review with thumbnails',
    async () => {
      const response = await fetch(new URL('/api/captures?state=awaiting_review', reviewUrl), { headers: { cookie } });
      if (!response.ok) throw new Error(`the capture list answered ${response.status}`);
      const body = (await response.json()) as CaptureList;
      const ready = body.captures.some((capture) => capture.media.length > 0 && capture.media.every((item) => item.thumbnailSha256));
      return ready ? body : undefined;
    },
    timeoutMs,
  );
}
