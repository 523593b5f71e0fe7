// The one place limiters are made, on one Redis connection when REDIS_URL is set (so every
// instance shares the counts) and in memory otherwise. rate-limiter-flexible does the counting;
// if Redis fails, each limiter falls back to memory (the library's insurance limiter) rather than
// letting everything through or refusing everything.
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';

export interface LimiterStore {
  /** A limiter of `points` per `seconds`, its counts kept under `portcullis:<keyPrefix>`. */
  make(keyPrefix: string, points: number, seconds: number): RateLimiterAbstract;
  close(): void;
}

export function createLimiterStore({ redisUrl }: { redisUrl?: string | undefined }): LimiterStore {
  // A stalled Redis must not stall requests: after 200 ms a command fails and the in-memory
  // insurance limiter answers instead.
  const redis = redisUrl
    ? new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 200, connectTimeout: 2000 })
    : undefined;
  redis?.on('error', () => undefined); // reported by failing commands; the insurance limiter takes over
  return {
    make(keyPrefix, points, seconds) {
      const options = { keyPrefix: `portcullis:${keyPrefix}`, points, duration: seconds };
      return redis
        ? new RateLimiterRedis({ ...options, storeClient: redis, insuranceLimiter: new RateLimiterMemory(options) })
        : new RateLimiterMemory(options);
    },
    close() {
      redis?.disconnect();
    },
  };
}
