import path from 'node:path';
import { createRequire } from 'node:module';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

const resolve = createRequire(import.meta.url).resolve;

/**
 * Browser libraries the pages load, each package's dist folder under its own /vendor/ prefix,
 * served by this process from node_modules: the pages have no build step, and review
 * workstations and offline deployments must never fetch code from a CDN.
 */
const VENDORED: readonly { prefix: string; root: string }[] = [
  { prefix: '/vendor/panzoom/', root: path.dirname(resolve('@panzoom/panzoom/dist/panzoom.min.js')) },
  // leaflet.css finds its control images in ./images beside it, so the folder is served whole.
  { prefix: '/vendor/leaflet/', root: path.dirname(resolve('leaflet/dist/leaflet.css')) },
  { prefix: '/vendor/chart.js/', root: path.dirname(resolve('chart.js')) },
  // Chart.js's ES module build imports its colour helper by package name; resolved from
  // Chart.js so the version is the one it was installed with.
  { prefix: '/vendor/kurkle-color/', root: path.dirname(createRequire(resolve('chart.js')).resolve('@kurkle/color')) },
  // The audit page recomputes hashes and checks signatures over the same RFC 8785 bytes the server wrote.
  { prefix: '/vendor/canonicalize/', root: path.dirname(resolve('canonicalize')) },
];

export async function vendorRoutes(app: FastifyInstance): Promise<void> {
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
}
