import type { Config } from '../core/domain/config.js';

export interface ReviewSettings {
  sessionTtlMs: number;
  /** Whose X-Forwarded-* headers to believe: they decide the audited client address and whether cookies are Secure. */
  trustProxy: Config['http']['trustProxy'];
  review: Config['review'];
  analytics: Config['analytics'];
  /** When a capture counts as stranded, for the reconciliation report. */
  jobs: Config['jobs'];
}

export function reviewSettings(config: Config): ReviewSettings {
  return {
    sessionTtlMs: config.sessions.ttlMs,
    trustProxy: config.http.trustProxy,
    review: config.review,
    analytics: config.analytics,
    jobs: config.jobs,
  };
}
