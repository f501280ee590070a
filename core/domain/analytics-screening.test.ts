import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { negativeBinomialUpperTail, poissonLognormalUpperTail } from './analytics-distributions.js';
import { empiricalBayes, fitReferenceGroups, getisOrdGiStar, rateRatio, screenSites, type SiteInput } from './analytics-screening.js';
import { seededRandom } from './analytics-synthetic.js';

const settings = { fdr: 0.05, minCount: 20, minGroupSites: 10 };

/** `observed` events spread as evenly as counts allow over `days` days: a site without spikes. */
const evenly = (observed: number, days: number) =>
  Array.from({ length: days }, (_, day) => Math.floor(observed / days) + (day < observed % days ? 1 : 0));

/** `observed` events on random days (the multinomial a Poisson day-by-day count gives, given its total). */
function randomDays(observed: number, days: number, random: ReturnType<typeof seededRandom>): number[] {
  const daily = new Array<number>(days).fill(0);
  for (let event = 0; event < observed; event++) daily[Math.floor(random.uniform() * days)]!++;
  return daily;
}

/** 200 sites over a year with a negative binomial background, and `planted` of them at `factor` times the rate. */
function network(
  seed: number,
  options: { sites?: number; planted?: number; factor?: number; ratePerDay?: number; dispersion?: number } = {},
) {
  const random = seededRandom(seed);
  const count = options.sites ?? 200;
  const planted = new Set(Array.from({ length: options.planted ?? 5 }, (_, i) => `site-${(i * 37 + seed) % count}`));
  const sites: SiteInput[] = [];
  for (let i = 0; i < count; i++) {
    const siteId = `site-${i}`;
    // Sites join the network at different times, so exposure differs.
    const exposureDays = 200 + Math.floor(random.uniform() * 166);
    const mean = (options.ratePerDay ?? 0.3) * exposureDays;
    // A planted hotspot is `factor` times the network's rate, with only Poisson noise around it:
    // drawing its own site effect too could make it an ordinary site by chance.
    const observed = planted.has(siteId)
      ? random.poisson(mean * (options.factor ?? 4))
      : random.negativeBinomial(mean, options.dispersion ?? 0.1);
    const recentObserved = Math.round(observed * (90 / exposureDays));
    sites.push({
      siteId,
      violationType: 'speeding',
      groups: ['speeding|traffic_camera', 'speeding'],
      observed,
      exposureDays,
      recent: { observed: recentObserved, exposureDays: 90 },
      daily: randomDays(observed, exposureDays, random),
    });
  }
  return { sites, planted };
}

/** One reference group of the given counts. */
const oneGroup = (members: { observed: number; exposureDays: number }[]) =>
  members.map((member) => ({ ...member, group: 'g', keys: ['g'] }));
const fitReferenceGroup = (members: { observed: number; exposureDays: number }[], alpha: number) =>
  fitReferenceGroups(oneGroup(members), alpha);

