import { sql } from 'drizzle-orm';
import { CAPTURE_STATES } from '../core/domain/capture-lifecycle.js';
import { WINDOW_SOURCES } from '../core/domain/fault-window.js';
import { DECIDING_ROLES } from '../core/domain/roles.js';
import {
  type AnyPgColumn,
  bigint,
  boolean,
  bigserial,
  check,
  customType,
  date,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export const deviceKind = pgEnum('device_kind', ['traffic_camera', 'speed_radar', 'noise_sensor', 'emission_sensor', 'weigh_in_motion']);
export const deviceStatus = pgEnum('device_status', ['enabled', 'disabled', 'revoked']);
export const certificationKind = pgEnum('certification_kind', [
  'legal_review',
  'technical_review',
  'metrological_verification',
  'signage',
  'location_publication',
]);
export const captureState = pgEnum('capture_state', CAPTURE_STATES);

const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (value) => Buffer.from(value),
});

const moment = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const devices = pgTable('devices', {
  id: text('id').primaryKey(),
  kind: deviceKind('kind').notNull(),
  model: text('model').notNull(),
  serial: text('serial').notNull(),
  agency: text('agency').notNull(),
  publicKeyPem: text('public_key_pem').notNull(),
  status: deviceStatus('status').notNull().default('enabled'),
  road: text('road').notNull(),
  direction: text('direction').notNull(),
  latitude: doublePrecision('latitude').notNull(),
  longitude: doublePrecision('longitude').notNull(),
  enrolledAt: moment('enrolled_at').notNull().defaultNow(),
});

export const deviceCertifications = pgTable(
  'device_certifications',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    deviceId: text('device_id')
      .notNull()
      .references(() => devices.id),
    kind: certificationKind('kind').notNull(),
    reference: text('reference').notNull(),
    validFrom: moment('valid_from').notNull(),
    validTo: moment('valid_to').notNull(),
    documentSha256: text('document_sha256'),
    recordedAt: moment('recorded_at').notNull().defaultNow(),
    /** Who made the record; null on records kept before this was. */
    recordedBy: text('recorded_by'),
    /** A back-dated record (valid before it was made) counts for that past only once a second person confirms it. */
    confirmedBy: text('confirmed_by'),
    confirmedAt: moment('confirmed_at'),
  },
  (table) => [
    index('device_certifications_device_idx').on(table.deviceId),
    check('certification_period_ordered', sql`${table.validTo} > ${table.validFrom}`),
    check('certification_confirmation_complete', sql`(${table.confirmedBy} IS NULL) = (${table.confirmedAt} IS NULL)`),
    check('certification_needs_two_people', sql`${table.confirmedBy} IS NULL OR ${table.confirmedBy} IS DISTINCT FROM ${table.recordedBy}`),
  ],
);

/**
 * Every key a device has signed with: the gateway verifies a capture with the key valid when
 * it was made. The current key also stays in `devices.public_key_pem` (health reports use it).
 */
export const deviceKeys = pgTable(
  'device_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    deviceId: text('device_id')
      .notNull()
      .references(() => devices.id),
    publicKeyPem: text('public_key_pem').notNull(),
    /** SHA-256 of the SPKI DER, hex. */
    fingerprint: text('fingerprint').notNull(),
    validFrom: moment('valid_from').notNull(),
    validTo: moment('valid_to'),
    reason: text('reason').notNull(),
  },
  (table) => [
    index('device_keys_device_idx').on(table.deviceId, table.validFrom),
    uniqueIndex('device_keys_one_current_key')
      .on(table.deviceId)
      .where(sql`${table.validTo} IS NULL`),
    check('device_key_period_ordered', sql`${table.validTo} IS NULL OR ${table.validTo} >= ${table.validFrom}`),
  ],
);

/**
 * The public keys gateways sign acknowledgements with, recorded by each gateway as it starts so
 * the review server (perhaps another container) can publish them to devices. Kept after a
 * rotation: a device verifies an ack with the key its `gatewayKey` names.
 */
