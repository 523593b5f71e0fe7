// Rate limits ("N requests per window") for API keys and the OAuth endpoints, each limit
// given as text (`100/1m`) and made into a limiter once.
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { parseRateLimit } from './rates.ts';
import type { LimiterStore } from './store.ts';

export interface RateLimiter {
  /** Counts one request for `subject` under `limit`; says whether it may go on, or after how long. */
  consume(subject: string, limit: string): Promise<{ allowed: true } | { allowed: false; retryAfterSeconds: number }>;
  /** Seconds until `subject` may go on under `limit` (0: now). Counts nothing. */
  spentFor(subject: string, limit: string): Promise<number>;
  /** Counts one request for `subject` after the fact (a failure), without refusing anything. */
  penalize(subject: string, limit: string): Promise<void>;
  /** Gives back one request counted for `subject` under `limit` that turned out not to count. */
  giveBack(subject: string, limit: string): Promise<void>;
}

export function createRateLimiter(store: LimiterStore): RateLimiter {
  const limiters = new Map<string, RateLimiterAbstract>();

  function limiterFor(limit: string): RateLimiterAbstract {
    let limiter = limiters.get(limit);
    if (!limiter) {
      const { points, seconds } = parseRateLimit(limit);
      limiter = store.make(`apikey:${limit}`, points, seconds);
      limiters.set(limit, limiter);
    }
    return limiter;
  }

  return {
    async consume(subject, limit) {
      try {
        await limiterFor(limit).consume(subject);
        return { allowed: true };
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes)
          return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
        throw rejection;
      }
    },
    async spentFor(subject, limit) {
      try {
        const limiter = limiterFor(limit);
        const res = await limiter.get(subject);
        return res && res.consumedPoints >= limiter.points ? Math.max(1, Math.ceil(res.msBeforeNext / 1000)) : 0;
      } catch {
        return 0; // the store failed: do not refuse everyone because Redis did
      }
    },
    async penalize(subject, limit) {
      await limiterFor(limit)
        .penalty(subject)
        .catch(() => undefined);
    },
    async giveBack(subject, limit) {
      await limiterFor(limit)
        .reward(subject, 1)
        .catch(() => undefined);
    },
  };
}
