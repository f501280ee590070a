import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';

const resolve = createRequire(import.meta.url).resolve;

/**
 * Browser libraries the pages use, served from node_modules by this process: the pages have no
 * build step, and a review workstation must not fetch code from a CDN.
 */
const VENDORED = {
  '/vendor/panzoom.min.js': resolve('@panzoom/panzoom/dist/panzoom.min.js'),
};

/** Serves each vendored file at its fixed path; read once at start, so a missing package stops start-up. */
export function vendorRoutes(app: FastifyInstance): void {
  for (const [url, file] of Object.entries(VENDORED)) {
    const bytes = readFileSync(file);
    // A day: the file only changes when package-lock.json does, and then the server restarts.
    app.get(url, { schema: { hide: true } }, (_request, reply) =>
      reply.header('cache-control', 'public, max-age=86400').type('text/javascript; charset=utf-8').send(bytes),
    );
  }
}