export const gatewayKeys = pgTable(
  'gateway_keys',
  {
    /** SHA-256 of the SPKI DER, hex. */
    fingerprint: text('fingerprint').primaryKey(),
    publicKeyPem: text('public_key_pem').notNull(),
    firstUsedAt: moment('first_used_at').notNull().defaultNow(),
    /** The key of the most recent start is the current one. */
    lastStartedAt: moment('last_started_at').notNull().defaultNow(),
  },
  (table) => [check('gateway_key_fingerprint_hex', sql`${table.fingerprint} ~ '^[0-9a-f]{64}$'`)],
);

/**
 * The password a device logs in to the broker with, as Mosquitto's `$7$` hash only: the
 * password itself is shown once, in the enrolment answer. Kept apart from `devices` so no
 * listing of devices can carry it. `npm run broker:passwords` writes these to the broker.
 */
export const deviceBrokerCredentials = pgTable('device_broker_credentials', {
  deviceId: text('device_id')
    .primaryKey()
    .references(() => devices.id),
  passwordHash: text('password_hash').notNull(),
  issuedAt: moment('issued_at').notNull().defaultNow(),
});

/**
 * One row per distinct message received on the captures topic, accepted or not: a
 * quarantined capture keeps the device id it claimed even when no such device exists,
 * so device_id deliberately has no foreign key.
 */
export const captures = pgTable(
  'captures',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    messageSha256: text('message_sha256').notNull(),
    deviceId: text('device_id'),
    deviceCaptureId: text('device_capture_id'),
    state: captureState('state').notNull(),
    quarantineReasons: jsonb('quarantine_reasons').$type<{ code: string; detail: string }[]>(),
    violationType: text('violation_type'),
    capturedAt: moment('captured_at'),
    receivedAt: moment('received_at').notNull().defaultNow(),
    latitude: doublePrecision('latitude'),
    longitude: doublePrecision('longitude'),
    manifest: jsonb('manifest'),
    rawMessage: bytea('raw_message').notNull(),
    /** The malfunction windows that excluded this capture (law L4); set exactly when excluded. */
    exclusionWindowIds: jsonb('exclusion_window_ids').$type<string[]>(),
    /** Bumped each time screening re-admits the capture, so an earlier round's decisions never count again. */
    reviewRound: integer('review_round').notNull().default(0),
    /** The one act this approved capture belongs to (law L10); cleared if the capture leaves 'approved'. */
    incidentId: uuid('incident_id').references((): AnyPgColumn => incidents.id),
    /** When retention or erasure removed its personal data; the row stays as a hash-only tombstone (capture_tombstones). */
    purgedAt: moment('purged_at'),
  },
  (table) => [
    uniqueIndex('captures_message_sha256_key').on(table.messageSha256),
    uniqueIndex('captures_accepted_device_capture_key')
      .on(table.deviceId, table.deviceCaptureId)
      .where(sql`${table.state} <> 'quarantined'`),
    index('captures_state_received_idx').on(table.state, table.receivedAt),
    check(
      'quarantine_has_reason',
      sql`(${table.state} = 'quarantined') = (${table.quarantineReasons} IS NOT NULL AND jsonb_array_length(${table.quarantineReasons}) > 0)`,
    ),
    check(
      'exclusion_names_its_windows',
      sql`(${table.state} = 'excluded') = (${table.exclusionWindowIds} IS NOT NULL AND jsonb_array_length(${table.exclusionWindowIds}) > 0)`,
    ),
    check('incident_holds_approved_captures', sql`${table.incidentId} IS NULL OR ${table.state} = 'approved'`),
    index('captures_state_captured_idx').on(table.state, table.capturedAt),
    check(
      'accepted_capture_is_complete',
      sql`${table.state} = 'quarantined' OR (${table.deviceId} IS NOT NULL AND ${table.deviceCaptureId} IS NOT NULL AND ${table.capturedAt} IS NOT NULL AND (${table.manifest} IS NOT NULL OR ${table.purgedAt} IS NOT NULL))`,
    ),
    check(
      'purged_capture_keeps_no_personal_data',
      sql`${table.purgedAt} IS NULL OR (${table.manifest} IS NULL AND octet_length(${table.rawMessage}) = 0)`,
    ),
  ],
);

export const purgeReason = pgEnum('purge_reason', ['retention', 'erasure', 'evidence_retention']);

/**
 * What is left of a capture whose personal data was purged (docs/party.md): its hashes, why and
 * when. Written once, in the purge's transaction; a trigger refuses changes.
 */
