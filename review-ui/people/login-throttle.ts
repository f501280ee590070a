import { RateLimiterRes } from 'rate-limiter-flexible';
import type { Db } from '../../db/client.js';
import { deleteExpiredLoginCounters, loginThrottleLimiter } from '../../db/sessions.js';

/**
 * Password guessing is slowed per username at one client address, and per address overall,
 * never per username alone: an attacker who knows someone's username cannot lock that person
 * out, because the person logs in from another address, which has its own counters.
 */
export const LOGIN_LIMITS = {
  /** Attempts at one username from one address, then that pair waits. Success clears the pair. */
  perUsernameAndAddress: { attempts: 5, windowSeconds: 15 * 60, blockSeconds: 15 * 60 },
  /** Failed attempts from one address at any usernames (one office behind NAT included), then it waits. */
  perAddress: { attempts: 50, windowSeconds: 60 * 60, blockSeconds: 60 * 60 },
} as const;

export type LoginAttempt = { allowed: true; succeeded(): Promise<void> } | { allowed: false; retryAfterSeconds: number };

export interface LoginThrottle {
  /**
   * Counts an attempt before the password is checked, so parallel guesses cannot all slip past
   * a limit they have not reached yet; a successful login gives its count back.
   */
  attempt(username: string, address: string): Promise<LoginAttempt>;
  /** Deletes counters whose window has passed: each guessed username at each address leaves one. */
  sweep(): Promise<void>;
}

export function createLoginThrottle(db: Db): LoginThrottle {
  const byPair = loginThrottleLimiter(db, 'login:user+ip', LOGIN_LIMITS.perUsernameAndAddress);
  const byAddress = loginThrottleLimiter(db, 'login:ip', LOGIN_LIMITS.perAddress);
  return {
    async attempt(username, address) {
      const pair = `${username.trim().toLowerCase()}|${address}`;
      const outcomes = await Promise.allSettled([byPair.consume(pair), byAddress.consume(address)]);
      const refusals = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as unknown] : []));
      // A store failure is no refusal: it propagates, and no login is let through unthrottled.
      const failure = refusals.find((reason) => !(reason instanceof RateLimiterRes));
      if (failure !== undefined)
        throw failure instanceof Error ? failure : new Error('the login throttle store failed', { cause: failure });
      if (refusals.length > 0) {
        const waitMs = Math.max(...refusals.map((refusal) => (refusal as RateLimiterRes).msBeforeNext));
        return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
      }
      return {
        allowed: true,
        succeeded: async () => {
          await Promise.all([byPair.delete(pair), byAddress.reward(address, 1)]);
        },
      };
    },
    async sweep() {
      await deleteExpiredLoginCounters(db);
    },
  };
}
