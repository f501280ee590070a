import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, requireSetting } from './config.js';

function configErrorOf(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('uses the documented defaults for an empty environment', () => {
    const dataDir = path.resolve('data');
    expect(loadConfig({})).toEqual({
      dataDir,
      database: {
        url: undefined,
        pgliteDir: path.join(dataDir, 'pglite'),
        poolSize: 10,
        acquireTimeoutMs: 5000,
        statementTimeoutMs: 30_000,
      },
      mqtt: {
        url: undefined,
        embeddedPort: 1884,
        topicRoot: 'verity/v1',
        sharedGroup: undefined,
        clientId: undefined,
        credentials: undefined,
      },
      redis: { url: undefined },
      queue: { prefix: 'verity' },
      media: {
        store: 'filesystem',
        dir: path.join(dataDir, 'media'),
        s3: {
          endpoint: undefined,
          region: 'us-east-1',
          bucket: '',
          accessKeyId: undefined,
          secretAccessKey: undefined,
          forcePathStyle: true,
        },
      },
      http: { host: '127.0.0.1', reviewPort: 8080, ingestHealthPort: 8081, workersHealthPort: 8082, trustProxy: false },
      admin: { token: undefined },
      simulator: { devices: 3, intervalMs: 5000, apiUrl: undefined, heartbeatEveryMs: 30_000, faultEveryMs: 180_000 },
      workers: { concurrency: 2, healthScanEveryMs: 60_000 },
      jobs: { stuckAfterMs: 300_000, reconcileEveryMs: 30_000 },
      housekeeping: {
        everyMs: 3_600_000,
        outboxKeepMs: 7 * 24 * 3600 * 1000,
        endedSessionKeepMs: 7 * 24 * 3600 * 1000,
        failedJobKeepMs: 30 * 24 * 3600 * 1000,
      },
      retention: {
        everyMs: 3_600_000,
        nonEvidenceKeepMs: 30 * 24 * 3600 * 1000,
        erasureWithinMs: 3 * 24 * 3600 * 1000,
        evidenceKeepMs: 730 * 24 * 3600 * 1000,
      },
      ingest: {
        connections: 4,
        completenessTimeoutMs: 60_000,
        maxCaptureAgeMs: 72 * 3600 * 1000,
        keyRotationOverlapMs: 24 * 3600 * 1000,
        stagedChunkKeepMs: 24 * 3600 * 1000,
        gatewayKeyFile: path.resolve('data/keys/gateway-signing.pem'),
      },
      log: { level: 'info' },
      signing: { keyFile: path.resolve('data/keys/server-signing.pem'), auditSignEveryMs: 600_000 },
      sessions: { ttlMs: 12 * 3600 * 1000 },
      review: {
        claimLeaseMs: 300_000,
        deadlineDays: 5,
        dueSoonMs: 24 * 3600 * 1000,
        twoPersonViolationTypes: ['red_light'],
        twoPersonSpeedExcessPercent: 50,
        incidentWindowMs: 30 * 60_000,
      },
      analytics: {
        everyMs: 3_600_000,
        h3Resolution: 8,
        timeZone: 'Asia/Shanghai',
        trailingDays: 14,
        settleDays: 7,
        screenDays: 365,
        trendRecentDays: 90,
        fdr: 0.05,
        minCount: 20,
        minGroupSites: 30,
        kAnonymity: 5,
        anomaly: { baselineDays: 56, watchDays: 14, ratio: 3, cusumThreshold: 10 },
        beforeAfter: { beforeDays: 365, minAfterDays: 28 },
        keepRuns: 30,
        tiles: null,
      },
    });
  });

  it('reads every variable when set', () => {
    const config = loadConfig({
      DATA_DIR: '/srv/verity',
      DATABASE_URL: 'postgres://u:p@db:5432/verity',
      MQTT_URL: 'mqtt://broker:1883',
      MQTT_EMBEDDED_PORT: '1999',
      MQTT_TOPIC_ROOT: 'tenant-a/v1',
      MQTT_SHARED_GROUP: 'ingest',
      MQTT_CLIENT_ID: 'gateway-1',
      MQTT_USERNAME: 'verity-gateway',
      MQTT_PASSWORD: ' pass word ',
      REDIS_URL: 'redis://cache:6379',
      QUEUE_PREFIX: 'tenant_a',
      MEDIA_DIR: '/mnt/media',
      HTTP_HOST: '0.0.0.0',
      TRUST_PROXY: '1',
      REVIEW_PORT: '9000',
      INGEST_HEALTH_PORT: '9001',
      WORKERS_HEALTH_PORT: '9002',
      ADMIN_TOKEN: 'a-token-of-16-ch',
      SIMULATOR_DEVICES: '0',
      SIMULATOR_INTERVAL_MS: '250',
      SIMULATOR_API_URL: 'http://review:8080/',
      WORKER_CONCURRENCY: '64',
      JOB_STUCK_AFTER_MS: '120000',
      JOB_RECONCILE_INTERVAL_MS: '5000',
      HOUSEKEEPING_INTERVAL_MS: '600000',
      OUTBOX_KEEP_DAYS: '1',
      ENDED_SESSION_KEEP_DAYS: '2',
      STAGED_CHUNK_KEEP_HOURS: '3',
      FAILED_JOB_KEEP_DAYS: '90',
      RETENTION_INTERVAL_MS: '60000',
      NON_EVIDENCE_KEEP_DAYS: '45',
      ERASURE_WITHIN_DAYS: '2',
      EVIDENCE_KEEP_DAYS: '1000',
      INGEST_CONNECTIONS: '8',
      COMPLETENESS_TIMEOUT_MS: '5000',
      CAPTURE_MAX_AGE_HOURS: '24',
      KEY_ROTATION_OVERLAP_HOURS: '6',
      MEDIA_STORE: 's3',
      S3_ENDPOINT: 'http://minio:9000',
      S3_REGION: 'eu-west-1',
      S3_BUCKET: 'evidence',
      S3_ACCESS_KEY_ID: 'key',
      S3_SECRET_ACCESS_KEY: 'secret',
      S3_FORCE_PATH_STYLE: 'false',
      DATABASE_POOL_SIZE: '25',
      DATABASE_ACQUIRE_TIMEOUT_MS: '2000',
      DATABASE_STATEMENT_TIMEOUT_MS: '15000',
      LOG_LEVEL: 'silent',
      SIGNING_KEY_FILE: '/etc/verity/signing.pem',
      GATEWAY_SIGNING_KEY_FILE: '/etc/verity/gateway.pem',
      AUDIT_SIGN_INTERVAL_MS: '60000',
      SESSION_TTL_HOURS: '8',
      REVIEW_CLAIM_LEASE_SECONDS: '120',
      REVIEW_DEADLINE_DAYS: '3',
      REVIEW_DUE_SOON_HOURS: '12',
      REVIEW_TWO_PERSON_VIOLATIONS: 'red_light, wrong_way',
      REVIEW_TWO_PERSON_SPEED_EXCESS_PERCENT: '20',
      INCIDENT_WINDOW_MINUTES: '10',
      ANALYTICS_INTERVAL_MS: '900000',
      ANALYTICS_H3_RESOLUTION: '9',
      ANALYTICS_TIME_ZONE: 'UTC',
      ANALYTICS_TRAILING_DAYS: '0',
      ANALYTICS_SETTLE_DAYS: '3',
      ANALYTICS_SCREEN_DAYS: '730',
      ANALYTICS_TREND_RECENT_DAYS: '60',
      ANALYTICS_FDR: '0.1',
      ANALYTICS_MIN_COUNT: '50',
      ANALYTICS_MIN_GROUP_SITES: '4',
      ANALYTICS_K_ANONYMITY: '10',
      ANALYTICS_ANOMALY_BASELINE_DAYS: '28',
      ANALYTICS_ANOMALY_WATCH_DAYS: '7',
      ANALYTICS_ANOMALY_RATIO: '2.5',
      ANALYTICS_ANOMALY_CUSUM_THRESHOLD: '6',
      ANALYTICS_BEFORE_DAYS: '180',
      ANALYTICS_MIN_AFTER_DAYS: '14',
      ANALYTICS_KEEP_RUNS: '5',
      ANALYTICS_TILE_URL: 'https://tiles.example/{z}/{x}/{y}.png',
      ANALYTICS_TILE_ATTRIBUTION: '© Example',
    });
    expect(config).toEqual({
      dataDir: '/srv/verity',
      database: {
        url: 'postgres://u:p@db:5432/verity',
        pgliteDir: '/srv/verity/pglite',
        poolSize: 25,
        acquireTimeoutMs: 2000,
        statementTimeoutMs: 15_000,
      },
      mqtt: {
        url: 'mqtt://broker:1883',
        embeddedPort: 1999,
        topicRoot: 'tenant-a/v1',
        sharedGroup: 'ingest',
        clientId: 'gateway-1',
        credentials: { username: 'verity-gateway', password: ' pass word ' },
      },
      redis: { url: 'redis://cache:6379' },
      queue: { prefix: 'tenant_a' },
      media: {
        store: 's3',
        dir: '/mnt/media',
        s3: {
          endpoint: 'http://minio:9000',
          region: 'eu-west-1',
          bucket: 'evidence',
          accessKeyId: 'key',
          secretAccessKey: 'secret',
          forcePathStyle: false,
        },
      },
      http: { host: '0.0.0.0', reviewPort: 9000, ingestHealthPort: 9001, workersHealthPort: 9002, trustProxy: 1 },
      admin: { token: 'a-token-of-16-ch' },
      simulator: { devices: 0, intervalMs: 250, apiUrl: 'http://review:8080/', heartbeatEveryMs: 30_000, faultEveryMs: 180_000 },
      workers: { concurrency: 64, healthScanEveryMs: 60_000 },
      jobs: { stuckAfterMs: 120_000, reconcileEveryMs: 5000 },
      housekeeping: {
        everyMs: 600_000,
        outboxKeepMs: 24 * 3600 * 1000,
        endedSessionKeepMs: 2 * 24 * 3600 * 1000,
        failedJobKeepMs: 90 * 24 * 3600 * 1000,
      },
      retention: {
        everyMs: 60_000,
        nonEvidenceKeepMs: 45 * 24 * 3600 * 1000,
        erasureWithinMs: 2 * 24 * 3600 * 1000,
        evidenceKeepMs: 1000 * 24 * 3600 * 1000,
      },
      ingest: {
        connections: 8,
        completenessTimeoutMs: 5000,
        maxCaptureAgeMs: 24 * 3600 * 1000,
        keyRotationOverlapMs: 6 * 3600 * 1000,
        stagedChunkKeepMs: 3 * 3600 * 1000,
        gatewayKeyFile: '/etc/verity/gateway.pem',
      },
      log: { level: 'silent' },
      signing: { keyFile: '/etc/verity/signing.pem', auditSignEveryMs: 60_000 },
      sessions: { ttlMs: 8 * 3600 * 1000 },
      review: {
        claimLeaseMs: 120_000,
        deadlineDays: 3,
        dueSoonMs: 12 * 3600 * 1000,
        twoPersonViolationTypes: ['red_light', 'wrong_way'],
        twoPersonSpeedExcessPercent: 20,
        incidentWindowMs: 10 * 60_000,
      },
      analytics: {
        everyMs: 900_000,
        h3Resolution: 9,
        timeZone: 'UTC',
        trailingDays: 0,
        settleDays: 3,
        screenDays: 730,
        trendRecentDays: 60,
        fdr: 0.1,
        minCount: 50,
        minGroupSites: 4,
        kAnonymity: 10,
        anomaly: { baselineDays: 28, watchDays: 7, ratio: 2.5, cusumThreshold: 6 },
        beforeAfter: { beforeDays: 180, minAfterDays: 14 },
        keepRuns: 5,
        tiles: { urlTemplate: 'https://tiles.example/{z}/{x}/{y}.png', attribution: '© Example' },
      },
    });
  });

  it('ignores variables it does not know', () => {
    expect(loadConfig({ PATH: '/usr/bin', UNRELATED: 'x' })).toEqual(loadConfig({}));
  });

  describe('paths', () => {
    it('resolves a relative DATA_DIR against the working directory', () => {
      const config = loadConfig({ DATA_DIR: 'some/where' });
      expect(path.isAbsolute(config.dataDir)).toBe(true);
      expect(config.dataDir).toBe(path.join(process.cwd(), 'some', 'where'));
      expect(config.database.pgliteDir).toBe(path.join(process.cwd(), 'some', 'where', 'pglite'));
    });

    it('normalises a DATA_DIR with dot segments', () => {
      expect(loadConfig({ DATA_DIR: '/a/b/../c/./d/' }).dataDir).toBe('/a/c/d');
    });

    it('puts MEDIA_DIR under DATA_DIR by default', () => {
      expect(loadConfig({ DATA_DIR: '/var/lib/verity' }).media.dir).toBe('/var/lib/verity/media');
      expect(loadConfig({ DATA_DIR: 'rel' }).media.dir).toBe(path.join(process.cwd(), 'rel', 'media'));
    });

    it('resolves a relative MEDIA_DIR against the working directory, not DATA_DIR', () => {
      const config = loadConfig({ DATA_DIR: '/var/lib/verity', MEDIA_DIR: 'media-elsewhere' });
      expect(config.media.dir).toBe(path.join(process.cwd(), 'media-elsewhere'));
      expect(path.isAbsolute(config.media.dir)).toBe(true);
    });

    it.each(['', '   '])('treats MEDIA_DIR=%j as unset', (value) => {
      expect(loadConfig({ DATA_DIR: '/d', MEDIA_DIR: value }).media.dir).toBe('/d/media');
    });

    it('takes an empty DATA_DIR as unset, not as the working directory', () => {
      expect(loadConfig({ DATA_DIR: '' }).dataDir).toBe(path.resolve('./data'));
    });
  });

  describe('optional URLs and texts', () => {
    it.each(['DATABASE_URL', 'MQTT_URL', 'REDIS_URL', 'SIMULATOR_API_URL'])('treats an empty or blank %s as unset', (name) => {
      expect(loadConfig({ [name]: '' })).toEqual(loadConfig({}));
      expect(loadConfig({ [name]: '  \t' })).toEqual(loadConfig({}));
    });

    it.each(['DATABASE_URL', 'MQTT_URL', 'REDIS_URL', 'SIMULATOR_API_URL'])('rejects %s that is not a URL', (name) => {
      const error = configErrorOf({ [name]: 'not a url' });
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(new RegExp(`^${name}: `));
    });

    it('trims whitespace around a URL', () => {
      expect(loadConfig({ REDIS_URL: '  redis://cache:6379  ' }).redis.url).toBe('redis://cache:6379');
    });

    it('treats an empty MQTT_SHARED_GROUP, MQTT_CLIENT_ID and ADMIN_TOKEN as unset', () => {
      const config = loadConfig({ MQTT_SHARED_GROUP: '', MQTT_CLIENT_ID: '  ', ADMIN_TOKEN: ' ' });
      expect(config.mqtt.sharedGroup).toBeUndefined();
      expect(config.mqtt.clientId).toBeUndefined();
      expect(config.admin.token).toBeUndefined();
    });

    it('takes a broker account only as MQTT_USERNAME and MQTT_PASSWORD together', () => {
      expect(configErrorOf({ MQTT_USERNAME: 'verity-gateway' }).problems).toEqual([
        expect.stringMatching(/^MQTT_PASSWORD: required with the other/),
      ]);
      expect(configErrorOf({ MQTT_PASSWORD: 'secret' }).problems).toEqual([
        expect.stringMatching(/^MQTT_USERNAME: required with the other/),
      ]);
      expect(loadConfig({ MQTT_USERNAME: ' ', MQTT_PASSWORD: '' }).mqtt.credentials).toBeUndefined();
    });

    it('requires an ADMIN_TOKEN of at least 16 characters, counted after trimming', () => {
      expect(loadConfig({ ADMIN_TOKEN: '0123456789abcdef' }).admin.token).toBe('0123456789abcdef');
      expect(configErrorOf({ ADMIN_TOKEN: '0123456789abcde' }).message).toContain('ADMIN_TOKEN: must be at least 16 characters');
      expect(configErrorOf({ ADMIN_TOKEN: '  0123456789abcde  ' }).problems).toHaveLength(1);
    });
  });

  describe('numbers', () => {
    it.each(['MQTT_EMBEDDED_PORT', 'REVIEW_PORT', 'INGEST_HEALTH_PORT', 'WORKERS_HEALTH_PORT'])(
      'accepts %s from 0 to 65535 only',
      (name) => {
        expect(() => loadConfig({ [name]: '0' })).not.toThrow();
        expect(() => loadConfig({ [name]: '65535' })).not.toThrow();
        for (const bad of ['65536', '-1', '80.5', 'http', '1e9']) {
          expect(configErrorOf({ [name]: bad }).problems, `${name}=${bad}`).toEqual([expect.stringMatching(new RegExp(`^${name}: `))]);
        }
      },
    );

    it('bounds WORKER_CONCURRENCY to 1..64', () => {
      expect(loadConfig({ WORKER_CONCURRENCY: '1' }).workers.concurrency).toBe(1);
      expect(configErrorOf({ WORKER_CONCURRENCY: '0' }).message).toContain('WORKER_CONCURRENCY');
      expect(configErrorOf({ WORKER_CONCURRENCY: '65' }).message).toContain('WORKER_CONCURRENCY');
    });

    it('bounds SIMULATOR_DEVICES to 0..10000 and requires a positive SIMULATOR_INTERVAL_MS', () => {
      expect(loadConfig({ SIMULATOR_DEVICES: '10000' }).simulator.devices).toBe(10_000);
      expect(configErrorOf({ SIMULATOR_DEVICES: '10001' }).message).toContain('SIMULATOR_DEVICES');
      expect(configErrorOf({ SIMULATOR_DEVICES: '-1' }).message).toContain('SIMULATOR_DEVICES');
      expect(configErrorOf({ SIMULATOR_INTERVAL_MS: '0' }).message).toContain('SIMULATOR_INTERVAL_MS');
    });
  });

  describe('names', () => {
    it.each(['verity/v1', 'a/b/c', 'tenant_1-x'])('accepts the topic root %j', (value) => {
      expect(loadConfig({ MQTT_TOPIC_ROOT: value }).mqtt.topicRoot).toBe(value);
    });

    it.each(['verity/+/v1', 'verity/#', 'verity/v1/', 'verity v1', '#'])('rejects the topic root %j', (value) => {
      expect(configErrorOf({ MQTT_TOPIC_ROOT: value }).problems).toEqual([expect.stringMatching(/^MQTT_TOPIC_ROOT: /)]);
    });

    it.each(['a:b', 'a b', 'a/b'])('rejects the queue prefix %j', (value) => {
      expect(configErrorOf({ QUEUE_PREFIX: value }).problems).toEqual([expect.stringMatching(/^QUEUE_PREFIX: /)]);
    });

    it('rejects an unknown LOG_LEVEL', () => {
      expect(configErrorOf({ LOG_LEVEL: 'verbose' }).problems).toEqual([expect.stringMatching(/^LOG_LEVEL: /)]);
    });
  });

  describe('TRUST_PROXY', () => {
    it.each([
      ['false', false],
      ['1', 1],
      ['3', 3],
      ['10.0.0.7', ['10.0.0.7']],
      ['loopback, 10.0.0.0/8,fd00::/8', ['loopback', '10.0.0.0/8', 'fd00::/8']],
      ['::1', ['::1']],
    ])('reads %j', (value, expected) => {
      expect(loadConfig({ TRUST_PROXY: value }).http.trustProxy).toEqual(expected);
    });

    // `true` would let any client forge its address and the TLS flag: it must name whom to trust.
    it.each(['true', '0', 'proxy.example', '10.0.0.0/33', '10.0.0.1/8/2', '::1/129', '10.0.0.1,', 'yes'])('rejects %j', (value) => {
      expect(configErrorOf({ TRUST_PROXY: value }).problems).toEqual([expect.stringMatching(/^TRUST_PROXY: must be false, a hop count/)]);
    });
  });

  describe('ConfigError', () => {
    it('lists every bad variable in one error', () => {
      const error = configErrorOf({ REVIEW_PORT: '70000', LOG_LEVEL: 'loud', DATABASE_URL: 'nope', HTTP_HOST: 'localhost' });
      expect(error.name).toBe('ConfigError');
      expect(error.problems).toHaveLength(3);
      expect(error.message).toMatch(/^Invalid configuration:\n/);
      for (const name of ['REVIEW_PORT', 'LOG_LEVEL', 'DATABASE_URL']) {
        expect(error.message).toContain(`  - ${name}: `);
        expect(error.problems.filter((problem) => problem.startsWith(`${name}: `))).toHaveLength(1);
      }
      expect(error.message).not.toContain('HTTP_HOST');
    });

    it('is an Error and keeps the problems it was given', () => {
      const error = new ConfigError(['A: bad', 'B: worse']);
      expect(error).toBeInstanceOf(Error);
      expect(error.problems).toEqual(['A: bad', 'B: worse']);
      expect(error.message).toBe('Invalid configuration:\n  - A: bad\n  - B: worse');
    });
  });
});