export const captureTombstones = pgTable('capture_tombstones', {
  captureId: uuid('capture_id')
    .primaryKey()
    .references(() => captures.id),
  messageSha256: text('message_sha256').notNull(),
  mediaSha256s: jsonb('media_sha256s').$type<string[]>().notNull(),
  reason: purgeReason('reason').notNull(),
  /** The state the capture was in, and for an erasure the statutory reject reason. */
  state: captureState('state').notNull(),
  rejectReasonCode: text('reject_reason_code'),
  /** When the clock that ran out started: the decision, exclusion or receipt it counts from. */
  clockStartedAt: moment('clock_started_at').notNull(),
  purgedAt: moment('purged_at').notNull(),
});

/** Content-addressed: the SHA-256 is the identity, so the same bytes are stored once. */
export const media = pgTable('media', {
  sha256: text('sha256').primaryKey(),
  sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull(),
  contentType: text('content_type').notNull(),
  width: integer('width'),
  height: integer('height'),
  storedAt: moment('stored_at').notNull().defaultNow(),
});

export const captureMedia = pgTable(
  'capture_media',
  {
    captureId: uuid('capture_id')
      .notNull()
      .references(() => captures.id),
    mediaSha256: text('media_sha256')
      .notNull()
      .references(() => media.sha256),
    name: text('name').notNull(),
  },
  (table) => [primaryKey({ columns: [table.captureId, table.name] })],
);

export const mediaDerivatives = pgTable(
  'media_derivatives',
  {
    sourceSha256: text('source_sha256')
      .notNull()
      .references(() => media.sha256),
    kind: text('kind').notNull(),
    derivedSha256: text('derived_sha256')
      .notNull()
      .references(() => media.sha256),
    createdAt: moment('created_at').notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.sourceSha256, table.kind] })],
);

/** Chunks of media waiting for their capture's manifest; shared by every gateway instance. */
export const mediaChunks = pgTable(
  'media_chunks',
  {
    sha256: text('sha256').notNull(),
    chunkIndex: integer('chunk_index').notNull(),
    chunkCount: integer('chunk_count').notNull(),
    deviceId: text('device_id').notNull(),
    data: bytea('data').notNull(),
    receivedAt: moment('received_at').notNull().defaultNow(),
  },
  // Keyed by device too: chunks another client publishes under this device's file hash must
  // never stand in for, or block, the chunks the device itself sends.
  // With the chunk count too: a file resent in another chunk size is a second set, assembled on its own.
  (table) => [primaryKey({ columns: [table.sha256, table.deviceId, table.chunkCount, table.chunkIndex] })],
);

/** Jobs to hand to the queue, written in the same transaction as the state they follow from. */
export const outbox = pgTable(
  'outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    queue: text('queue').notNull(),
    jobName: text('job_name').notNull(),
    jobId: text('job_id').notNull(),
    payload: jsonb('payload').notNull(),
    createdAt: moment('created_at').notNull().defaultNow(),
    dispatchedAt: moment('dispatched_at'),
  },
  (table) => [
    index('outbox_pending_idx')
      .on(table.id)
      .where(sql`${table.dispatchedAt} IS NULL`),
  ],
);

/** Append-only and hash-chained; a trigger in the migrations refuses UPDATE and DELETE. */
export const auditLog = pgTable('audit_log', {
  seq: bigserial('seq', { mode: 'number' }).primaryKey(),
  recordedAt: moment('recorded_at').notNull(),
  actor: text('actor').notNull(),
  action: text('action').notNull(),
  subjectType: text('subject_type').notNull(),
  subjectId: text('subject_id').notNull(),
  details: jsonb('details').notNull(),
  previousHash: text('previous_hash').notNull(),
  hash: text('hash').notNull().unique(),
});

export const windowSource = pgEnum('window_source', WINDOW_SOURCES);

export const healthEventKind = pgEnum('health_event_kind', ['heartbeat', 'self_test', 'fault_report', 'clock_sync', 'offline']);

