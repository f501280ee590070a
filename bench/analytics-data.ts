import { sql } from 'drizzle-orm';
import { addDays } from '../core/domain/analytics-calendar.js';
import { seededRandom } from '../core/domain/analytics-synthetic.js';
import type { Db } from '../db/client.js';
import { devices } from '../db/schema.js';

/**
 * Synthetic devices and captures written straight into Postgres, for the analytics tests and
 * benchmark, where the planted hotspots and faults must be known. Captures carry plates and
 * speeds like real ones, so a test can check that none of it ever reaches an analyst.
 */
export interface SyntheticDevice {
  id: string;
  road: string;
  kind?: 'traffic_camera' | 'speed_radar';
  latitude: number;
  longitude: number;
}

/** How many captures of one device, day, violation type and state to write. */
export interface CountRow {
  deviceId: string;
  day: string;
  violationType: string;
  state: 'approved' | 'excluded';
  count: number;
}

// Any syntactically plausible key will do: nothing verifies signatures of captures written here.
const PLACEHOLDER_KEY =
  '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n';

export async function insertSyntheticDevices(db: Db, list: readonly SyntheticDevice[]): Promise<void> {
  for (let start = 0; start < list.length; start += 1000) {
    await db.insert(devices).values(
      list.slice(start, start + 1000).map((device) => ({
        id: device.id,
        kind: device.kind ?? 'traffic_camera',
        model: 'Synthetic',
        serial: device.id,
        agency: 'Synthetic Agency',
        publicKeyPem: PLACEHOLDER_KEY,
        road: device.road,
        direction: 'northbound',
        latitude: device.latitude,
        longitude: device.longitude,
      })),
    );
  }
}

/**
 * Expands count rows into captures with generate_series, each at a random time of its local
 * day, at its device's position, with a random plate. Excluded captures name a placeholder
 * window, as the schema demands. Approved ones have no review decision behind them, so the
 * trigger that demands one is bypassed (session_replication_role = replica, which needs a
 * superuser): the analytics read only the captures' states. Returns the number written.
 */
export async function insertSyntheticCaptures(db: Db, rows: readonly CountRow[], timeZone: string): Promise<number> {
  let written = 0;
  const chunk = 20_000;
  for (let start = 0; start < rows.length; start += chunk) {
    const part = rows.slice(start, start + chunk).filter((row) => row.count > 0);
    if (part.length === 0) continue;
    await db.transaction(async (tx) => {
      await tx.execute(sql`set local session_replication_role = replica`);
      await tx.execute(sql`
      insert into captures (message_sha256, device_id, device_capture_id, state, violation_type, captured_at,
                            latitude, longitude, manifest, raw_message, exclusion_window_ids, review_round)
      select gen_random_uuid()::text, u."deviceId", gen_random_uuid()::text, u.state::capture_state, u."violationType",
             (u.day::timestamp + random() * interval '1 day') at time zone ${timeZone},
             d.latitude, d.longitude,
             -- readings the gateway accepts for the type (docs/protocol.md, Readings)
             jsonb_build_object('readings', jsonb_build_object('plate', 'GD-' || upper(substr(md5(random()::text), 1, 6)))
               || case u."violationType"
                    when 'speeding' then jsonb_build_object('speedKmh', 60 + floor(random() * 60)::int, 'limitKmh', 60)
                    when 'red_light' then jsonb_build_object('redForMs', floor(random() * 5000)::int)
                    else '{}'::jsonb
                  end),
             '\\x00'::bytea,
             case when u.state = 'excluded' then '["00000000-0000-0000-0000-000000000000"]'::jsonb end,
             1
      from jsonb_to_recordset(${JSON.stringify(part)}::jsonb)
             as u("deviceId" text, day date, "violationType" text, state text, count int)
      join devices d on d.id = u."deviceId"
      cross join lateral generate_series(1, u.count) g`);
    });
    written += part.reduce((sum, row) => sum + row.count, 0);
  }
  return written;
}

export interface NetworkOptions {
  seed: number;
  devices: number;
  roads: number;
  /** The network's last day; counts run for `days` days up to it. */
  lastDay: string;
  days: number;
  /** Mean events per device-day of each violation type; `red_light` only at every other device. */
  ratePerDay: { speeding: number; red_light: number };
  /** Negative binomial overdispersion of the ordinary sites' rates. */
  dispersion: number;
  hotspots: number;
  /** A hotspot's rate as a multiple of the network's. */
  hotspotFactor: number;
  excludedShare: number;
  /** One device whose capture rate jumps for its last days. */
  fault?: { factor: number; days: number };
  /** The first hotspot is fixed on `actionDay`, after which its rate is `factorAfter` times the network's. */
  remediation?: { actionDay: string; factorAfter: number };
}

export interface PlantedNetwork {
  devices: SyntheticDevice[];
  rows: CountRow[];
  /** Device ids of the planted hotspots (each device is alone in its H3 cell). */
  hotspots: string[];
  faulty: string | null;
}

/**
 * A grid of devices about 3 km apart (each in its own H3 cell at resolution 8), along
 * `roads` roads, with negative binomial background counts and planted hotspots, fault and
 * remediation at seeded positions.
 */
export function plantedNetwork(options: NetworkOptions): PlantedNetwork {
  const random = seededRandom(options.seed);
  const devices: SyntheticDevice[] = Array.from({ length: options.devices }, (_, i) => ({
    id: `syn-${String(i).padStart(5, '0')}`,
    road: `Road ${i % options.roads}`,
    latitude: 22.3 + Math.floor(i / 40) * 0.03,
    longitude: 113.6 + (i % 40) * 0.03,
  }));
  const shuffled = [...devices];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(random.uniform() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const hotspots = shuffled.slice(0, options.hotspots).map((device) => device.id);
  const faulty = options.fault ? shuffled[options.hotspots]!.id : null;
  const firstDay = addDays(options.lastDay, 1 - options.days);
  const rows: CountRow[] = [];
  for (const [index, device] of devices.entries()) {
    const planted = hotspots.indexOf(device.id);
    // An ordinary site's own rate is drawn once: the gamma mixing is what makes counts negative binomial across sites.
    const effect = random.gamma(1 / options.dispersion) * options.dispersion;
    const types = index % 2 === 0 ? (['speeding', 'red_light'] as const) : (['speeding'] as const);
    for (const violationType of types) {
      const base = options.ratePerDay[violationType];
      for (let offset = 0; offset < options.days; offset++) {
        const day = addDays(firstDay, offset);
        let rate = planted >= 0 && violationType === 'speeding' ? base * options.hotspotFactor : base * effect;
        if (planted === 0 && options.remediation && violationType === 'speeding' && day >= options.remediation.actionDay) {
          rate = base * options.remediation.factorAfter;
        }
        if (device.id === faulty && options.fault && offset >= options.days - options.fault.days) rate *= options.fault.factor;
        const count = random.poisson(rate);
        let excluded = 0;
        for (let n = 0; n < count; n++) if (random.uniform() < options.excludedShare) excluded++;
        if (count - excluded > 0) rows.push({ deviceId: device.id, day, violationType, state: 'approved', count: count - excluded });
        if (excluded > 0) rows.push({ deviceId: device.id, day, violationType, state: 'excluded', count: excluded });
      }
    }
  }
  return { devices, rows, hotspots, faulty };
}
