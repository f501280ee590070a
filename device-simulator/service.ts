import path from 'node:path';
import type { Config } from '../core/domain/config.js';
import type { Logger } from '../core/infrastructure/logger.js';
import { enrolFleet, fetchGatewayKeys, loadFleet } from './fleet.js';
import { runFleet } from './runner.js';

/** Loads (or creates) the simulated fleet, enrols it through the registry API and starts publishing. */
export async function startSimulatorRole(config: Config, endpoints: { mqttUrl: string; apiUrl: string; adminToken: string }, log: Logger) {
  const fleet = await loadFleet(config.simulator.devices, path.join(config.dataDir, 'simulator', 'keys'));
  const enrolledKey = await enrolFleet(fleet, endpoints.apiUrl, endpoints.adminToken);
  // A real device keeps the key from its enrolment answer; before any gateway has started there is none yet.
  const gatewayKeys = enrolledKey ? [enrolledKey] : await fetchGatewayKeys(endpoints.apiUrl);
  return runFleet(fleet, {
    gatewayKeys,
    refreshGatewayKeys: () => fetchGatewayKeys(endpoints.apiUrl),
    mqttUrl: endpoints.mqttUrl,
    credentials: config.mqtt.credentials,
    topicRoot: config.mqtt.topicRoot,
    intervalMs: config.simulator.intervalMs,
    heartbeatEveryMs: config.simulator.heartbeatEveryMs,
    faultEveryMs: config.simulator.faultEveryMs,
    log,
  });
}