/** What devices report about themselves, as received; windows are derived from these. */
export const deviceHealthEvents = pgTable(
  'device_health_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    deviceId: text('device_id')
      .notNull()
      .references(() => devices.id),
    kind: healthEventKind('kind').notNull(),
    reportedAt: moment('reported_at').notNull(),
    receivedAt: moment('received_at').notNull().defaultNow(),
    payload: jsonb('payload').notNull(),
    /** SHA-256 of the envelope as received; null only for reports stored before replay protection. */
    messageSha256: text('message_sha256'),
  },
  (table) => [
    index('device_health_events_device_idx').on(table.deviceId, table.reportedAt),
    index('device_health_events_kind_idx').on(table.deviceId, table.kind, table.reportedAt),
    // The same signed bytes count once: a replay is refused, never a second event.
    uniqueIndex('device_health_events_one_message').on(table.deviceId, table.messageSha256),
  ],
);

/**
 * Periods in which a device was not working properly (law L4). Captures inside an active
 * window are excluded; withdrawing a window (a false alarm) is a recorded act, never a delete.
 */
export const malfunctionWindows = pgTable(
  'malfunction_windows',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    deviceId: text('device_id')
      .notNull()
      .references(() => devices.id),
    source: windowSource('source').notNull(),
    startsAt: moment('starts_at').notNull(),
    endsAt: moment('ends_at'),
    reason: text('reason').notNull(),
    detail: jsonb('detail').notNull().default({}),
    recordedBy: text('recorded_by').notNull(),
    recordedAt: moment('recorded_at').notNull().defaultNow(),
    withdrawnAt: moment('withdrawn_at'),
    withdrawnBy: text('withdrawn_by'),
    withdrawalReason: text('withdrawal_reason'),
  },
  (table) => [
    index('malfunction_windows_device_idx').on(table.deviceId, table.startsAt),
    check('window_period_ordered', sql`${table.endsAt} IS NULL OR ${table.endsAt} > ${table.startsAt}`),
    check(
      'withdrawal_is_explained',
      sql`(${table.withdrawnAt} IS NULL) = (${table.withdrawnBy} IS NULL) AND (${table.withdrawnAt} IS NULL) = (${table.withdrawalReason} IS NULL)`,
    ),
  ],
);

/**
 * The only way back from a malfunction exclusion (law L4): evidence that the party sabotaged
 * the device or its data, recorded by one qualified person and confirmed by a different one.
 */
export const tamperingFindings = pgTable(
  'tampering_findings',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    captureId: uuid('capture_id')
      .notNull()
      .references(() => captures.id),
    windowId: uuid('window_id')
      .notNull()
      .references(() => malfunctionWindows.id),
    evidence: text('evidence').notNull(),
    recordedBy: text('recorded_by').notNull(),
    recordedAt: moment('recorded_at').notNull().defaultNow(),
    confirmedBy: text('confirmed_by'),
    confirmedAt: moment('confirmed_at'),
  },
  (table) => [
    index('tampering_findings_capture_idx').on(table.captureId),
    check('tampering_needs_two_people', sql`${table.confirmedBy} IS NULL OR ${table.confirmedBy} <> ${table.recordedBy}`),
    check('tampering_confirmation_complete', sql`(${table.confirmedBy} IS NULL) = (${table.confirmedAt} IS NULL)`),
  ],
);

/** Quality measures of an image or video, shown to reviewers as flags, never as verdicts. */
export const mediaQuality = pgTable('media_quality', {
  sha256: text('sha256')
    .primaryKey()
    .references(() => media.sha256),
  width: integer('width'),
  height: integer('height'),
  sharpness: doublePrecision('sharpness'),
  meanLuminance: doublePrecision('mean_luminance'),
  darkClippedFraction: doublePrecision('dark_clipped_fraction'),
  brightClippedFraction: doublePrecision('bright_clipped_fraction'),
  durationSeconds: doublePrecision('duration_seconds'),
  probe: jsonb('probe'),
  flags: jsonb('flags').$type<string[]>().notNull().default([]),
  measuredAt: moment('measured_at').notNull().defaultNow(),
});

/**
 * People who log in (laws L7, L9). A deciding role needs an enforcement certificate on record;
 * whether it is still valid is checked at the moment of each decision.
 */
