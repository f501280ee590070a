import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fastifyHelmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

export interface SecurityHeaderOptions {
  /** Inline scripts the pages carry (the analytics page's import map), allowed by their hashes only. */
  inlineScriptHashes?: readonly string[];
  /** Origins besides this one that images may come from: the basemap's tile server, when one is set. */
  imageOrigins?: readonly string[];
}

const HSTS = 'max-age=31536000; includeSubDomains';

/**
 * One strict policy for every answer, page or API: code and styles only from this origin (no
 * inline script but the hashed ones, no inline style attributes), no framing, no plugins, no
 * sniffing. HSTS only on answers that went out over TLS (directly or, with TRUST_PROXY, through
 * a proxy that says so): over plain HTTP a browser ignores it anyway, and the all-in-one mode
 * on 127.0.0.1 must stay reachable without TLS.
 */
export async function installSecurityHeaders(app: FastifyInstance, options: SecurityHeaderOptions = {}): Promise<void> {
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'", ...(options.inlineScriptHashes ?? []).map((hash) => `'${hash}'`)],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', 'blob:', ...(options.imageOrigins ?? [])],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        mediaSrc: ["'self'", 'blob:'],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    frameguard: { action: 'deny' },
    strictTransportSecurity: false,
    // Evidence media and downloads are opened by the pages of this origin only.
    crossOriginResourcePolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
  });
  app.addHook('onRequest', async (request, reply) => {
    if (request.protocol === 'https') reply.header('strict-transport-security', HSTS);
  });
}

/** The CSP hash (`sha256-…`) of every inline `<script>` in the HTML files of a folder. */
export function inlineScriptHashes(folder: string): string[] {
  const hashes = new Set<string>();
  for (const file of readdirSync(folder).filter((name) => name.endsWith('.html'))) {
    const html = readFileSync(path.join(folder, file), 'utf8');
    for (const match of html.matchAll(/<script(?![^>]*\ssrc=)[^>]*>([\s\S]*?)<\/script>/g)) {
      hashes.add(
        `sha256-${createHash('sha256')
          .update(match[1] ?? '')
          .digest('base64')}`,
      );
    }
  }
  return [...hashes].sort();
}
