import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { and, eq, inArray } from 'drizzle-orm';
import mqtt from 'mqtt';
import { CERTIFICATION_KINDS } from '../core/domain/certification.js';
import { topics } from '../core/domain/protocol.js';
import { freePort } from '../core/infrastructure/embedded-redis.js';
import { createLogger } from '../core/infrastructure/logger.js';
import { loadOrCreateSigningKey } from '../core/infrastructure/signing-key.js';
import type { Db } from '../db/client.js';
import { auditLog, captures } from '../db/schema.js';
import { loadFleet, type SimulatedDevice } from '../device-simulator/fleet.js';
import { runFleet } from '../device-simulator/runner.js';
import { confirmCertification } from '../review-ui/devices/certification-rejudging.js';
import { addCertification, enrolDevice } from '../review-ui/devices/device-registry.js';
import { reconcile } from '../review-ui/review/capture-listing.js';
import { startFaultProxy, type FaultProxy } from '../test/resilience/support/fault-proxy.js';
import { startPrivateMosquitto, startPrivateRedis } from '../test/resilience/support/private-services.js';
import { health, spawnRole, type RoleProcess } from '../test/resilience/support/role-process.js';
import { createTempDir, createTestDatabase, uniqueName, waitFor } from '../test/support/isolated.js';
import { testServices } from '../test/support/services.js';
import { CLOCK_TICKS_PER_SECOND } from './cpu-accounting.js';
import { machineDescription } from './run-model.js';
import {
  countCaptures,
  ingestLatencies,
  rssTrend,
  soakProblems,
  type RssSample,
  type ServiceName,
  type SoakReport,
  type SoakSettings,
  type StoredCapture,
} from './soak-figures.js';

/**
 * The soak of docs/reliability.md (test 15): a simulated fleet publishing for minutes through
 * the real broker to the ingest gateway and the workers, each in its own process, with fault
 * proxies between those roles and Redis and Postgres. Every count comes from the database
 * rows and from what the broker carried, never from acknowledgement payloads.
 */

export interface SoakOptions extends SoakSettings {
  /** Time allowed after the fleet stops for every capture to settle and reach review. */
  drainTimeoutMs: number;
  /** When set, each role writes a V8 heap snapshot here once the load stops (for hunting a leak). */
  heapSnapshotDir?: string | undefined;
  command: string;
  say: (line: string) => void;
}

const SAMPLE_EVERY_MS = 10_000;
const PROGRESS_EVERY_MS = 30_000;
const DAY = 24 * 3600_000;

/** Resident set size of a process, from /proc/<pid>/status (VmRSS, in kB). */
async function residentBytes(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kilobytes = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kilobytes === undefined ? undefined : Number(kilobytes) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * The JS heap in use, from the role's own Prometheus series (prom-client's default metrics on its
 * health server): with it next to RSS, growth can be told apart as the heap's or native memory's.
 */
async function heapUsedBytes(port: number): Promise<number | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(3000) });
    const value = /^nodejs_heap_size_used_bytes\s+(\d+(?:\.\d+)?)/m.exec(await response.text())?.[1];
    return value === undefined ? undefined : Number(value);
  } catch {
    return undefined;
  }
}

/** User + system CPU ticks of a process, and of the whole machine. */
async function cpuTicks(pid: number | undefined): Promise<number> {
  try {
    if (pid === undefined) {
      const fields = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
      const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
      return user + nice + system + irq + softirq + steal;
    }
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return 0;
  }
}

/** Enrols a simulated device with every certification valid, confirmed by a second person as enrolments are. */
async function enrolSimulatedDevice(db: Db, device: SimulatedDevice): Promise<void> {
  const outcome = await enrolDevice(db, 'soak', device.id, device.enrolment);
  if (outcome !== 'enrolled') throw new Error(`${device.id} not enrolled: ${outcome}`);
  for (const kind of CERTIFICATION_KINDS) {
    const certificationId = await addCertification(db, 'soak', device.id, {
      kind,
      reference: `SOAK-${kind}-${device.id}`,
      validFrom: new Date(Date.now() - 30 * DAY).toISOString(),
      validTo: new Date(Date.now() + 30 * DAY).toISOString(),
    });
    if (!certificationId) continue;
    const confirmed = await confirmCertification(db, certificationId, { actor: 'soak-second-person', isPerson: true });
    if (!confirmed.ok) throw new Error(confirmed.error);
  }
}