export const people = pgTable(
  'people',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    username: text('username').notNull().unique(),
    displayName: text('display_name').notNull(),
    passwordHash: text('password_hash').notNull(),
    roles: jsonb('roles').$type<string[]>().notNull(),
    certificateNumber: text('certificate_number'),
    certificateExpiresAt: moment('certificate_expires_at'),
    createdAt: moment('created_at').notNull().defaultNow(),
    disabledAt: moment('disabled_at'),
  },
  (table) => [
    check('person_certificate_complete', sql`(${table.certificateNumber} IS NULL) = (${table.certificateExpiresAt} IS NULL)`),
    check(
      'deciding_role_needs_certificate',
      sql`${table.certificateNumber} IS NOT NULL OR NOT (${table.roles} ?| array[${sql.raw(DECIDING_ROLES.map((role) => `'${role}'`).join(', '))}])`,
    ),
  ],
);

/** Server-side sessions: the cookie holds a random token, the table only its SHA-256. */
export const sessions = pgTable(
  'sessions',
  {
    tokenSha256: text('token_sha256').primaryKey(),
    personId: uuid('person_id')
      .notNull()
      .references(() => people.id),
    createdAt: moment('created_at').notNull().defaultNow(),
    expiresAt: moment('expires_at').notNull(),
    endedAt: moment('ended_at'),
  },
  (table) => [index('sessions_person_idx').on(table.personId)],
);

/**
 * Failed-login counters (rate-limiter-flexible's Drizzle store, which names the columns): one
 * row per client address and one per username at an address, so guessing from one address
 * never locks the person out at another. Only counts and expiry times; no password, no outcome.
 */
export const loginThrottle = pgTable('login_throttle', {
  key: text('key').primaryKey(),
  points: integer('points').notNull(),
  expire: moment('expire'),
});

/** Which devices a person administers: they may not review those devices' captures (law L9). */
export const deviceAdministrators = pgTable(
  'device_administrators',
  {
    personId: uuid('person_id')
      .notNull()
      .references(() => people.id),
    deviceId: text('device_id')
      .notNull()
      .references(() => devices.id),
  },
  (table) => [primaryKey({ columns: [table.personId, table.deviceId] })],
);

/** One reviewer holds a capture at a time; a lapsed lease may be taken over. */
export const reviewClaims = pgTable(
  'review_claims',
  {
    captureId: uuid('capture_id')
      .primaryKey()
      .references(() => captures.id),
    personId: uuid('person_id')
      .notNull()
      .references(() => people.id),
    claimedAt: moment('claimed_at').notNull(),
    expiresAt: moment('expires_at').notNull(),
  },
  (table) => [index('review_claims_person_idx').on(table.personId)],
);

/** The maintained list of reasons to reject, starting from the statutory erasure cases. */
export const rejectReasons = pgTable('reject_reasons', {
  code: text('code').primaryKey(),
  label: text('label').notNull(),
  statutory: boolean('statutory').notNull().default(false),
  retiredAt: moment('retired_at'),
});

export const reviewStep = pgEnum('review_step', ['first', 'second']);
export const reviewOutcome = pgEnum('review_outcome', ['approved', 'rejected', 'escalated']);

/**
 * Every decision a qualified person takes, append-only (a trigger refuses changes). The unique
 * indexes are the two-person rule in the database: one decision per step, and one person never
 * takes two steps on the same capture in the same round.
 */
export const reviewDecisions = pgTable(
  'review_decisions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    captureId: uuid('capture_id')
      .notNull()
      .references(() => captures.id),
    round: integer('round').notNull(),
    step: reviewStep('step').notNull(),
    outcome: reviewOutcome('outcome').notNull(),
    personId: uuid('person_id')
      .notNull()
      .references(() => people.id),
    /** The certificate that qualified the person at the time, kept as it was. */
    certificateNumber: text('certificate_number').notNull(),
    reasonCode: text('reason_code').references(() => rejectReasons.code),
    note: text('note'),
    /** Why an approval came after the statutory review deadline; evidence packages flag it. */
    lateReason: text('late_reason'),
    decidedAt: moment('decided_at').notNull().defaultNow(),
  },
  (table) => [
    // A reviewer's own recent decisions, newest first, on the review page.
    index('review_decisions_person_idx').on(table.personId, table.decidedAt),
    uniqueIndex('review_decisions_one_per_step')
      .on(table.captureId, table.round, table.step)
      .where(sql`${table.outcome} <> 'escalated'`),
    uniqueIndex('review_decisions_one_step_per_person')
      .on(table.captureId, table.round, table.personId)
      .where(sql`${table.outcome} <> 'escalated'`),
    check('rejection_has_reason', sql`(${table.outcome} = 'rejected') = (${table.reasonCode} IS NOT NULL)`),
    check('escalation_is_explained', sql`${table.outcome} <> 'escalated' OR length(${table.note}) > 0`),
    check(
      'late_reason_on_approvals',
      sql`${table.lateReason} IS NULL OR (${table.outcome} = 'approved' AND length(${table.lateReason}) > 0)`,
    ),
  ],
);

