import type { AddressInfo } from 'node:net';
import type { Logger } from './logger.js';
import { ConfigError, type Config } from '../domain/config.js';

type Stopper = () => Promise<unknown>;

const STOP_TIMEOUT_MS = 5000;

/**
 * Collects what a process started, so it can be stopped in reverse order on SIGINT/SIGTERM
 * or after a failed start: nothing (a spawned redis-server included) is left running.
 */
export class Lifecycle {
  private readonly stoppers: { name: string; stop: Stopper }[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly log: Logger) {}

  add(name: string, stop: Stopper): void {
    this.stoppers.push({ name, stop });
  }

  stopAll(): Promise<void> {
    this.stopping ??= (async () => {
      for (const { name, stop } of [...this.stoppers].reverse()) {
        // A component that hangs (a client waiting on a server already gone) must not keep
        // the rest, the embedded redis-server included, from being stopped.
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
        });
        try {
          const outcome = await Promise.race([stop(), deadline]);
          if (outcome === 'timeout') this.log.warn({ component: name }, `did not stop within ${STOP_TIMEOUT_MS} ms; moving on`);
        } catch (error) {
          this.log.error({ err: error, component: name }, 'failed to stop cleanly');
        } finally {
          clearTimeout(timer);
        }
      }
    })();
    return this.stopping;
  }

  /** Stops everything on the first signal; a second signal exits at once. */
  exitOnSignals(): void {
    let signalled = false;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => {
        if (signalled) process.exit(130);
        signalled = true;
        this.log.info({ signal }, 'shutting down');
        void this.stopAll().then(() => process.exit(0));
      });
    }
  }
}

/** Runs a role's start-up; a bad configuration or missing service ends the process with its message. */
export async function startOrExit(log: Logger, lifecycle: Lifecycle, start: () => Promise<void>): Promise<void> {
  try {
    await start();
  } catch (error) {
    if (error instanceof ConfigError || (error instanceof Error && ['RedisUnavailableError', 'RedisRefusedError'].includes(error.name))) {
      console.error(`\n${error.message}\n`);
    } else {
      log.fatal({ err: error }, 'start-up failed');
    }
    await lifecycle.stopAll();
    process.exit(1);
  }
}

/** Reads the configuration or ends the process listing every bad variable. */
export function loadConfigOrExit(load: () => Config): Config {
  try {
    return load();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`\n${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/** The address to print for a listening server; a wildcard bind is reachable as localhost. */
export function publicUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return `http://${reachable}:${port}/`;
}

/** The port a server actually bound, which differs from the requested one when that was 0. */
export function listeningPort(server: { address(): string | AddressInfo | null }, requested: number): number {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : requested;
}
