// Login limits against password guessing, counted with rate-limiter-flexible (in Redis when
// REDIS_URL is set, so every instance sees the same counts): failures per account and per client
// IP; past the limit the account (or the IP) is locked for a while, and each new lock lasts
// twice as long as the one before (up to a day). A locked login gets the same answer whether or
// not the account exists. (Token-endpoint limits use the rate limiter in src/apikeys.)
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export interface AbuseLimitsOptions {
  redisUrl?: string | undefined;
  /** Failed logins allowed per account in the window before it locks. */
  accountFailures?: number;
  /** Failed logins allowed per IP in the window before it locks. */
  ipFailures?: number;
  windowSeconds?: number;
  /** The first lock's length; each further lock within a day doubles it. */
  lockSeconds?: number;
}

export interface AbuseLimits {
  /** Seconds until this login may be tried again, or 0. Counts nothing. */
  loginBlockedFor(account: string, ip: string): Promise<number>;
  loginFailed(account: string, ip: string): Promise<void>;
  loginSucceeded(account: string): Promise<void>;
  close(): void;
}

export function createAbuseLimits({
  redisUrl,
  accountFailures = 5,
  ipFailures = 30,
  windowSeconds = 15 * 60,
  lockSeconds = 60,
}: AbuseLimitsOptions = {}): AbuseLimits {
  const redis = redisUrl
    ? new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 200, connectTimeout: 2000 })
    : undefined;
  redis?.on('error', () => undefined);
  const make = (keyPrefix: string, points: number, duration: number): RateLimiterAbstract => {
    const options = { keyPrefix: `portcullis:${keyPrefix}`, points, duration };
    return redis
      ? new RateLimiterRedis({ ...options, storeClient: redis, insuranceLimiter: new RateLimiterMemory(options) })
      : new RateLimiterMemory(options);
  };
  const accountFails = make('login-account', accountFailures, windowSeconds);
  const ipFails = make('login-ip', ipFailures, windowSeconds);
  // Counts locks per account for a day: the n-th lock lasts lockSeconds * 2^(n-1).
  const locks = make('login-locks', 1_000_000, 86_400);
  const lockedUntil = make('login-locked', 1, 1);

  const secondsLeft = (res: RateLimiterRes | null) => (res ? Math.max(1, Math.ceil(res.msBeforeNext / 1000)) : 0);
  const safe = async <T>(work: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (error instanceof RateLimiterRes) throw error;
      return fallback; // the store failed: do not lock people out because Redis did
    }
  };

  return {
    async loginBlockedFor(account, ip) {
      return safe(async () => {
        const [locked, byIp] = await Promise.all([lockedUntil.get(account), ipFails.get(ip)]);
        const accountLock = locked && locked.consumedPoints > 0 ? secondsLeft(locked) : 0;
        const ipLock = byIp && byIp.consumedPoints >= ipFailures ? secondsLeft(byIp) : 0;
        return Math.max(accountLock, ipLock);
      }, 0);
    },
    async loginFailed(account, ip) {
      await safe(async () => {
        await ipFails.penalty(ip);
        const failures = await accountFails.penalty(account);
        if (failures.consumedPoints >= accountFailures) {
          const lockCount = (await locks.penalty(account)).consumedPoints;
          await lockedUntil.block(account, Math.min(lockSeconds * 2 ** (lockCount - 1), 86_400));
          await accountFails.delete(account);
        }
      }, undefined);
    },
    async loginSucceeded(account) {
      await safe(() => accountFails.delete(account), false);
    },
    close() {
      redis?.disconnect();
    },
  };
}
