import { describe, expect, it } from 'vitest';
import { buildHealthServer, checkHealth, type HealthCheck } from './health.js';
import { createMetricsRegistry } from './metrics.js';

const up = (name: string): HealthCheck => ({ name, probe: async () => undefined });
const down = (name: string, degradesOnly = false): HealthCheck => ({
  name,
  degradesOnly,
  probe: () => Promise.reject(new Error(`${name} is away`)),
});

describe('health', () => {
  it('is ok, degraded or unavailable, and a failing dependency outranks stranded work', async () => {
    expect(await checkHealth([up('database')])).toMatchObject({ status: 'ok', failing: [], degraded: [] });
    expect(await checkHealth([up('database'), down('stranded-captures', true)])).toMatchObject({
      status: 'degraded',
      failing: [],
      degraded: ['stranded-captures'],
    });
    expect(await checkHealth([down('database'), down('stranded-captures', true)])).toMatchObject({
      status: 'unavailable',
      failing: ['database'],
      degraded: ['stranded-captures'],
    });
  });

  it('answers 200 while only degraded, so an orchestrator does not restart a process that would not recover by it', async () => {
    const app = buildHealthServer('workers', [up('database'), down('stranded-captures', true)], createMetricsRegistry());
    const degraded = await app.inject({ method: 'GET', url: '/health' });
    expect(degraded.statusCode).toBe(200);
    expect(degraded.json()).toMatchObject({ role: 'workers', status: 'degraded' });
    expect(JSON.stringify(degraded.json())).toContain('stranded-captures is away');
    const unavailable = await buildHealthServer('workers', [down('redis')], createMetricsRegistry()).inject({
      method: 'GET',
      url: '/health',
    });
    expect(unavailable.statusCode).toBe(503);
  });
});
