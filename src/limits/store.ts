// The one place limiters are made, on one Redis connection when REDIS_URL is set (so every
// instance shares the counts), in the cluster's primary when this process is one of its workers
// and there is no Redis (so the workers of one instance share them), and in memory otherwise.
// rate-limiter-flexible does the counting; if Redis fails, each limiter falls back to memory (the
// library's insurance limiter) rather than letting everything through or refusing everything.
import { createRequire } from 'node:module';
import type { Redis as RedisClient } from 'ioredis';
import { RateLimiterCluster, RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';

export interface LimiterStore {
  /** A limiter of `points` per `seconds`, its counts kept under `portcullis:<keyPrefix>`. */
  make(keyPrefix: string, points: number, seconds: number): RateLimiterAbstract;
  close(): void;
}

export interface LimiterStoreOptions {
  redisUrl?: string | undefined;
  /** This process is a worker of a cluster whose primary keeps the counts (src/cluster). */
  inClusterPrimary?: boolean;
}

/**
 * ioredis, loaded only when REDIS_URL is set (it is a CommonJS package, so synchronously): a
 * process without Redis, every CLI command among them, does not spend its start loading it.
 */
const loadRedis = (): typeof RedisClient => (createRequire(import.meta.url)('ioredis') as { Redis: typeof RedisClient }).Redis;

/** How long a worker waits for the primary's answer before the check fails (the primary is local). */
const CLUSTER_TIMEOUT_MS = 2_000;

export function createLimiterStore({ redisUrl, inClusterPrimary = false }: LimiterStoreOptions): LimiterStore {
  // A stalled Redis must not stall requests: after 200 ms a command fails and the in-memory
  // insurance limiter answers instead.
  const redis = redisUrl
    ? new (loadRedis())(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 200, connectTimeout: 2000 })
    : undefined;
  redis?.on('error', () => undefined); // reported by failing commands; the insurance limiter takes over
  return {
    make(keyPrefix, points, seconds) {
      const options = { keyPrefix: `portcullis:${keyPrefix}`, points, duration: seconds };
      if (redis) return new RateLimiterRedis({ ...options, storeClient: redis, insuranceLimiter: new RateLimiterMemory(options) });
      if (inClusterPrimary) return new RateLimiterCluster({ ...options, timeoutMs: CLUSTER_TIMEOUT_MS });
      return new RateLimiterMemory(options);
    },
    close() {
      redis?.disconnect();
    },
  };
}