describe('requireSetting', () => {
  it('returns a defined value unchanged, falsy ones included', () => {
    expect(requireSetting('postgres://x', 'DATABASE_URL', 'ingest')).toBe('postgres://x');
    expect(requireSetting(0, 'PORT', 'ingest')).toBe(0);
    expect(requireSetting('', 'X', 'ingest')).toBe('');
    expect(requireSetting(false, 'X', 'ingest')).toBe(false);
  });

  it('throws a ConfigError naming the variable and the role when the value is missing', () => {
    let caught: unknown;
    try {
      requireSetting(undefined, 'REDIS_URL', 'the workers');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^REDIS_URL: required when running the workers on its own/);
  });
});

describe('empty variables', () => {
  it('treat an empty port or count as unset, not zero', () => {
    const config = loadConfig({ REVIEW_PORT: '', SIMULATOR_DEVICES: ' ' });
    expect(config.http.reviewPort).toBe(8080);
    expect(config.simulator.devices).toBe(3);
  });
});

describe('media store selection', () => {
  it('defaults to the filesystem and needs a bucket for S3', () => {
    expect(loadConfig({}).media.store).toBe('filesystem');
    expect(configErrorOf({ MEDIA_STORE: 's3' }).message).toContain('S3_BUCKET');
    const s3 = loadConfig({ MEDIA_STORE: 's3', S3_BUCKET: 'evidence', S3_ENDPOINT: 'http://127.0.0.1:9000' }).media;
    expect(s3).toMatchObject({ store: 's3', s3: { bucket: 'evidence', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true } });
  });
});

