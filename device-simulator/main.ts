import { requireSetting } from '../core/domain/config.js';
import { startOrExit } from '../core/infrastructure/lifecycle.js';
import { beginRoleProcess } from '../core/infrastructure/role-process.js';
import { startSimulatorRole } from './service.js';

const { config, log, lifecycle } = beginRoleProcess();

await startOrExit(log, lifecycle, async () => {
  const mqttUrl = requireSetting(config.mqtt.url, 'MQTT_URL', 'the device simulator');
  const apiUrl = requireSetting(config.simulator.apiUrl, 'SIMULATOR_API_URL', 'the device simulator');
  const adminToken = requireSetting(config.admin.token, 'ADMIN_TOKEN', 'the device simulator');
  const run = await startSimulatorRole(config, { mqttUrl, apiUrl, adminToken }, log);
  lifecycle.add('device simulator', () => run.stop());
});