// Several tests screen dozens of networks; on a loaded two-core machine that takes more than the default 5 s.
describe('fitReferenceGroups', { timeout: 30_000 }, () => {
  it('recovers the rate and the dispersion of a negative binomial background', () => {
    const random = seededRandom(7);
    const members = Array.from({ length: 2000 }, () => ({ observed: random.negativeBinomial(50, 0.2), exposureDays: 100 }));
    const fit = fitReferenceGroup(members, 0.05).members[0]!;
    expect(fit.ratePerDay).toBeCloseTo(0.5, 1);
    expect(fit.dispersion).toBeGreaterThan(0.17);
    expect(fit.dispersion).toBeLessThan(0.23);
  });

  it('finds no overdispersion in Poisson counts', () => {
    const random = seededRandom(8);
    const members = Array.from({ length: 2000 }, () => ({ observed: random.poisson(30), exposureDays: 10 }));
    expect(fitReferenceGroup(members, 0.05).members[0]!.dispersion).toBeLessThan(0.005);
  });

  it('leaves hotspots out of the reference so they cannot widen the spread that hides them', () => {
    const random = seededRandom(9);
    const members = Array.from({ length: 200 }, (_, i) => ({
      observed: random.negativeBinomial(i < 5 ? 500 : 100, 0.05),
      exposureDays: 100,
    }));
    const fit = fitReferenceGroup(members, 0.05);
    expect(fit.outliers.slice(0, 5)).toEqual([0, 1, 2, 3, 4]);
    expect(fit.outliers.length).toBeLessThanOrEqual(6);
    expect(fit.members[0]!.ratePerDay).toBeCloseTo(1, 1);
    expect(fit.members[0]!.dispersion).toBeLessThan(0.1);
  });

  it('unmasks several hotspots in one group, which together would widen the spread enough to hide each other', () => {
    const random = seededRandom(12);
    const members = Array.from({ length: 50 }, (_, i) => ({
      observed: i < 3 ? random.poisson(4 * 220) : random.negativeBinomial(220, 0.1),
      exposureDays: 365,
    }));
    const fit = fitReferenceGroup(members, 0.05);
    expect(fit.outliers).toEqual([0, 1, 2]);
    expect(fit.members[3]!.dispersion).toBeLessThan(0.16);
  });

  it('judges each site without itself, so one very high site cannot mask itself', () => {
    const members = [
      { observed: 400, exposureDays: 100 },
      ...Array.from({ length: 30 }, (_, i) => ({ observed: 90 + (i % 20), exposureDays: 100 })),
    ];
    const fit = fitReferenceGroup(members, 0.05);
    expect(fit.outliers).toEqual([0]);
    expect(fit.members[0]!.ratePerDay).toBeCloseTo(2935 / 3000, 9);
    expect(fit.members[1]!.ratePerDay).not.toBe(fit.members[2]!.ratePerDay);
  });

  it('pools one dispersion over groups with different rates', () => {
    const random = seededRandom(13);
    const members = Array.from({ length: 600 }, (_, i) => {
      const group = `road-${i % 3}`;
      return { observed: random.negativeBinomial([50, 200, 800][i % 3]!, 0.1), exposureDays: 100, group, keys: [group, 'all'] };
    });
    const fit = fitReferenceGroups(members, 0.05);
    expect(fit.members[0]!.ratePerDay).toBeCloseTo(0.5, 1);
    expect(fit.members[2]!.ratePerDay).toBeCloseTo(8, 0);
    expect(fit.members[0]!.dispersion).toBeGreaterThan(0.08);
    expect(fit.members[0]!.dispersion).toBeLessThan(0.12);
  });

  it('has nothing to estimate from one site or no events', () => {
    expect(fitReferenceGroup([{ observed: 12, exposureDays: 10 }], 0.05)).toEqual({
      members: [{ ratePerDay: 0, dispersion: 0 }],
      outliers: [],
    });
    expect(
      fitReferenceGroup(
        [
          { observed: 0, exposureDays: 10 },
          { observed: 0, exposureDays: 5 },
        ],
        0.05,
      ),
    ).toEqual({
      members: [
        { ratePerDay: 0, dispersion: 0 },
        { ratePerDay: 0, dispersion: 0 },
      ],
      outliers: [],
    });
  });
});

describe('empiricalBayes', () => {
  it('weights the prediction by 1 / (1 + k·predicted)', () => {
    const eb = empiricalBayes(30, 10, 0.1);
    expect(eb.weight).toBeCloseTo(0.5, 12);
    expect(eb.expected).toBeCloseTo(20, 12);
    expect(eb.variance).toBeCloseTo(10, 12);
  });

  it('trusts a large count and doubts a small one', () => {
    expect(empiricalBayes(5000, 1000, 0.1).expected).toBeGreaterThan(4950);
    expect(empiricalBayes(3, 0.5, 0.1).expected).toBeLessThan(1);
  });

  it('gives an interval around the estimate from the gamma posterior', () => {
    const eb = empiricalBayes(30, 10, 0.1);
    expect(eb.interval[0]).toBeLessThan(eb.expected);
    expect(eb.interval[1]).toBeGreaterThan(eb.expected);
    // Posterior Gamma(shape 40, scale 0.5): mean 20, sd √10.
    expect(eb.interval[1] - eb.interval[0]).toBeCloseTo(2 * 1.96 * Math.sqrt(10), 0);
  });

  it('is the prediction when sites do not differ beyond chance', () => {
    expect(empiricalBayes(30, 10, 0)).toEqual({ weight: 1, expected: 10, interval: [10, 10], variance: 0 });
  });
});

