import path from 'node:path';
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const optionalUrl = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .pipe(z.url().optional())
  .optional();
function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
/**
 * The origin a Leaflet tile URL template loads from, as a CSP source (`{s}` subdomains become
 * `*.`), so the pages' Content-Security-Policy can allow exactly that server; null when the
 * template is no http(s) URL.
 */
export function tileOrigin(template: string): string | null {
  try {
    const url = new URL(template.replaceAll('{s}', '*').replace(/\{[^}]*\}/g, '0'));
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.origin : null;
  } catch {
    return null;
  }
}
/** A proxy address as proxy-addr (fastify's trustProxy) reads one: an IP, a CIDR range, or one of its named ranges. */
function isProxyAddress(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = z.ipv4().safeParse(address).success ? 4 : z.ipv6().safeParse(address).success ? 6 : 0;
  if (family === 0 || rest.length > 0) return false;
  return prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}
/**
 * Which peers may say, through X-Forwarded-For / -Proto / -Host, who the client is and whether
 * it came over TLS: nobody (false), the nearest N hops, or the listed proxy addresses.
 */
const trustProxy = z
  .string()
  .trim()
  .transform((value, context): boolean | number | string[] => {
    if (value === 'false') return false;
    if (/^\d+$/.test(value) && Number(value) >= 1) return Number(value);
    const entries = value.split(',').map((entry) => entry.trim());
    const bad = entries.filter((entry) => !isProxyAddress(entry));
    if (bad.length > 0) {
      context.addIssue({
        code: 'custom',
        message: `must be false, a hop count, or proxy addresses (IPs, CIDR ranges, loopback, linklocal, uniquelocal); not ${bad.join(', ')}`,
      });
      return z.NEVER;
    }
    return entries;
  })
  .default(false);
const optionalText = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();

