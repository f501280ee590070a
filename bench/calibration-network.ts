import jstat from 'jstat';

/**
 * Randomized monitoring networks with a planted truth, for the calibration study of the
 * hotspot analysis. Written apart from the analysis and from core/domain/analytics-synthetic.ts
 * (its own generator and samplers), so that a flaw shared by the method and its test data
 * cannot hide: the analysis must hold on networks it was not designed around.
 *
 * A network has several roads, each of a volume class; speed radars on every road and
 * parking cameras on some. Each device's daily mean is its road's rate × its own site effect
 * (gamma or lognormal, mean 1, between-site dispersion k) × weekday and season, and its
 * daily count is negative binomial around it with its own day-to-day dispersion. Planted:
 * hotspots (1.5–4×, on any road, so some at low volume), fixes at some of them (the rate cut
 * by 0–60% from the action day), spike sites (one or two very high days at an ordinary
 * site), at times a road whose every device rises 8× over the last two weeks, and one
 * broken device (10× over the last two weeks).
 */
const { jStat } = jstat;

export interface NetworkParameters {
  seed: number;
  roads: number;
  /** Between-site dispersion k of the site effects (Var = k for a mean-1 effect). */
  betweenDispersion: number;
  effectShape: 'gamma' | 'lognormal';
  /** Largest day-to-day dispersion; each device draws its own from [0, this]. */
  maxDayDispersion: number;
  hotspotShare: number;
  spikeSites: number;
  roadChange: boolean;
  days: number;
  /** Day the fixes take effect (index into the days). */
  actionDay: number;
  /** The anomaly report's watch window: the last this many days. */
  watchDays: number;
}

export interface PlantedDevice {
  deviceId: string;
  road: string;
  kind: 'speed_radar' | 'traffic_camera';
  violationType: 'speeding' | 'illegal_parking';
  volumeClass: 'low' | 'mid' | 'high';
  /** Site effect × hotspot factor: the device's rate over its road's. */
  relativeRate: number;
  hotspotFactor: number;
  /** Share of the rate removed from the action day on; null when the site was not treated. */
  fix: number | null;
  spikeDays: number[];
  roadChange: boolean;
  broken: boolean;
  /** The expected count of each day, without spikes: the truth an estimate is judged by. */
  truePerDay: number[];
  daily: number[];
}

export interface Network {
  parameters: NetworkParameters;
  devices: PlantedDevice[];
}

const VOLUME_RATE = { low: 0.4, mid: 3, high: 15 } as const;
const PARKING_RATE = 1.2;
const WEEKDAY = [1.1, 1.05, 1.05, 1.1, 1.2, 0.8, 0.7];
const FIX_EFFECTS = [0, 0.2, 0.4, 0.6];
const ROAD_CHANGE_FACTOR = 8;
const BROKEN_FACTOR = 10;

/** Parameters drawn across the realistic range, from the seed alone. */
export function randomParameters(seed: number): NetworkParameters {
  const random = generator(seed ^ 0x5bd1e995);
  return {
    seed,
    roads: 4 + Math.floor(random() * 5),
    // Log-uniform from near 0 to 1: low-heterogeneity networks are where EB went wrong.
    betweenDispersion: Math.exp(Math.log(0.002) + random() * (Math.log(1) - Math.log(0.002))),
    effectShape: random() < 0.5 ? 'gamma' : 'lognormal',
    maxDayDispersion: random() * 0.6,
    hotspotShare: 0.03 + random() * 0.05,
    spikeSites: 2 + Math.floor(random() * 3),
    roadChange: random() < 0.5,
    days: 365,
    actionDay: 240,
    watchDays: 14,
  };
}