/** Notes and pre-screening by anyone who may view the capture, auxiliary staff included. */
export const captureAnnotations = pgTable(
  'capture_annotations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    captureId: uuid('capture_id')
      .notNull()
      .references(() => captures.id),
    personId: uuid('person_id')
      .notNull()
      .references(() => people.id),
    kind: text('kind').notNull(),
    note: text('note').notNull(),
    createdAt: moment('created_at').notNull().defaultNow(),
  },
  (table) => [index('capture_annotations_capture_idx').on(table.captureId)],
);

/** Approved captures of one act: same subject, violation and stretch within a window (law L10). */
export const incidents = pgTable(
  'incidents',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    subject: text('subject').notNull(),
    violationType: text('violation_type').notNull(),
    road: text('road').notNull(),
    direction: text('direction').notNull(),
    firstCapturedAt: moment('first_captured_at').notNull(),
    lastCapturedAt: moment('last_captured_at').notNull(),
    createdAt: moment('created_at').notNull().defaultNow(),
    /** Set when the incident holds no captures any more: merged into others, or emptied by exclusions. Kept, never deleted. */
    closedAt: moment('closed_at'),
    /** The incidents that took its captures; empty when none are left. */
    closedInto: jsonb('closed_into').$type<string[]>(),
  },
  (table) => [
    index('incidents_grouping_idx').on(table.subject, table.violationType, table.road, table.direction, table.lastCapturedAt),
    check('incident_closure_complete', sql`(${table.closedAt} IS NULL) = (${table.closedInto} IS NULL)`),
  ],
);

/** Signed chain heads: a later rewrite of the whole log after one of these no longer matches it. */
export const auditCheckpoints = pgTable('audit_checkpoints', {
  seq: bigint('seq', { mode: 'number' })
    .primaryKey()
    .references(() => auditLog.seq),
  hash: text('hash').notNull(),
  signedAt: moment('signed_at').notNull(),
  keyFingerprint: text('key_fingerprint').notNull(),
  signature: text('signature').notNull(),
});

export const analyticsCountState = pgEnum('analytics_count_state', ['approved', 'excluded']);

/**
 * Approved and excluded captures counted per local day, device, H3 cell and violation type.
 * Every report reads this (never the captures table), so reports stay fast however many
 * captures there are; the analysis job keeps it current incrementally.
 */
export const analyticsDailyCounts = pgTable(
  'analytics_daily_counts',
  {
    day: date('day', { mode: 'string' }).notNull(),
    deviceId: text('device_id').notNull(),
    cell: text('cell').notNull(),
    violationType: text('violation_type').notNull(),
    state: analyticsCountState('state').notNull(),
    count: integer('count').notNull(),
  },
  (table) => [
    primaryKey({ name: 'analytics_daily_counts_pk', columns: [table.day, table.deviceId, table.cell, table.violationType, table.state] }),
    index('analytics_daily_counts_cell_idx').on(table.cell, table.day),
    index('analytics_daily_counts_device_idx').on(table.deviceId, table.day),
    check('analytics_daily_count_positive', sql`${table.count} > 0`),
  ],
);

/**
 * The same captures by local hour of the week (0 = Monday 00:00) per month: a day-by-hour
 * table would hold nearly as many rows as there are captures, a month keeps it small.
 */