/** Every environment variable Verity reads, in one place; `.env.example` documents them. */
const environmentSchema = z.object({
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: optionalUrl,
  DATABASE_POOL_SIZE: positiveInt.max(200).default(10),
  DATABASE_ACQUIRE_TIMEOUT_MS: positiveInt.default(5000),
  DATABASE_STATEMENT_TIMEOUT_MS: positiveInt.default(30_000),
  MQTT_URL: optionalUrl,
  MQTT_EMBEDDED_PORT: port.default(1884),
  MQTT_TOPIC_ROOT: z
    .string()
    .regex(/^[A-Za-z0-9_\-/]+[A-Za-z0-9_-]$/, 'must be topic levels without wildcards')
    .default('verity/v1'),
  MQTT_SHARED_GROUP: optionalText,
  MQTT_CLIENT_ID: optionalText,
  MQTT_USERNAME: optionalText,
  // Not trimmed: a space may belong to a password.
  MQTT_PASSWORD: z.string().optional(),
  REDIS_URL: optionalUrl,
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default('verity'),
  MEDIA_DIR: optionalText,
  MEDIA_STORE: z.enum(['filesystem', 's3']).default('filesystem'),
  S3_ENDPOINT: optionalUrl,
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_BUCKET: optionalText,
  S3_ACCESS_KEY_ID: optionalText,
  S3_SECRET_ACCESS_KEY: optionalText,
  S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).default('true'),
  HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  TRUST_PROXY: trustProxy,
  REVIEW_PORT: port.default(8080),
  INGEST_HEALTH_PORT: port.default(8081),
  WORKERS_HEALTH_PORT: port.default(8082),
  ADMIN_TOKEN: optionalText.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
  SIMULATOR_DEVICES: z.coerce.number().int().min(0).max(10_000).default(3),
  SIMULATOR_INTERVAL_MS: positiveInt.default(5000),
  SIMULATOR_API_URL: optionalUrl,
  SIMULATOR_HEARTBEAT_MS: positiveInt.default(30_000),
  SIMULATOR_FAULT_EVERY_MS: z.coerce.number().int().min(0).default(180_000),
  WORKER_CONCURRENCY: positiveInt.max(64).default(2),
  HEALTH_SCAN_INTERVAL_MS: positiveInt.default(60_000),
  JOB_STUCK_AFTER_MS: positiveInt.default(300_000),
  JOB_RECONCILE_INTERVAL_MS: positiveInt.default(30_000),
  HOUSEKEEPING_INTERVAL_MS: positiveInt.default(3_600_000),
  OUTBOX_KEEP_DAYS: positiveInt.default(7),
  ENDED_SESSION_KEEP_DAYS: positiveInt.default(7),
  STAGED_CHUNK_KEEP_HOURS: positiveInt.default(24),
  FAILED_JOB_KEEP_DAYS: positiveInt.default(30),
  RETENTION_INTERVAL_MS: positiveInt.default(3_600_000),
  // The video-image regulation (art. 17) keeps footage at least 30 days; MPS order 157 (art. 22) erases a wrong record within 3.
  NON_EVIDENCE_KEEP_DAYS: positiveInt.min(30, 'footage is kept at least 30 days (video-image regulation art. 17)').default(30),
  ERASURE_WITHIN_DAYS: positiveInt.max(3, 'a confirmed-wrong record is erased within 3 days (MPS order 157 art. 22)').default(3),
  EVIDENCE_KEEP_DAYS: positiveInt.default(730),
  INGEST_CONNECTIONS: positiveInt.max(64).default(4),
  COMPLETENESS_TIMEOUT_MS: positiveInt.default(60_000),
  CAPTURE_MAX_AGE_HOURS: positiveInt.default(72),
  KEY_ROTATION_OVERLAP_HOURS: positiveInt.default(24),
  SIGNING_KEY_FILE: optionalText,
  GATEWAY_SIGNING_KEY_FILE: optionalText,
  AUDIT_SIGN_INTERVAL_MS: positiveInt.default(600_000),
  SESSION_TTL_HOURS: positiveInt.max(168).default(12),
  REVIEW_CLAIM_LEASE_SECONDS: positiveInt.max(3600).default(300),
  REVIEW_DEADLINE_DAYS: positiveInt.default(5),
  REVIEW_DUE_SOON_HOURS: positiveInt.default(24),
  REVIEW_TWO_PERSON_VIOLATIONS: z
    .string()
    .regex(/^[a-z0-9_,\s]*$/, 'a comma-separated list of snake_case violation types')
    .default('red_light'),
  REVIEW_TWO_PERSON_SPEED_EXCESS_PERCENT: z.coerce.number().min(0).default(50),
  INCIDENT_WINDOW_MINUTES: positiveInt.default(30),
  ANALYTICS_INTERVAL_MS: positiveInt.default(3_600_000),
  // H3 resolution 8 cells are about 0.7 km², a stretch of road with its junction; 15 is the finest H3 has.
  ANALYTICS_H3_RESOLUTION: z.coerce.number().int().min(0).max(15).default(8),
  ANALYTICS_TIME_ZONE: z
    .string()
    .refine((zone) => isTimeZone(zone), 'must be an IANA time zone such as Asia/Shanghai')
    .default('Asia/Shanghai'),
  ANALYTICS_TRAILING_DAYS: z.coerce.number().int().min(0).max(366).default(14),
  ANALYTICS_SETTLE_DAYS: z.coerce.number().int().min(0).max(90).default(7),
  ANALYTICS_SCREEN_DAYS: positiveInt.max(3660).default(365),
  ANALYTICS_TREND_RECENT_DAYS: positiveInt.max(3660).default(90),
  ANALYTICS_FDR: z.coerce.number().gt(0).lt(1).default(0.05),
  ANALYTICS_MIN_COUNT: positiveInt.default(20),
  ANALYTICS_MIN_GROUP_SITES: positiveInt.default(30),
  ANALYTICS_K_ANONYMITY: positiveInt.default(5),
  ANALYTICS_ANOMALY_BASELINE_DAYS: positiveInt.max(366).default(56),
  ANALYTICS_ANOMALY_WATCH_DAYS: positiveInt.max(366).default(14),
  ANALYTICS_ANOMALY_RATIO: z.coerce.number().gt(1).default(3),
  ANALYTICS_ANOMALY_CUSUM_THRESHOLD: z.coerce.number().positive().default(10),
  ANALYTICS_BEFORE_DAYS: positiveInt.max(3660).default(365),
  ANALYTICS_MIN_AFTER_DAYS: positiveInt.max(3660).default(28),
  ANALYTICS_KEEP_RUNS: positiveInt.default(30),
  ANALYTICS_TILE_URL: optionalText.refine(
    (template) => template === undefined || tileOrigin(template) !== null,
    'must be an http(s) URL template such as https://{s}.tiles.example/{z}/{x}/{y}.png',
  ),
  ANALYTICS_TILE_ATTRIBUTION: z.string().trim().max(500).default(''),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Environment = z.input<typeof environmentSchema>;

/** The name of every variable read, for the test that keeps README.md and .env.example complete. */
export const ENVIRONMENT_VARIABLES = Object.keys(environmentSchema.shape) as readonly (keyof Environment)[];
const DAY_MS = 24 * 3600 * 1000;

/** Where the database is and how long anyone may wait on it: a request never waits forever. */
export interface DatabaseSettings {
  url: string | undefined;
  pgliteDir: string;
  poolSize: number;
  /** Longest wait for a free pooled connection before the request is answered 503. */
  acquireTimeoutMs: number;
  /** Longest any one statement may run; long analytics work raises it for its own transactions. */
  statementTimeoutMs: number;
}

export interface Config {
  dataDir: string;
  database: DatabaseSettings;
  mqtt: {
    url: string | undefined;
    embeddedPort: number;
    topicRoot: string;
    sharedGroup: string | undefined;
    clientId: string | undefined;
    /** This process's broker account (docs/deployment.md); none for an anonymous broker. */
    credentials: { username: string; password: string } | undefined;
  };
  redis: { url: string | undefined };
  queue: { prefix: string };
  media: {
    store: 'filesystem' | 's3';
    dir: string;
    s3: {
      endpoint: string | undefined;
      region: string;
      bucket: string;
      accessKeyId: string | undefined;
      secretAccessKey: string | undefined;
      forcePathStyle: boolean;
    };
  };
  http: {
    host: string;
    reviewPort: number;
    ingestHealthPort: number;
    workersHealthPort: number;
    /** fastify's trustProxy: whose X-Forwarded-* headers name the client's address and scheme. */
    trustProxy: boolean | number | string[];
  };
  admin: { token: string | undefined };
  simulator: { devices: number; intervalMs: number; apiUrl: string | undefined; heartbeatEveryMs: number; faultEveryMs: number };
  workers: { concurrency: number; healthScanEveryMs: number };
  /** When a capture counts as stranded, and how often the job reconciler looks for such captures. */
  jobs: { stuckAfterMs: number; reconcileEveryMs: number };
  /** How long finished work is kept before housekeeping deletes it. */
  housekeeping: { everyMs: number; outboxKeepMs: number; endedSessionKeepMs: number; failedJobKeepMs: number };
  /** When the retention job purges personal data (docs/party.md): non-evidence, confirmed-wrong records, evidence. */
  retention: { everyMs: number; nonEvidenceKeepMs: number; erasureWithinMs: number; evidenceKeepMs: number };
  ingest: {
    connections: number;
    completenessTimeoutMs: number;
    maxCaptureAgeMs: number;
    keyRotationOverlapMs: number;
    /** How long a set of media chunks waits for its last chunk before the gateway expires it and tells the device. */
    stagedChunkKeepMs: number;
    /** The gateway's own Ed25519 key, which signs acknowledgements; made on first start. */
    gatewayKeyFile: string;
  };
  log: { level: string };
  signing: { keyFile: string; auditSignEveryMs: number };
  sessions: { ttlMs: number };
  review: {
    claimLeaseMs: number;
    deadlineDays: number;
    /** How long before the deadline the queue marks a capture due soon. */
    dueSoonMs: number;
    twoPersonViolationTypes: string[];
    /** Speed over the limit, in percent, from which an approval needs a second person. */
    twoPersonSpeedExcessPercent: number;
    incidentWindowMs: number;
  };
  /** Hotspot screening, device anomalies and remediation studies: docs/analytics.md explains each number. */
  analytics: {
    everyMs: number;
    h3Resolution: number;
    timeZone: string;
    /** Days before today always re-aggregated, whatever the audit log says changed. */
    trailingDays: number;
    /** The newest days left out of every analysis, because their captures may still be in review. */
    settleDays: number;
    screenDays: number;
    trendRecentDays: number;
    fdr: number;
    minCount: number;
    minGroupSites: number;
    kAnonymity: number;
    anomaly: { baselineDays: number; watchDays: number; ratio: number; cusumThreshold: number };
    beforeAfter: { beforeDays: number; minAfterDays: number };
    keepRuns: number;
    /** A Leaflet URL template for the hotspot map's basemap; null draws none, as offline deployments need. */
    tiles: { urlTemplate: string; attribution: string } | null;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Validates the environment once; throws a ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty variable means unset (as in `REVIEW_PORT= npm start`), never zero or an empty path.
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''));
  const parsed = environmentSchema.safeParse(given);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`));
  }
  const e = parsed.data;
  if ((e.MQTT_USERNAME === undefined) !== (e.MQTT_PASSWORD === undefined)) {
    throw new ConfigError([
      `${e.MQTT_USERNAME === undefined ? 'MQTT_USERNAME' : 'MQTT_PASSWORD'}: required with the other, to log in to the broker`,
    ]);
  }
  if (e.MEDIA_STORE === 's3' && !e.S3_BUCKET) throw new ConfigError(['S3_BUCKET: required when MEDIA_STORE is s3']);
  if (e.ANALYTICS_TREND_RECENT_DAYS >= e.ANALYTICS_SCREEN_DAYS) {
    // The trend compares the recent days with the rest of the screening period, which must not be empty.
    throw new ConfigError(['ANALYTICS_TREND_RECENT_DAYS: must be fewer than ANALYTICS_SCREEN_DAYS']);
  }
  if (e.CAPTURE_MAX_AGE_HOURS >= e.REVIEW_DEADLINE_DAYS * 24) {
    // A capture accepted that late would enter the queue with no time left for the statutory review.
    throw new ConfigError([
      'CAPTURE_MAX_AGE_HOURS: must be shorter than REVIEW_DEADLINE_DAYS, so every accepted capture can still be reviewed in time',
    ]);
  }
  if (e.RETENTION_INTERVAL_MS >= e.ERASURE_WITHIN_DAYS * DAY_MS) {
    // Erasure happens on the job's next run, so the runs must come closer together than the deadline.
    throw new ConfigError(['RETENTION_INTERVAL_MS: must be shorter than ERASURE_WITHIN_DAYS, or an erasure could miss its deadline']);
  }
  const dataDir = path.resolve(e.DATA_DIR);
  return {
    dataDir,
    database: {
      url: e.DATABASE_URL,
      pgliteDir: path.join(dataDir, 'pglite'),
      poolSize: e.DATABASE_POOL_SIZE,
      acquireTimeoutMs: e.DATABASE_ACQUIRE_TIMEOUT_MS,
      statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
    },
    mqtt: {
      url: e.MQTT_URL,
      embeddedPort: e.MQTT_EMBEDDED_PORT,
      topicRoot: e.MQTT_TOPIC_ROOT,
      sharedGroup: e.MQTT_SHARED_GROUP,
      clientId: e.MQTT_CLIENT_ID,
      credentials:
        e.MQTT_USERNAME !== undefined && e.MQTT_PASSWORD !== undefined
          ? { username: e.MQTT_USERNAME, password: e.MQTT_PASSWORD }
          : undefined,
    },
    redis: { url: e.REDIS_URL },
    queue: { prefix: e.QUEUE_PREFIX },
    media: {
      store: e.MEDIA_STORE,
      dir: path.resolve(e.MEDIA_DIR ?? path.join(dataDir, 'media')),
      s3: {
        endpoint: e.S3_ENDPOINT,
        region: e.S3_REGION,
        bucket: e.S3_BUCKET ?? '',
        accessKeyId: e.S3_ACCESS_KEY_ID,
        secretAccessKey: e.S3_SECRET_ACCESS_KEY,
        forcePathStyle: e.S3_FORCE_PATH_STYLE === 'true',
      },
    },
    http: {
      host: e.HTTP_HOST,
      reviewPort: e.REVIEW_PORT,
      ingestHealthPort: e.INGEST_HEALTH_PORT,
      workersHealthPort: e.WORKERS_HEALTH_PORT,
      trustProxy: e.TRUST_PROXY,
    },
    admin: { token: e.ADMIN_TOKEN },
    simulator: {
      devices: e.SIMULATOR_DEVICES,
      intervalMs: e.SIMULATOR_INTERVAL_MS,
      apiUrl: e.SIMULATOR_API_URL,
      heartbeatEveryMs: e.SIMULATOR_HEARTBEAT_MS,
      faultEveryMs: e.SIMULATOR_FAULT_EVERY_MS,
    },
    workers: { concurrency: e.WORKER_CONCURRENCY, healthScanEveryMs: e.HEALTH_SCAN_INTERVAL_MS },
    jobs: { stuckAfterMs: e.JOB_STUCK_AFTER_MS, reconcileEveryMs: e.JOB_RECONCILE_INTERVAL_MS },
    housekeeping: {
      everyMs: e.HOUSEKEEPING_INTERVAL_MS,
      outboxKeepMs: e.OUTBOX_KEEP_DAYS * DAY_MS,
      endedSessionKeepMs: e.ENDED_SESSION_KEEP_DAYS * DAY_MS,
      failedJobKeepMs: e.FAILED_JOB_KEEP_DAYS * DAY_MS,
    },
    retention: {
      everyMs: e.RETENTION_INTERVAL_MS,
      nonEvidenceKeepMs: e.NON_EVIDENCE_KEEP_DAYS * DAY_MS,
      erasureWithinMs: e.ERASURE_WITHIN_DAYS * DAY_MS,
      evidenceKeepMs: e.EVIDENCE_KEEP_DAYS * DAY_MS,
    },
    ingest: {
      connections: e.INGEST_CONNECTIONS,
      completenessTimeoutMs: e.COMPLETENESS_TIMEOUT_MS,
      maxCaptureAgeMs: e.CAPTURE_MAX_AGE_HOURS * 3600 * 1000,
      keyRotationOverlapMs: e.KEY_ROTATION_OVERLAP_HOURS * 3600 * 1000,
      stagedChunkKeepMs: e.STAGED_CHUNK_KEEP_HOURS * 3600 * 1000,
      gatewayKeyFile: path.resolve(e.GATEWAY_SIGNING_KEY_FILE ?? path.join(dataDir, 'keys', 'gateway-signing.pem')),
    },
    log: { level: e.LOG_LEVEL },
    signing: {
      keyFile: path.resolve(e.SIGNING_KEY_FILE ?? path.join(dataDir, 'keys', 'server-signing.pem')),
      auditSignEveryMs: e.AUDIT_SIGN_INTERVAL_MS,
    },
    sessions: { ttlMs: e.SESSION_TTL_HOURS * 3600 * 1000 },
    review: {
      claimLeaseMs: e.REVIEW_CLAIM_LEASE_SECONDS * 1000,
      deadlineDays: e.REVIEW_DEADLINE_DAYS,
      dueSoonMs: e.REVIEW_DUE_SOON_HOURS * 3600 * 1000,
      twoPersonViolationTypes: e.REVIEW_TWO_PERSON_VIOLATIONS.split(',')
        .map((type) => type.trim())
        .filter((type) => type !== ''),
      twoPersonSpeedExcessPercent: e.REVIEW_TWO_PERSON_SPEED_EXCESS_PERCENT,
      incidentWindowMs: e.INCIDENT_WINDOW_MINUTES * 60 * 1000,
    },
    analytics: {
      everyMs: e.ANALYTICS_INTERVAL_MS,
      h3Resolution: e.ANALYTICS_H3_RESOLUTION,
      timeZone: e.ANALYTICS_TIME_ZONE,
      trailingDays: e.ANALYTICS_TRAILING_DAYS,
      settleDays: e.ANALYTICS_SETTLE_DAYS,
      screenDays: e.ANALYTICS_SCREEN_DAYS,
      trendRecentDays: e.ANALYTICS_TREND_RECENT_DAYS,
      fdr: e.ANALYTICS_FDR,
      minCount: e.ANALYTICS_MIN_COUNT,
      minGroupSites: e.ANALYTICS_MIN_GROUP_SITES,
      kAnonymity: e.ANALYTICS_K_ANONYMITY,
      anomaly: {
        baselineDays: e.ANALYTICS_ANOMALY_BASELINE_DAYS,
        watchDays: e.ANALYTICS_ANOMALY_WATCH_DAYS,
        ratio: e.ANALYTICS_ANOMALY_RATIO,
        cusumThreshold: e.ANALYTICS_ANOMALY_CUSUM_THRESHOLD,
      },
      beforeAfter: { beforeDays: e.ANALYTICS_BEFORE_DAYS, minAfterDays: e.ANALYTICS_MIN_AFTER_DAYS },
      keepRuns: e.ANALYTICS_KEEP_RUNS,
      tiles: e.ANALYTICS_TILE_URL ? { urlTemplate: e.ANALYTICS_TILE_URL, attribution: e.ANALYTICS_TILE_ATTRIBUTION } : null,
    },
  };
}

/** For the split-mode entry points, which have no embedded fallback for a missing service. */
export function requireSetting<T>(value: T | undefined, variable: string, role: string): T {
  if (value === undefined) {
    throw new ConfigError([`${variable}: required when running ${role} on its own (npm start embeds it)`]);
  }
  return value;
}