export function generateNetwork(parameters: NetworkParameters): Network {
  const random = generator(parameters.seed);
  const sample = samplers(random);
  const devices: PlantedDevice[] = [];
  const changedRoad = parameters.roadChange ? 0 : -1;
  for (let road = 0; road < parameters.roads; road++) {
    const volumeClass = (['low', 'mid', 'high'] as const)[road % 3]!;
    const radars = 30 + Math.floor(random() * 31);
    const parking = road % 2 === 0 ? 12 + Math.floor(random() * 10) : 0;
    for (let i = 0; i < radars + parking; i++) {
      const isParking = i >= radars;
      devices.push({
        deviceId: `r${road}-${isParking ? 'p' : 's'}${i}`,
        road: `Road ${road}`,
        kind: isParking ? 'traffic_camera' : 'speed_radar',
        violationType: isParking ? 'illegal_parking' : 'speeding',
        volumeClass,
        relativeRate: siteEffect(sample, parameters),
        hotspotFactor: 1,
        fix: null,
        spikeDays: [],
        roadChange: road === changedRoad && !isParking,
        broken: false,
        truePerDay: [],
        daily: [],
      });
    }
  }
  const order = shuffle(
    devices.map((_, index) => index),
    random,
  );
  const hotspots = order.slice(0, Math.max(2, Math.round(parameters.hotspotShare * devices.length)));
  hotspots.forEach((index, position) => {
    const device = devices[index]!;
    device.hotspotFactor = 1.5 + random() * 2.5;
    device.relativeRate *= device.hotspotFactor;
    // Every other hotspot is treated, with each fix effect in turn.
    if (position % 2 === 0) device.fix = FIX_EFFECTS[(position / 2) % FIX_EFFECTS.length]!;
  });
  const ordinary = order.slice(hotspots.length);
  for (const index of ordinary.slice(0, parameters.spikeSites)) {
    const days = 1 + Math.floor(random() * 2);
    devices[index]!.spikeDays = Array.from({ length: days }, () => Math.floor(random() * parameters.days)).sort((a, b) => a - b);
  }
  const broken = ordinary.slice(parameters.spikeSites).find((index) => !devices[index]!.roadChange);
  if (broken !== undefined) devices[broken]!.broken = true;
  const season = Array.from({ length: parameters.days }, (_, day) => 1 + 0.15 * Math.sin((2 * Math.PI * day) / 365));
  const watchFrom = parameters.days - parameters.watchDays;
  for (const device of devices) {
    const base = device.violationType === 'illegal_parking' ? PARKING_RATE : VOLUME_RATE[device.volumeClass];
    const dayDispersion = random() * parameters.maxDayDispersion;
    for (let day = 0; day < parameters.days; day++) {
      let mean = base * device.relativeRate * WEEKDAY[day % 7]! * season[day]!;
      if (device.fix !== null && day >= parameters.actionDay) mean *= 1 - device.fix;
      if ((device.roadChange || device.broken) && day >= watchFrom) mean *= device.broken ? BROKEN_FACTOR : ROAD_CHANGE_FACTOR;
      device.truePerDay.push(mean);
      let count = sample.negativeBinomial(mean, dayDispersion);
      if (device.spikeDays.includes(day)) count += Math.round(40 + mean * (15 + random() * 25));
      device.daily.push(count);
    }
  }
  return { parameters, devices };
}

function siteEffect(sample: Samplers, parameters: NetworkParameters): number {
  const k = parameters.betweenDispersion;
  if (parameters.effectShape === 'gamma') return sample.gamma(1 / k) * k;
  const sigma = Math.sqrt(Math.log1p(k));
  return Math.exp(sigma * sample.normal() - (sigma * sigma) / 2);
}

interface Samplers {
  normal(): number;
  gamma(shape: number): number;
  poisson(mean: number): number;
  negativeBinomial(mean: number, dispersion: number): number;
}

/** sfc32, seeded through splitmix32: a different generator from the one the unit tests use. */
export function generator(seed: number): () => number {
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  return () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return ((t >>> 0) + 0.5) / 4294967296;
  };
}

function samplers(random: () => number): Samplers {
  let spare: number | null = null;
  // Polar Box–Muller, keeping the second draw.
  const normal = () => {
    if (spare !== null) {
      const value = spare;
      spare = null;
      return value;
    }
    for (;;) {
      const u = 2 * random() - 1;
      const v = 2 * random() - 1;
      const r = u * u + v * v;
      if (r > 0 && r < 1) {
        const f = Math.sqrt((-2 * Math.log(r)) / r);
        spare = v * f;
        return u * f;
      }
    }
  };
  const gamma = (shape: number): number => {
    if (shape < 1) return gamma(shape + 1) * random() ** (1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      const x = normal();
      const v = (1 + c * x) ** 3;
      if (v > 0 && Math.log(random()) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  };
  // Inversion for small means, Hörmann's PTRS (transformed rejection) above: exact at both.
  const poisson = (mean: number): number => {
    if (mean <= 0) return 0;
    if (mean < 10) {
      let k = 0;
      let p = Math.exp(-mean);
      let cumulative = p;
      const u = random();
      while (u > cumulative && k < 1000) {
        k++;
        p *= mean / k;
        cumulative += p;
      }
      return k;
    }
    const slam = Math.sqrt(mean);
    const logMean = Math.log(mean);
    const b = 0.931 + 2.53 * slam;
    const a = -0.059 + 0.02483 * b;
    const invAlpha = 1.1239 + 1.1328 / (b - 3.4);
    const vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      const u = random() - 0.5;
      const v = random();
      const us = 0.5 - Math.abs(u);
      const k = Math.floor(((2 * a) / us + b) * u + mean + 0.43);
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (Math.log(v) + Math.log(invAlpha) - Math.log(a / (us * us) + b) <= -mean + k * logMean - jStat.gammaln(k + 1)) return k;
    }
  };
  return {
    normal,
    gamma,
    poisson,
    negativeBinomial: (mean, dispersion) => (dispersion > 0 ? poisson(gamma(1 / dispersion) * dispersion * mean) : poisson(mean)),
  };
}

function shuffle<T>(values: T[], random: () => number): T[] {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [values[i], values[j]] = [values[j]!, values[i]!];
  }
  return values;
}