describe('rateRatio', () => {
  it('compares rates per day with an exact interval', () => {
    const trend = rateRatio(60, 30, 100, 100)!;
    expect(trend.recentPerDay).toBe(2);
    expect(trend.baselinePerDay).toBe(1);
    expect(trend.rateRatio).toBe(2);
    expect(trend.interval[0]).toBeGreaterThan(1.3);
    expect(trend.interval[0]).toBeLessThan(2);
    expect(trend.interval[1]!).toBeGreaterThan(2);
    expect(trend.interval[1]!).toBeLessThan(3);
  });

  it('covers 1 when nothing changed', () => {
    const trend = rateRatio(30, 30, 100, 100)!;
    expect(trend.interval[0]).toBeLessThan(1);
    expect(trend.interval[1]!).toBeGreaterThan(1);
  });

  it('has no ratio without baseline events and no upper bound either', () => {
    expect(rateRatio(5, 10, 0, 10)).toEqual({
      recentPerDay: 0.5,
      baselinePerDay: 0,
      rateRatio: null,
      interval: [expect.any(Number), null],
    });
    expect(rateRatio(0, 10, 5, 10)!.interval[0]).toBe(0);
  });

  it('has no trend without exposure on both sides', () => {
    expect(rateRatio(0, 0, 10, 10)).toBeNull();
    expect(rateRatio(3, 10, 0, 0)).toBeNull();
  });
});

describe('screenSites', { timeout: 30_000 }, () => {
  it('finds every planted hotspot with few false alarms, over many networks', () => {
    let falseAlarms = 0;
    let nullSites = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const { sites, planted } = network(seed);
      const results = screenSites(sites, settings);
      const flagged = new Set(results.filter((r) => r.flagged).map((r) => r.siteId));
      for (const site of planted) expect(flagged.has(site), `seed ${seed}: ${site} not flagged`).toBe(true);
      falseAlarms += [...flagged].filter((site) => !planted.has(site)).length;
      nullSites += sites.length - planted.size;
    }
    // Benjamini–Hochberg at 5% expects about 0.05 × 5 / 0.95 ≈ 0.26 false flags per network of 195 ordinary sites.
    expect(falseAlarms / nullSites).toBeLessThan(0.005);
  }, 30_000);

  it('ranks the planted hotspots first', () => {
    const { sites, planted } = network(3);
    const top = screenSites(sites, settings).slice(0, planted.size);
    expect(new Set(top.map((r) => r.siteId))).toEqual(planted);
    expect(top.map((r) => r.rank)).toEqual([1, 2, 3, 4, 5]);
  });

  it('flags nothing in a network without hotspots, most of the time', () => {
    let networksWithFlags = 0;
    for (let seed = 100; seed < 140; seed++) {
      if (screenSites(network(seed, { planted: 0 }).sites, settings).some((r) => r.flagged)) networksWithFlags++;
    }
    // Under no hotspots at all, Benjamini–Hochberg bounds the chance of any flag by the FDR.
    expect(networksWithFlags / 40).toBeLessThanOrEqual(0.1);
  });

  it('never flags a site below the minimum count, however improbable its count', () => {
    const quiet: SiteInput[] = Array.from({ length: 100 }, (_, i) => ({
      siteId: `q-${i}`,
      violationType: 'red_light',
      groups: ['red_light'],
      observed: i === 0 ? 12 : i % 50 === 1 ? 1 : 0,
      exposureDays: 365,
      recent: { observed: 0, exposureDays: 90 },
      daily: evenly(i === 0 ? 12 : i % 50 === 1 ? 1 : 0, 365),
    }));
    const results = screenSites(quiet, settings);
    const lonely = results.find((r) => r.siteId === 'q-0')!;
    expect(lonely.qValue).toBeLessThan(0.05);
    expect(lonely.flagged).toBe(false);
    expect(results.some((r) => r.flagged)).toBe(false);
  });

  it('ranks but never flags a violation type with fewer sites than a reference needs', () => {
    const few: SiteInput[] = Array.from({ length: 8 }, (_, i) => ({
      siteId: `f-${i}`,
      violationType: 'wrong_way',
      groups: ['wrong_way'],
      observed: i === 0 ? 400 : 40,
      exposureDays: 100,
      recent: { observed: 0, exposureDays: 10 },
      daily: evenly(i === 0 ? 400 : 40, 100),
    }));
    const results = screenSites(few, settings);
    expect(results[0]!.siteId).toBe('f-0');
    expect(results[0]!.qValue).toBeLessThan(0.05);
    expect(results.some((r) => r.flagged)).toBe(false);
  });

  it('shrinks a short unlucky run below a long steady excess (regression to the mean)', () => {
    const base: SiteInput[] = Array.from({ length: 50 }, (_, i) => ({
      siteId: `b-${i}`,
      violationType: 'speeding',
      groups: ['speeding'],
      observed: 10 + (i % 5),
      exposureDays: 30,
      recent: { observed: 3, exposureDays: 10 },
      daily: evenly(10 + (i % 5), 30),
    }));
    const lucky = { ...base[0]!, siteId: 'lucky', observed: 30, exposureDays: 30, daily: evenly(30, 30) };
    const steady = { ...base[0]!, siteId: 'steady', observed: 250, exposureDays: 300, daily: evenly(250, 300) };
    const results = screenSites([...base, lucky, steady], settings);
    const get = (id: string) => results.find((r) => r.siteId === id)!;
    expect(get('lucky').ebExpected).toBeLessThan(get('lucky').observed);
    expect(get('steady').rank).toBeLessThan(get('lucky').rank);
  });

  it('compares a site with the most specific reference group big enough, and falls back to broader ones', () => {
    const make = (id: string, road: string, observed: number): SiteInput => ({
      siteId: id,
      violationType: 'speeding',
      groups: [`speeding|cam|${road}`, 'speeding|cam', 'speeding'],
      observed,
      exposureDays: 100,
      recent: { observed: 0, exposureDays: 10 },
      daily: evenly(observed, 100),
    });
    const busyRoad = Array.from({ length: 12 }, (_, i) => make(`busy-${i}`, 'ring', 1000 + i));
    const smallRoad = Array.from({ length: 3 }, (_, i) => make(`small-${i}`, 'lane', 10 + i));
    const results = screenSites([...busyRoad, ...smallRoad], settings);
    expect(results.find((r) => r.siteId === 'busy-0')!.referenceGroup).toBe('speeding|cam|ring');
    expect(results.find((r) => r.siteId === 'small-0')!.referenceGroup).toBe('speeding|cam');
  });

  it('reports the larger of the negative binomial and Poisson–lognormal tails as the p-value and adjusts over every site', () => {
    const { sites } = network(5);
    const results = screenSites(sites, settings);
    for (const result of results.slice(0, 10)) {
      const nb = negativeBinomialUpperTail(result.sustained, result.predicted, result.dispersion);
      const pln = poissonLognormalUpperTail(result.sustained, result.predicted, result.dispersion);
      expect(result.pValue).toBeCloseTo(nb > settings.fdr ? nb : Math.max(nb, pln), 12);
      expect(result.qValue).toBeGreaterThanOrEqual(result.pValue);
      expect(result.excess).toBeCloseTo(result.ebExpected - result.predicted, 9);
    }
  });
});