/** Every capture row with the time its outcome was committed (the gateway's verified/quarantined audit entry). */
async function storedCaptures(db: Db): Promise<StoredCapture[]> {
  const rows = await db
    .select({
      id: captures.id,
      deviceId: captures.deviceId,
      deviceCaptureId: captures.deviceCaptureId,
      state: captures.state,
      quarantineReasons: captures.quarantineReasons,
    })
    .from(captures);
  const settled = await db
    .select({ subjectId: auditLog.subjectId, recordedAt: auditLog.recordedAt })
    .from(auditLog)
    .where(and(eq(auditLog.subjectType, 'capture'), inArray(auditLog.action, ['capture.verified', 'capture.quarantined'])));
  const settledAt = new Map(settled.map((row) => [row.subjectId, row.recordedAt]));
  return rows.map((row) => ({
    deviceId: row.deviceId ?? '',
    deviceCaptureId: row.deviceCaptureId ?? '',
    state: row.state,
    settledAt: settledAt.get(row.id),
    quarantineCodes: (row.quarantineReasons ?? []).map((reason) => reason.code),
  }));
}

const clock = (ms: number) => {
  const seconds = Math.max(0, Math.round(ms / 1000));
  return `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
};

/** Runs one soak and returns its report; every process and service it started is gone when it returns. */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const { say } = options;
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanUp = async () => {
    for (const step of cleanups.reverse()) await step().catch((error: unknown) => say(`clean-up step failed: ${String(error)}`));
  };
  try {
    const [redis, broker, database, media] = await Promise.all([
      startPrivateRedis(),
      startPrivateMosquitto(),
      createTestDatabase('soak'),
      createTempDir('soak-media'),
    ]);
    cleanups.push(
      () => redis.remove(),
      () => broker.remove(),
      () => database.drop(),
      () => media.remove(),
    );
    const postgresAddress = new URL(testServices.postgresUrl);
    const proxies: Record<ServiceName, FaultProxy> = {
      redis: await startFaultProxy({ host: '127.0.0.1', port: redis.port }),
      postgres: await startFaultProxy({ host: postgresAddress.hostname, port: Number(postgresAddress.port || 5432) }),
    };
    cleanups.push(
      () => proxies.redis.close(),
      () => proxies.postgres.close(),
    );
    const roleDatabaseUrl = new URL(database.url);
    roleDatabaseUrl.hostname = '127.0.0.1';
    roleDatabaseUrl.port = String(proxies.postgres.port);

    say(`enrolling ${options.devices} simulated devices`);
    const fleet = await loadFleet(options.devices, path.join(media.dir, 'device-keys'));
    for (const device of fleet) await enrolSimulatedDevice(database.db, device);

    const topicRoot = `verity-soak/${uniqueName('soak')}/v1`;
    const common = {
      DATABASE_URL: roleDatabaseUrl.toString(),
      REDIS_URL: `redis://127.0.0.1:${proxies.redis.port}`,
      MEDIA_DIR: media.dir,
      SIGNING_KEY_FILE: path.join(media.dir, 'server-signing.pem'),
      LOG_LEVEL: 'warn',
      // As the Dockerfile starts every role: glibc's unbounded arenas made the workers' RSS creep (workers/memory-settings.ts).
      MALLOC_ARENA_MAX: '2',
      ...(options.heapSnapshotDir ? { NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${options.heapSnapshotDir}` } : {}),
    };
    // Made before the gateway starts, so the fleet verifies every acknowledgement with it as devices must.
    const gatewayKey = await loadOrCreateSigningKey(path.join(media.dir, 'gateway-signing.pem'));
    const healthPorts = { ingest: await freePort(), workers: await freePort() };
    const roles: Record<'ingest' | 'workers', RoleProcess> = {
      ingest: spawnRole('ingest/main.ts', {
        ...common,
        MQTT_URL: broker.url,
        MQTT_TOPIC_ROOT: topicRoot,
        MQTT_SHARED_GROUP: uniqueName('soak-group'),
        MQTT_CLIENT_ID: uniqueName('soak-gateway'),
        GATEWAY_SIGNING_KEY_FILE: path.join(media.dir, 'gateway-signing.pem'),
        INGEST_CONNECTIONS: '4',
        INGEST_HEALTH_PORT: String(healthPorts.ingest),
      }),
      workers: spawnRole('workers/main.ts', {
        ...common,
        // Short enough for captures stranded by the Redis outage to be re-sent within the drain.
        JOB_STUCK_AFTER_MS: '60000',
        JOB_RECONCILE_INTERVAL_MS: '10000',
        WORKERS_HEALTH_PORT: String(healthPorts.workers),
      }),
    };
    cleanups.push(() => Promise.all([roles.ingest.stop(), roles.workers.stop()]));
    // At warn level the start-up line is not logged; a healthy /health is the sign a role is up.
    await Promise.all(
      (['ingest', 'workers'] as const).map((name) =>
        waitFor(
          `the ${name} role to report healthy`,
          async () => {
            if (!roles[name].alive()) throw new Error(`${name} ended: ${roles[name].output()}`);
            return (await health(healthPorts[name]))?.status === 200 ? true : undefined;
          },
          120_000,
        ),
      ),
    );

    // The broker's view of what was published: every envelope on every device's captures topic.
    const seenAt = new Map<string, number>();
    let resentEnvelopes = 0;
    const observer = await mqtt.connectAsync(broker.url, { clientId: uniqueName('soak-observer'), reconnectPeriod: 1000 });
    cleanups.push(() => observer.endAsync());
    observer.on('message', (_topic, payload) => {
      try {
        const envelope = JSON.parse(payload.toString()) as { manifest: string };
        const manifest = JSON.parse(Buffer.from(envelope.manifest, 'base64').toString()) as { deviceId: string; captureId: string };
        const key = `${manifest.deviceId}/${manifest.captureId}`;
        if (seenAt.has(key)) resentEnvelopes++;
        else seenAt.set(key, Date.now());
      } catch (error) {
        say(`unreadable envelope on the broker: ${String(error)}`);
      }
    });
    await observer.subscribeAsync(topics.capture(topicRoot, '+'), { qos: 1 });

    say(`starting ${options.devices} devices, a capture every ${options.intervalMs / 1000} s each, for ${options.minutes} min`);
    const run = await runFleet(fleet, {
      mqttUrl: broker.url,
      topicRoot,
      intervalMs: options.intervalMs,
      heartbeatEveryMs: options.heartbeatMs,
      faultEveryMs: 0,
      gatewayKeys: [{ fingerprint: gatewayKey.fingerprint, publicKeyPem: gatewayKey.publicKeyPem }],
      log: createLogger('error'),
    });
    let fleetStopped = false;
    cleanups.push(() => (fleetStopped ? Promise.resolve() : run.stop()));
    const startedAt = Date.now();
    const loadMs = options.minutes * 60_000;
    const cpuPids = [roles.ingest.child.pid, roles.workers.child.pid, process.pid, undefined];
    const cpuBefore = await Promise.all(cpuPids.map(cpuTicks));

    for (const proxy of Object.values(proxies)) proxy.setLatency(options.latencyMs, options.jitterMs);
    const timers: NodeJS.Timeout[] = [];
    cleanups.push(async () => timers.forEach((timer) => clearTimeout(timer)));
    const connectionsReset: Record<ServiceName, number> = { redis: 0, postgres: 0 };
    if (options.resetEverySeconds > 0) {
      let turn = 0;
      timers.push(
        setInterval(() => {
          const service: ServiceName = turn++ % 2 === 0 ? 'postgres' : 'redis';
          if (!proxies[service].inOutage()) connectionsReset[service] += proxies[service].reset(0.5);
        }, options.resetEverySeconds * 1000),
      );
    }
    const outagesDone: SoakReport['faults']['outages'] = [];
    const outageWindows: { startedAt: number; endedAt: number }[] = [];
    const outagesRunning: Promise<void>[] = [];
    for (const plan of options.outages) {
      timers.push(
        setTimeout(() => {
          say(`[${clock(Date.now() - startedAt)}] ${plan.service} outage for ${plan.seconds} s begins`);
          const window = { startedAt: Date.now(), endedAt: Number.POSITIVE_INFINITY };
          outageWindows.push(window);
          outagesRunning.push(
            proxies[plan.service].outage(plan.seconds * 1000).then(() => {
              window.endedAt = Date.now();
              outagesDone.push({ ...plan, endedAtSeconds: Math.round((window.endedAt - startedAt) / 1000) });
              say(`[${clock(Date.now() - startedAt)}] ${plan.service} outage over; its connections were reset`);
            }),
          );
        }, plan.atSeconds * 1000),
      );
    }

    const rssSamples: RssSample[] = [];
    const heapSamples: RssSample[] = [];
    const sample = async () => {
      for (const name of ['ingest', 'workers'] as const) {
        const bytes = await residentBytes(roles[name].child.pid);
        if (bytes !== undefined) rssSamples.push({ role: name, atMs: Date.now() - startedAt, rssBytes: bytes });
        const heap = await heapUsedBytes(healthPorts[name]);
        if (heap !== undefined) heapSamples.push({ role: `${name} JS heap`, atMs: Date.now() - startedAt, rssBytes: heap });
      }
    };
    const latestRss = (role: string) => {
      const last = rssSamples.findLast((entry) => entry.role === role);
      return last ? `${Math.round(last.rssBytes / 1024 / 1024)} MB` : '?';
    };
    const progress = async (label: string) => {
      const counts = countCaptures(new Set(seenAt.keys()), await storedCaptures(database.db));
      const faults = (Object.keys(proxies) as ServiceName[]).filter((name) => proxies[name].inOutage());
      say(
        `[${label}] published ${counts.published}, accepted ${counts.accepted}, quarantined ${counts.quarantined}, in flight ${counts.inFlight}` +
          ` | RSS ingest ${latestRss('ingest')}, workers ${latestRss('workers')}` +
          (faults.length > 0 ? ` | ${faults.join(' and ')} out` : ''),
      );
    };
    await sample();
    timers.push(setInterval(() => void sample(), SAMPLE_EVERY_MS));
    timers.push(
      setInterval(() => {
        progress(clock(Date.now() - startedAt)).catch((error: unknown) => say(`progress not read: ${String(error)}`));
      }, PROGRESS_EVERY_MS),
    );

    await new Promise((resolve) => setTimeout(resolve, loadMs));
    const cpuAfter = await Promise.all(cpuPids.map(cpuTicks));
    const loadSeconds = (Date.now() - startedAt) / 1000;
    await sample();
    for (const timer of timers) clearTimeout(timer);
    if (options.heapSnapshotDir) {
      // After the last sample: writing a snapshot swells the heap, which must not bend the RSS trend.
      for (const name of ['ingest', 'workers'] as const) roles[name].child.kill('SIGUSR2');
      say(
        `heap snapshots of pids ${roles.ingest.child.pid} (ingest) and ${roles.workers.child.pid} (workers) going to ${options.heapSnapshotDir}`,
      );
    }
    say(`[${clock(Date.now() - startedAt)}] load over; stopping the fleet and waiting for the backlog`);
    await run.stop();
    fleetStopped = true;
    await Promise.all(outagesRunning);

    // Drained: every published capture has its outcome, and every accepted one was screened into review.
    const drainStarted = Date.now();
    let rows = await storedCaptures(database.db);
    while (Date.now() - drainStarted < options.drainTimeoutMs) {
      const counts = countCaptures(new Set(seenAt.keys()), rows);
      const screening = rows.filter((row) => row.state === 'verified').length;
      if (counts.inFlight === 0 && screening === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 2000));
      rows = await storedCaptures(database.db);
    }
    const drainSeconds = Math.round((Date.now() - drainStarted) / 1000);
    await progress(`drained in ${drainSeconds} s`);

    const endpoint = await reconcile(database.db, 60_000);
    const ticks = cpuAfter.map((after, index) => (after - cpuBefore[index]!) / CLOCK_TICKS_PER_SECOND / loadSeconds);
    const warmupMs = options.warmupMinutes * 60_000;
    const partial: Omit<SoakReport, 'problems'> = {
      date: new Date(startedAt)
        .toISOString()
        .replace(/:\d\d\.\d+Z$/, ' UTC')
        .replace('T', ' '),
      machine: machineDescription(),
      command: options.command,
      settings: {
        devices: options.devices,
        minutes: options.minutes,
        intervalMs: options.intervalMs,
        heartbeatMs: options.heartbeatMs,
        warmupMinutes: options.warmupMinutes,
        latencyMs: options.latencyMs,
        jitterMs: options.jitterMs,
        resetEverySeconds: options.resetEverySeconds,
        outages: options.outages,
      },
      faults: { connectionsReset, outages: outagesDone },
      publishedByDevices: run.published(),
      resentEnvelopes,
      counts: countCaptures(new Set(seenAt.keys()), rows),
      reconciliation: {
        received: endpoint.received,
        accepted: endpoint.accepted,
        quarantined: endpoint.quarantined,
        inFlight: endpoint.inFlight,
        jobsAwaitingQueue: endpoint.jobsAwaitingQueue,
        stranded: endpoint.stranded.media.count + endpoint.stranded.screening.count,
      },
      latencyMs: ingestLatencies(seenAt, rows, outageWindows),
      rss: (['ingest', 'workers'] as const).flatMap((role) => rssTrend(rssSamples, role, warmupMs, loadMs + SAMPLE_EVERY_MS) ?? []),
      rssSamples,
      heap: (['ingest', 'workers'] as const).flatMap(
        (role) => rssTrend(heapSamples, `${role} JS heap`, warmupMs, loadMs + SAMPLE_EVERY_MS) ?? [],
      ),
      heapSamples,
      cpu: { ingest: ticks[0]!, workers: ticks[1]!, 'simulated fleet': ticks[2]!, machine: ticks[3]! },
      drainSeconds,
      rolesAlive: roles.ingest.alive() && roles.workers.alive(),
    };
    if (!partial.rolesAlive) {
      for (const name of ['ingest', 'workers'] as const)
        if (!roles[name].alive()) say(`${name} ended: ${roles[name].output().slice(-3000)}`);
    }
    return { ...partial, problems: soakProblems(partial) };
  } finally {
    await cleanUp();
  }
}