export const analyticsHourlyCounts = pgTable(
  'analytics_hourly_counts',
  {
    month: date('month', { mode: 'string' }).notNull(),
    deviceId: text('device_id').notNull(),
    cell: text('cell').notNull(),
    violationType: text('violation_type').notNull(),
    state: analyticsCountState('state').notNull(),
    hourOfWeek: smallint('hour_of_week').notNull(),
    count: integer('count').notNull(),
  },
  (table) => [
    primaryKey({
      name: 'analytics_hourly_counts_pk',
      columns: [table.month, table.deviceId, table.cell, table.violationType, table.state, table.hourOfWeek],
    }),
    index('analytics_hourly_counts_cell_idx').on(table.cell, table.month),
    index('analytics_hourly_counts_device_idx').on(table.deviceId, table.month),
    check('analytics_hour_of_week_range', sql`${table.hourOfWeek} BETWEEN 0 AND 167`),
    check('analytics_hourly_count_positive', sql`${table.count} > 0`),
  ],
);

/** H3 cells of the positions captures were taken at (rounded to 1e-5°, about a metre), so SQL can join instead of calling h3. */
export const analyticsLocations = pgTable(
  'analytics_locations',
  {
    h3Resolution: smallint('h3_resolution').notNull(),
    latitudeE5: integer('latitude_e5').notNull(),
    longitudeE5: integer('longitude_e5').notNull(),
    cell: text('cell').notNull(),
  },
  (table) => [primaryKey({ name: 'analytics_locations_pk', columns: [table.h3Resolution, table.latitudeE5, table.longitudeE5] })],
);

/** How far aggregation has got: the last audit-log row whose capture changes are counted, and the settings counted with. */
export const analyticsWatermarks = pgTable('analytics_watermarks', {
  name: text('name').primaryKey(),
  auditSeq: bigint('audit_seq', { mode: 'number' }).notNull(),
  h3Resolution: smallint('h3_resolution').notNull(),
  timeZone: text('time_zone').notNull(),
  aggregatedAt: moment('aggregated_at').notNull(),
});

/** One screening of the network: its period, the settings it used, and a summary; results hang off it. */
export const analyticsRuns = pgTable(
  'analytics_runs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    startedAt: moment('started_at').notNull(),
    finishedAt: moment('finished_at'),
    periodFrom: date('period_from', { mode: 'string' }).notNull(),
    periodTo: date('period_to', { mode: 'string' }).notNull(),
    settings: jsonb('settings').notNull(),
    summary: jsonb('summary'),
  },
  (table) => [index('analytics_runs_finished_idx').on(table.finishedAt)],
);

export const analyticsSiteScope = pgEnum('analytics_site_scope', ['cell', 'device']);
export const hotspotCategory = pgEnum('hotspot_category', ['hotspot', 'spike', 'ordinary']);

/** Empirical Bayes screening result of one site and violation type in one run (docs/analytics.md). */
export const hotspotResults = pgTable(
  'hotspot_results',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => analyticsRuns.id, { onDelete: 'cascade' }),
    scope: analyticsSiteScope('scope').notNull(),
    siteId: text('site_id').notNull(),
    violationType: text('violation_type').notNull(),
    rank: integer('rank').notNull(),
    road: text('road'),
    kind: text('kind'),
    deviceIds: jsonb('device_ids').$type<string[]>().notNull(),
    latitude: doublePrecision('latitude').notNull(),
    longitude: doublePrecision('longitude').notNull(),
    referenceGroup: text('reference_group').notNull(),
    category: hotspotCategory('category').notNull().default('ordinary'),
    observed: integer('observed').notNull(),
    /** `observed` with spike days counted as the site's ordinary day: what the test, EB and rank use. */
    sustained: integer('sustained'),
    spikeDays: jsonb('spike_days').$type<{ day: string; observed: number; expected: number }[]>().notNull().default([]),
    exposureDays: integer('exposure_days').notNull(),
    predicted: doublePrecision('predicted').notNull(),
    dispersion: doublePrecision('dispersion').notNull(),
    priorDispersion: doublePrecision('prior_dispersion'),
    dispersionIndex: doublePrecision('dispersion_index'),
    ebWeight: doublePrecision('eb_weight').notNull(),
    ebExpected: doublePrecision('eb_expected').notNull(),
    ebLow: doublePrecision('eb_low').notNull(),
    ebHigh: doublePrecision('eb_high').notNull(),
    excess: doublePrecision('excess').notNull(),
    pValue: doublePrecision('p_value').notNull(),
    qValue: doublePrecision('q_value').notNull(),
    flagged: boolean('flagged').notNull(),
    recentPerDay: doublePrecision('recent_per_day'),
    baselinePerDay: doublePrecision('baseline_per_day'),
    trendRatio: doublePrecision('trend_ratio'),
    trendLow: doublePrecision('trend_low'),
    trendHigh: doublePrecision('trend_high'),
    giStar: doublePrecision('gi_star'),
  },
  (table) => [
    primaryKey({ name: 'hotspot_results_pk', columns: [table.runId, table.scope, table.siteId, table.violationType] }),
    index('hotspot_results_rank_idx').on(table.runId, table.scope, table.rank),
  ],
);

