import path from 'node:path';
import { requireSetting } from '../core/config.js';
import { startOrExit } from '../core/lifecycle.js';
import { beginRoleProcess } from '../core/role-process.js';
import { enrolFleet, loadFleet } from './fleet.js';
import { runFleet } from './runner.js';

const { config, log, lifecycle } = beginRoleProcess();

await startOrExit(log, lifecycle, async () => {
  const mqttUrl = requireSetting(config.mqtt.url, 'MQTT_URL', 'the device simulator');
  const apiUrl = requireSetting(config.simulator.apiUrl, 'SIMULATOR_API_URL', 'the device simulator');
  const adminToken = requireSetting(config.admin.token, 'ADMIN_TOKEN', 'the device simulator');
  const fleet = await loadFleet(config.simulator.devices, path.join(config.dataDir, 'simulator', 'keys'));
  await enrolFleet(fleet, apiUrl, adminToken);
  const run = await runFleet(fleet, {
    mqttUrl,
    topicRoot: config.mqtt.topicRoot,
    intervalMs: config.simulator.intervalMs,
    heartbeatEveryMs: config.simulator.heartbeatEveryMs,
    faultEveryMs: config.simulator.faultEveryMs,
    log,
  });
  lifecycle.add('device simulator', () => run.stop());
});