describe('analytics settings', () => {
  it('refuses a time zone the runtime does not know', () => {
    expect(configErrorOf({ ANALYTICS_TIME_ZONE: 'Mars/Olympus_Mons' }).problems).toEqual([
      'ANALYTICS_TIME_ZONE: must be an IANA time zone such as Asia/Shanghai',
    ]);
  });

  it.each([
    ['ANALYTICS_FDR', '0'],
    ['ANALYTICS_FDR', '1'],
    ['ANALYTICS_H3_RESOLUTION', '16'],
    ['ANALYTICS_ANOMALY_RATIO', '1'],
    ['ANALYTICS_K_ANONYMITY', '0'],
  ])('refuses %s=%s', (name, value) => {
    expect(configErrorOf({ [name]: value }).problems[0]).toMatch(new RegExp(`^${name}: `));
  });

  it('accepts captures only while there is still time to review them', () => {
    expect(configErrorOf({ CAPTURE_MAX_AGE_HOURS: '120' }).problems).toEqual([
      'CAPTURE_MAX_AGE_HOURS: must be shorter than REVIEW_DEADLINE_DAYS, so every accepted capture can still be reviewed in time',
    ]);
    expect(loadConfig({ CAPTURE_MAX_AGE_HOURS: '119' }).ingest.maxCaptureAgeMs).toBe(119 * 3600 * 1000);
  });

  it('keeps footage the statutory minimum and erases a wrong record within the statutory maximum, with runs close enough to meet it', () => {
    expect(configErrorOf({ NON_EVIDENCE_KEEP_DAYS: '29' }).problems).toEqual([
      'NON_EVIDENCE_KEEP_DAYS: footage is kept at least 30 days (video-image regulation art. 17)',
    ]);
    expect(configErrorOf({ ERASURE_WITHIN_DAYS: '4' }).problems).toEqual([
      'ERASURE_WITHIN_DAYS: a confirmed-wrong record is erased within 3 days (MPS order 157 art. 22)',
    ]);
    expect(configErrorOf({ ERASURE_WITHIN_DAYS: '1', RETENTION_INTERVAL_MS: String(24 * 3600 * 1000) }).problems).toEqual([
      'RETENTION_INTERVAL_MS: must be shorter than ERASURE_WITHIN_DAYS, or an erasure could miss its deadline',
    ]);
    expect(loadConfig({ ERASURE_WITHIN_DAYS: '1', RETENTION_INTERVAL_MS: String(24 * 3600 * 1000 - 1) }).retention.everyMs).toBe(
      24 * 3600 * 1000 - 1,
    );
  });

  it('needs a recent trend window shorter than the screening period', () => {
    expect(configErrorOf({ ANALYTICS_SCREEN_DAYS: '90', ANALYTICS_TREND_RECENT_DAYS: '90' }).problems).toEqual([
      'ANALYTICS_TREND_RECENT_DAYS: must be fewer than ANALYTICS_SCREEN_DAYS',
    ]);
  });
});