export const anomalyMetric = pgEnum('anomaly_metric', ['capture_rate', 'exclusion_rate']);
export const anomalyBasis = pgEnum('anomaly_basis', ['own_history', 'peers']);

/** A device's capture or exclusion rate against its own history or its peers, in one run. */
export const deviceAnomalies = pgTable(
  'device_anomalies',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => analyticsRuns.id, { onDelete: 'cascade' }),
    deviceId: text('device_id').notNull(),
    metric: anomalyMetric('metric').notNull(),
    basis: anomalyBasis('basis').notNull(),
    observed: doublePrecision('observed').notNull(),
    expected: doublePrecision('expected').notNull(),
    rateRatio: doublePrecision('rate_ratio'),
    ciLow: doublePrecision('ci_low'),
    ciHigh: doublePrecision('ci_high'),
    statistic: doublePrecision('statistic').notNull(),
    pValue: doublePrecision('p_value').notNull(),
    qValue: doublePrecision('q_value'),
    flagged: boolean('flagged').notNull(),
    detail: jsonb('detail').notNull().default({}),
  },
  (table) => [primaryKey({ name: 'device_anomalies_pk', columns: [table.runId, table.deviceId, table.metric, table.basis] })],
);

export const remediationCause = pgEnum('remediation_cause', [
  'signage',
  'road_design',
  'signal_timing',
  'device_placement',
  'enforcement_gap',
  'other',
]);
export const remediationStatus = pgEnum('remediation_status', ['open', 'fixed', 'dismissed']);

/**
 * An analyst's case on a hotspot (law L6: fix the cause, not fine forever): suspected cause,
 * the action taken and when, and how it ended. One open case per site and violation type.
 */
export const remediationCases = pgTable(
  'remediation_cases',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    scope: analyticsSiteScope('scope').notNull(),
    siteId: text('site_id').notNull(),
    violationType: text('violation_type').notNull(),
    suspectedCause: remediationCause('suspected_cause').notNull(),
    note: text('note'),
    actionTaken: text('action_taken'),
    actionDate: date('action_date', { mode: 'string' }),
    status: remediationStatus('status').notNull().default('open'),
    closingReason: text('closing_reason'),
    openedBy: text('opened_by').notNull(),
    openedAt: moment('opened_at').notNull().defaultNow(),
    actionRecordedBy: text('action_recorded_by'),
    actionRecordedAt: moment('action_recorded_at'),
    closedBy: text('closed_by'),
    closedAt: moment('closed_at'),
  },
  (table) => [
    uniqueIndex('remediation_cases_one_open_per_site')
      .on(table.scope, table.siteId, table.violationType)
      .where(sql`${table.status} = 'open'`),
    index('remediation_cases_site_idx').on(table.scope, table.siteId),
    check(
      'remediation_action_complete',
      sql`(${table.actionTaken} IS NULL) = (${table.actionDate} IS NULL) AND (${table.actionTaken} IS NULL) = (${table.actionRecordedBy} IS NULL) AND (${table.actionTaken} IS NULL) = (${table.actionRecordedAt} IS NULL)`,
    ),
    check(
      'remediation_closing_complete',
      sql`(${table.status} = 'open') = (${table.closedAt} IS NULL) AND (${table.closedAt} IS NULL) = (${table.closedBy} IS NULL) AND (${table.closedAt} IS NULL) = (${table.closingReason} IS NULL)`,
    ),
    check('remediation_fix_has_action', sql`${table.status} <> 'fixed' OR ${table.actionDate} IS NOT NULL`),
  ],
);
