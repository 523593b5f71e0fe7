// Limits: how often anyone may do what, counted in memory or in Redis (one connection for all).
import { createLoginLimits, type LoginLimits, type LoginLimitsOptions } from './logins.ts';
import { createRateLimiter, type RateLimiter } from './rateLimiter.ts';
import { createLimiterStore, type LimiterStoreOptions } from './store.ts';

export { networkOf, sourceOf } from './addresses.ts';
export type { LoginAttempt, LoginBlockReason, LoginLimits } from './logins.ts';
export { isRateLimit, parseDuration, parseRateLimit, type RateLimit } from './rates.ts';
export type { RateLimiter } from './rateLimiter.ts';

export interface Limits {
  /** Per-key and per-endpoint rates (API keys, the token and introspection endpoints). */
  rateLimiter: RateLimiter;
  /** Login attempts (src/limits/logins.ts). */
  logins: LoginLimits;
  /** Lets go of the Redis connection. */
  close(): void;
}

export function createLimits({ login, ...where }: LimiterStoreOptions & { login?: LoginLimitsOptions }): Limits {
  const store = createLimiterStore(where);
  return { rateLimiter: createRateLimiter(store), logins: createLoginLimits(store, login), close: () => store.close() };
}
