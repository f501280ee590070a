import path from 'node:path';
import { createRequire } from 'node:module';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { requirePermission } from '../auth.js';

const resolve = createRequire(import.meta.url).resolve;

/**
 * The map and chart libraries the analyst pages load, each package's dist folder under its own
 * /vendor/ prefix. The pages have no build step and many deployments are offline, so nothing
 * comes from a CDN; analytics.html's import map names these same URLs.
 */
const VENDORED: readonly { prefix: string; root: string }[] = [
  // leaflet.css finds its control images in ./images beside it, so the folder is served whole.
  { prefix: '/vendor/leaflet/', root: path.dirname(resolve('leaflet/dist/leaflet.css')) },
  { prefix: '/vendor/chart.js/', root: path.dirname(resolve('chart.js')) },
  // Chart.js's ES module build imports its colour helper by package name; resolved from
  // Chart.js so the version is the one it was installed with.
  { prefix: '/vendor/kurkle-color/', root: path.dirname(createRequire(resolve('chart.js')).resolve('@kurkle/color')) },
];

/** A basemap for the hotspot map: a Leaflet URL template such as `https://tiles.example/{z}/{x}/{y}.png`. */
export interface MapTiles {
  urlTemplate: string;
  attribution: string;
}

/**
 * Serves Leaflet and Chart.js (with its one dependency) from node_modules under /vendor/, and
 * tells the analyst page which basemap to draw under the hotspots: `tiles` null draws none,
 * which is what an offline deployment needs, and the map reads without it.
 */
export async function analystAssetRoutes(app: FastifyInstance, options: { tiles: MapTiles | null }): Promise<void> {
  for (const { prefix, root } of VENDORED) {
    await app.register(fastifyStatic, {
      root,
      prefix,
      // The app's own static plugin owns reply.sendFile; these only serve their folder.
      decorateReply: false,
      // A day: the files change only when package-lock.json does, and then the server restarts.
      maxAge: 86_400_000,
    });
  }
  app.get('/api/analytics/map', { onRequest: requirePermission('analytics.read'), schema: { hide: true } }, () => ({
    tiles: options.tiles,
  }));
}
