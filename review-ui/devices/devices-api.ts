import type { FastifyPluginAsync } from 'fastify';
import type { Db } from '../../db/client.js';
import { deviceRoutes } from './device-routes.js';
import { publicDeviceRoutes } from './public-device-routes.js';

/** The device registry for its administrators, and the public list of devices in service. */
export const devicesApi: FastifyPluginAsync<{ db: Db }> = async (app, deps) => {
  deviceRoutes(app, deps);
  publicDeviceRoutes(app, deps);
};
