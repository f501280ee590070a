import path from 'node:path';
import type { Config } from '../core/domain/config.js';
import type { Logger } from '../core/infrastructure/logger.js';
import { enrolFleet, loadFleet } from './fleet.js';
import { runFleet } from './runner.js';

/** Loads (or creates) the simulated fleet, enrols it through the registry API and starts publishing. */
export async function startSimulatorRole(config: Config, endpoints: { mqttUrl: string; apiUrl: string; adminToken: string }, log: Logger) {
  const fleet = await loadFleet(config.simulator.devices, path.join(config.dataDir, 'simulator', 'keys'));
  await enrolFleet(fleet, endpoints.apiUrl, endpoints.adminToken);
  return runFleet(fleet, {
    mqttUrl: endpoints.mqttUrl,
    credentials: config.mqtt.credentials,
    topicRoot: config.mqtt.topicRoot,
    intervalMs: config.simulator.intervalMs,
    heartbeatEveryMs: config.simulator.heartbeatEveryMs,
    faultEveryMs: config.simulator.faultEveryMs,
    log,
  });
}
