import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CpuShare } from './run-model.js';

/** Before a run, wait (up to --quiet-wait) until the rest of the machine uses less than this many cores. */
export const QUIET_CORES = 0.3;

/* ------------------------------------------------------------------ CPU accounting (Linux /proc) */

export interface CpuSnapshot {
  at: number;
  machineBusyTicks: number;
  processes: Map<number, { name: string; ticks: number }>;
}

export const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ, 100 on every mainstream Linux build

export async function snapshotCpu(): Promise<CpuSnapshot | undefined> {
  try {
    const [machineLine] = (await readFile('/proc/stat', 'utf8')).split('\n');
    const fields = machineLine!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    const processes = new Map<number, { name: string; ticks: number }>();
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        processes.set(Number(entry), { name, ticks: Number(rest[11]) + Number(rest[12]) });
      } catch {
        // the process ended between readdir and readFile
      }
    }
    return { at: performance.now(), machineBusyTicks: user + nice + system + irq + softirq + steal, processes };
  } catch {
    return undefined;
  }
}

export function cpuBetween(
  before: CpuSnapshot | undefined,
  after: CpuSnapshot | undefined,
  gatewayPid: number | undefined,
): CpuShare | undefined {
  if (!before || !after) return undefined;
  const seconds = (after.at - before.at) / 1000;
  const share: CpuShare = { gateway: 0, loadGenerator: 0, postgres: 0, mosquitto: 0, redis: 0, other: 0, machine: 0 };
  for (const [pid, now] of after.processes) {
    const ticks = now.ticks - (before.processes.get(pid)?.ticks ?? 0);
    const key: keyof CpuShare =
      pid === gatewayPid
        ? 'gateway'
        : pid === process.pid
          ? 'loadGenerator'
          : now.name === 'postgres'
            ? 'postgres'
            : now.name === 'mosquitto'
              ? 'mosquitto'
              : now.name === 'redis-server'
                ? 'redis'
                : 'other';
    share[key] += ticks / CLOCK_TICKS_PER_SECOND / seconds;
  }
  share.machine = (after.machineBusyTicks - before.machineBusyTicks) / CLOCK_TICKS_PER_SECOND / seconds;
  // Processes that started and ended inside the window (another user's test run, say) are in
  // no snapshot, so "other" is whatever the machine did beyond the processes named here.
  const named = share.gateway + share.loadGenerator + share.postgres + share.mosquitto + share.redis;
  share.other = Math.max(share.other, share.machine - named);
  return share;
}

/**
 * The machine is shared: before a run, waits until the other processes together use less than
 * QUIET_CORES for three seconds, or `maxWaitMs` passes (then the run goes ahead and the "other"
 * column of the CPU table shows what it competed with).
 */
export async function waitForQuiet(maxWaitMs: number): Promise<void> {
  const deadline = Date.now() + maxWaitMs;
  let busy: number;
  do {
    const before = await snapshotCpu();
    await sleep(3000);
    const share = cpuBetween(before, await snapshotCpu(), undefined);
    if (!share) return;
    busy = share.machine - share.loadGenerator;
    if (busy < QUIET_CORES) return;
  } while (Date.now() < deadline);
  console.error(`  the machine is still busy (${busy.toFixed(2)} cores used by other processes); running anyway`);
}