describe('screenSites on sites it was not tuned for', { timeout: 30_000 }, () => {
  /** Sites of one group with Poisson days at `perDay` each (no between-site spread), and a few changed. */
  function flat(seed: number, count: number, perDay: number, change: (i: number, daily: number[]) => number[] = (_, d) => d): SiteInput[] {
    const random = seededRandom(seed);
    return Array.from({ length: count }, (_, i) => {
      const daily = change(
        i,
        Array.from({ length: 365 }, () => random.poisson(perDay)),
      );
      const observed = daily.reduce((a, b) => a + b, 0);
      return {
        siteId: `s-${i}`,
        violationType: 'speeding',
        groups: ['speeding'],
        observed,
        exposureDays: 365,
        recent: { observed: daily.slice(-90).reduce((a, b) => a + b, 0), exposureDays: 90 },
        daily,
      };
    });
  }

  it('reports one or two extreme days as a spike with its dates, never as a hotspot', () => {
    const sites = flat(21, 100, 5, (i, daily) =>
      i === 7 ? daily.map((count, day) => (day === 40 || day === 41 ? count + 600 : count)) : daily,
    );
    const results = screenSites(sites, settings);
    const spike = results.find((r) => r.siteId === 's-7')!;
    expect(spike.flagged).toBe(false);
    expect(spike.category).toBe('spike');
    expect(spike.spikeDays.map((day) => day.index)).toEqual([40, 41]);
    expect(spike.sustained).toBeLessThan(spike.observed - 1000);
    expect(spike.rank).toBeGreaterThan(20);
    expect(results.filter((r) => r.category === 'spike').map((r) => r.siteId)).toEqual(['s-7']);
  });

  it('keeps the EB estimate of a real hotspot near its count where ordinary sites barely differ', () => {
    // No between-site spread at all among ordinary sites: a k from them alone (≈ 0) would pull the hotspot to its prediction.
    const sites = flat(22, 120, 5);
    const random = seededRandom(23);
    for (let i = 0; i < 3; i++) {
      const daily = Array.from({ length: 365 }, () => random.poisson(5 * 2.5));
      sites[i] = { ...sites[i]!, daily, observed: daily.reduce((a, b) => a + b, 0), recent: { observed: 0, exposureDays: 90 } };
    }
    const results = screenSites(sites, settings);
    for (let i = 0; i < 3; i++) {
      const hotspot = results.find((r) => r.siteId === `s-${i}`)!;
      expect(hotspot.flagged).toBe(true);
      // Its true expected count is 2.5 × 5 × 365 = 4562.5.
      expect(hotspot.ebInterval[0]).toBeLessThan(4562.5);
      expect(hotspot.ebInterval[1]).toBeGreaterThan(4562.5);
      expect(hotspot.ebInterval[0]).toBeGreaterThan(hotspot.predicted);
    }
  });

  it('ranks a strong low-volume hotspot above a mild high-volume one', () => {
    const random = seededRandom(24);
    const site = (id: string, perDay: number, group: string): SiteInput => {
      const daily = Array.from({ length: 365 }, () => random.negativeBinomial(perDay, 0.05));
      return {
        siteId: id,
        violationType: 'speeding',
        groups: [group, 'speeding'],
        observed: daily.reduce((a, b) => a + b, 0),
        exposureDays: 365,
        recent: { observed: 0, exposureDays: 90 },
        daily,
      };
    };
    const sites = [
      ...Array.from({ length: 60 }, (_, i) => site(`quiet-${i}`, 0.3, 'quiet')),
      ...Array.from({ length: 60 }, (_, i) => site(`busy-${i}`, 40, 'busy')),
    ];
    sites[0] = site('quiet-hotspot', 0.3 * 4, 'quiet');
    sites[60] = site('busy-hotspot', 40 * 1.4, 'busy');
    const results = screenSites(sites, settings);
    const quiet = results.find((r) => r.siteId === 'quiet-hotspot')!;
    const busy = results.find((r) => r.siteId === 'busy-hotspot')!;
    expect(quiet.flagged).toBe(true);
    expect(busy.flagged).toBe(true);
    expect(busy.excess).toBeGreaterThan(quiet.excess);
    expect(quiet.rank).toBeLessThan(busy.rank);
  });

  it('flags a site only when its EB interval lies above its prediction (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: 0.001, max: 1, noNaN: true }),
        fc.double({ min: 0.2, max: 20, noNaN: true }),
        (seed, dispersion, perDay) => {
          const random = seededRandom(seed);
          const sites: SiteInput[] = Array.from({ length: 80 }, (_, i) => {
            const level = random.negativeBinomial(perDay * 365 * (i < 4 ? 3 : 1), dispersion) / 365;
            const daily = Array.from({ length: 365 }, () => random.poisson(level));
            return {
              siteId: `p-${i}`,
              violationType: 'speeding',
              groups: ['speeding'],
              observed: daily.reduce((a, b) => a + b, 0),
              exposureDays: 365,
              recent: { observed: 0, exposureDays: 90 },
              daily,
            };
          });
          const results = screenSites(sites, settings);
          for (const result of results) {
            if (result.flagged) expect(result.ebInterval[0]).toBeGreaterThan(result.predicted);
            expect(result.ebInterval[0]).toBeLessThanOrEqual(result.ebExpected);
            expect(result.ebInterval[1]).toBeGreaterThanOrEqual(result.ebExpected);
          }
          // Flagged sites come first.
          const firstUnflagged = results.findIndex((r) => !r.flagged);
          expect(results.slice(firstUnflagged === -1 ? results.length : firstUnflagged).every((r) => !r.flagged)).toBe(true);
        },
      ),
      { numRuns: 30 },
    );
  }, 60_000);

  it('refuses daily counts that do not add up to the total', () => {
    const sites = flat(25, 40, 2);
    sites[3] = { ...sites[3]!, observed: sites[3]!.observed + 1 };
    expect(() => screenSites(sites, settings)).toThrow(/daily counts do not sum/);
  });
});

describe('getisOrdGiStar', () => {
  // A line of cells a-b-c-d-e-f-g-h, each the neighbour of the next.
  const line = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  const neighbours = (cell: string) => {
    const i = line.indexOf(cell);
    return [line[i - 1], line[i + 1]].filter((x): x is string => x !== undefined);
  };

  it('scores a cluster of high cells highest in its middle', () => {
    const values = new Map(line.map((cell, i) => [cell, i >= 3 && i <= 5 ? 100 : 10]));
    const scores = getisOrdGiStar(values, neighbours);
    expect(scores.get('e')!).toBeGreaterThan(1.96);
    expect(scores.get('e')!).toBeGreaterThan(scores.get('d')!);
    expect(scores.get('a')!).toBeLessThan(0);
  });

  it('has no score without spread or with too few cells', () => {
    expect(getisOrdGiStar(new Map(line.map((cell) => [cell, 5])), neighbours).get('a')).toBeNull();
    expect(
      getisOrdGiStar(
        new Map([
          ['a', 1],
          ['b', 9],
        ]),
        neighbours,
      ).get('a'),
    ).toBeNull();
  });
});
