import { RateLimiterRes } from 'rate-limiter-flexible';
import type { Db, Executor } from '../../db/client.js';
import { deleteExpiredLoginCounters, deleteLoginCountersUnder, liveLoginCountersUnder, loginThrottleLimiter } from '../../db/sessions.js';

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

const PAIR_PREFIX = 'login:user+ip';

function pairKey(username: string, address: string): string {
  return `${username.trim().toLowerCase()}|${address}`;
}

/**
 * The username and address of a pair counter's key, split at the last bar: an address never
 * holds one, but whatever someone types as a username may, and `decoy|x` at `y` must not pass
 * for `decoy` at `x|y`.
 */
function splitPairKey(key: string): { username: string; address: string } {
  const pair = key.slice(PAIR_PREFIX.length + 1);
  const bar = pair.lastIndexOf('|');
  return { username: pair.slice(0, bar), address: pair.slice(bar + 1) };
}

/** Where a username may not log in from until `until`: the latest of its pairs' waits. */
export interface LoginLock {
  until: Date;
  addresses: string[];
}

function locksOf(counters: { key: string; points: number; expire: Date | null }[]): Map<string, LoginLock> {
  const now = new Date();
  const locks = new Map<string, LoginLock>();
  for (const counter of counters) {
    // The attempt after the last one allowed is refused, so a used-up count is a lock already.
    if (counter.points < LOGIN_LIMITS.perUsernameAndAddress.attempts || !counter.expire || counter.expire <= now) continue;
    const { username, address } = splitPairKey(counter.key);
    const lock = locks.get(username);
    if (!lock) locks.set(username, { until: counter.expire, addresses: [address] });
    else {
      lock.addresses.push(address);
      if (counter.expire > lock.until) lock.until = counter.expire;
    }
  }
  return locks;
}

/**
 * Every username locked at one address or more, read from the throttle's own counters rather
 * than from a record kept beside them: the counters are what refuses a login, so a second
 * record would have to follow every expiry, every successful login and every sweep to stay
 * true. The read goes through the whole table, which the sweep keeps to counters of the last
 * window (at most 51 per address and hour), so an index would buy little. An address stopped for guessing at any usernames is no
 * one person's lock and is not listed.
 */
export async function loginLocks(db: Executor): Promise<Map<string, LoginLock>> {
  return locksOf(await liveLoginCountersUnder(db, `${PAIR_PREFIX}:`, LOGIN_LIMITS.perUsernameAndAddress.attempts));
}

/**
 * Deletes every pair counter of `username`, at any address, so the person's next login counts
 * from zero; answers the lock there was, if any. An address's own counter is left alone.
 */
export async function deleteLoginLock(db: Executor, username: string): Promise<LoginLock | undefined> {
  return locksOf(await deleteLoginCountersUnder(db, `${PAIR_PREFIX}:${pairKey(username, '')}`)).get(username);
}

export function createLoginThrottle(db: Db): LoginThrottle {
  const byPair = loginThrottleLimiter(db, PAIR_PREFIX, LOGIN_LIMITS.perUsernameAndAddress);
  const byAddress = loginThrottleLimiter(db, 'login:ip', LOGIN_LIMITS.perAddress);
  return {
    async attempt(username, address) {
      const pair = pairKey(username, address);
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
