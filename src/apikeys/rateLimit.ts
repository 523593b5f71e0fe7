// Rate limits ("N requests per window") for API keys and the token endpoint, counted with
// rate-limiter-flexible: in memory
// for one instance, in Redis when REDIS_URL is set so that every instance shares the counts.
// If Redis fails, counting falls back to memory (the library's insurance limiter) rather than
// letting everything through or refusing everything.
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { InputError } from '../errors/index.ts';

export interface RateLimit {
  points: number;
  seconds: number;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Parses "100/1m", "5/10s", "1000/1h" or "10/60" (seconds). Returns the canonical "N/Ss". */
export function parseRateLimit(text: string): RateLimit & { canonical: string } {
  const match = /^(\d{1,7})\/(\d{1,6})?(s|m|h|d)?$/.exec(text.trim());
  const points = Number(match?.[1]);
  const seconds = Number(match?.[2] ?? 1) * (UNITS[match?.[3] ?? 's'] ?? 1);
  if (!match || !(points >= 1) || !(seconds >= 1) || seconds > 86400) {
    throw new InputError('rate_limit', `${JSON.stringify(text)} is not a rate such as 100/1m (at most one day per window)`);
  }
  return { points, seconds, canonical: `${points}/${seconds}s` };
}

export interface RateLimiter {
  /** Counts one request for `subject` under `limit`; says whether it may go on, or after how long. */
  consume(subject: string, limit: string): Promise<{ allowed: true } | { allowed: false; retryAfterSeconds: number }>;
  /** Seconds until `subject` may go on under `limit` (0: now). Counts nothing. */
  spentFor(subject: string, limit: string): Promise<number>;
  /** Counts one request for `subject` after the fact (a failure), without refusing anything. */
  penalize(subject: string, limit: string): Promise<void>;
  close(): Promise<void>;
}

export function createRateLimiter({
  redisUrl,
  keyPrefix = 'portcullis:apikey',
}: {
  redisUrl?: string | undefined;
  keyPrefix?: string;
}): RateLimiter {
  // A stalled Redis must not stall requests: after 200 ms a command fails and the in-memory
  // insurance limiter answers instead.
  const redis = redisUrl
    ? new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 200, connectTimeout: 2000 })
    : undefined;
  redis?.on('error', () => undefined); // reported by failing commands; the insurance limiter takes over
  const limiters = new Map<string, RateLimiterAbstract>();

  function limiterFor(limit: string): RateLimiterAbstract {
    let limiter = limiters.get(limit);
    if (!limiter) {
      const { points, seconds } = parseRateLimit(limit);
      const options = { points, duration: seconds, keyPrefix: `${keyPrefix}:${limit}` };
      limiter = redis
        ? new RateLimiterRedis({ ...options, storeClient: redis, insuranceLimiter: new RateLimiterMemory(options) })
        : new RateLimiterMemory(options);
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
    async close() {
      redis?.disconnect();
    },
  };
}
