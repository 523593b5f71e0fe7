// Login limits against password guessing, counted with rate-limiter-flexible (in Redis when
// REDIS_URL is set, so every instance sees the same counts). An attempt is counted *before* its
// password is checked, atomically (an increment in memory or in Redis), and given back only when
// it succeeds: however many requests arrive at once, no more passwords are checked than the
// limits allow. Three counts, each bounding a different thing:
// - per account and source network (IPv4 /24, IPv6 /64): LOGIN_MAX_FAILURES in 15 minutes, then
//   that account is locked *for that network*, each new lock twice as long (up to a day). Someone
//   who knows only an email can lock it for their own network, not for its owner elsewhere;
// - per account from all networks together: LOGIN_ACCOUNT_MAX_FAILURES in a day, the slow global
//   bound on guessing one account from many networks (OWASP ASVS 2.2.1). A network the person
//   signed in from in the last 14 days is exempt from it, so an attacker with many networks
//   can spend it for every network but the owner's own ones;
// - per source (an IPv4 address, an IPv6 /64): LOGIN_IP_MAX_FAILURES in 15 minutes, bounding the
//   argon2 work one source can cause across accounts.
// A blocked login gets the same answer whether or not the account exists. A second factor's code
// is an attempt of the same account (the same counts), and a right password before it clears
// nothing until the second factor is right too.
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { networkOf, sourceOf } from './addresses.ts';
import type { LimiterStore } from './store.ts';

export interface LoginLimitsOptions {
  /** Password checks allowed per account and network in the window before that pair locks. */
  accountFailures?: number;
  /** Failed logins allowed per account from every network together, per day. */
  accountDailyFailures?: number;
  /** Failed logins allowed per source address in the window. */
  ipFailures?: number;
  windowSeconds?: number;
  /** The first lock's length; each further lock within a day doubles it. */
  lockSeconds?: number;
}

/** Why a login was not tried: which count is spent. */
export type LoginBlockReason = 'account_network_locked' | 'account_daily_limit' | 'address_limit';

export type LoginAttempt =
  | {
      allowed: true;
      /** The password was right: the attempt is given back and the network's count cleared. */
      succeeded(): Promise<void>;
      /**
       * The password was right but a second factor is still to come: the attempt is given back
       * and nothing else. The account's count for this network is cleared only when the whole
       * sign-in succeeds, so knowing the password does not buy fresh guesses at the second factor.
       */
      firstFactorPassed(): Promise<void>;
    }
  | { allowed: false; retryAfterSeconds: number; reason: LoginBlockReason };

export interface LoginLimits {
  /**
   * Counts one login attempt for `account` from `ip` before its password is checked. When it is
   * allowed, the caller checks the password and calls `succeeded()` if it matched; a failure
   * needs no call, it is already counted.
   */
  beginLogin(account: string, ip: string): Promise<LoginAttempt>;
}

/**
 * How long a network an account signed in from stays exempt from the account's daily bound,
 * from the last sign-in there. (rate-limiter-flexible's memory store expires keys with
 * setTimeout, which cannot wait longer than about 24.8 days.)
 */
const KNOWN_NETWORK_SECONDS = 14 * 86_400;

export function createLoginLimits(
  store: LimiterStore,
  { accountFailures = 5, accountDailyFailures = 100, ipFailures = 30, windowSeconds = 15 * 60, lockSeconds = 60 }: LoginLimitsOptions = {},
): LoginLimits {
  const make = store.make;
  const byAccountNetwork = make('login-account-network', accountFailures, windowSeconds);
  const byAccount = make('login-account-day', accountDailyFailures, 86_400);
  const byIp = make('login-ip', ipFailures, windowSeconds);
  // Counts locks per account and network for a day: the n-th lock lasts lockSeconds * 2^(n-1).
  const locks = make('login-locks', 1_000_000, 86_400);
  // Networks each account signed in from, remembered 14 days from the last success there.
  const knownNetworks = make('login-known-network', 1, KNOWN_NETWORK_SECONDS);
  const isKnown = async (pair: string) => {
    try {
      return ((await knownNetworks.get(pair))?.consumedPoints ?? 0) > 0;
    } catch {
      return false;
    }
  };

  const secondsLeft = (res: RateLimiterRes) => Math.max(1, Math.ceil(res.msBeforeNext / 1000));

  /** Consumes one point; the rejection when the count is spent, else undefined. A failing store allows. */
  async function take(limiter: RateLimiterAbstract, key: string): Promise<RateLimiterRes | undefined> {
    try {
      await limiter.consume(key);
      return undefined;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return rejection;
      return undefined; // the store failed: do not lock people out because Redis did
    }
  }
  const giveBack = (limiter: RateLimiterAbstract, key: string) => limiter.reward(key, 1).catch(() => undefined);

  return {
    async beginLogin(account, ip) {
      const pair = `${account}|${networkOf(ip)}`;
      const source = sourceOf(ip);
      const address = await take(byIp, source);
      if (address) return { allowed: false, retryAfterSeconds: secondsLeft(address), reason: 'address_limit' };
      const local = await take(byAccountNetwork, pair);
      if (local) {
        await giveBack(byIp, source); // no password is checked for this one
        // The one request that first goes over the limit (the counter is atomic) sets the lock.
        if (local.consumedPoints === accountFailures + 1) {
          const lockCount = await locks
            .penalty(pair)
            .then((res) => res.consumedPoints)
            .catch(() => 1);
          const seconds = Math.min(lockSeconds * 2 ** (lockCount - 1), 86_400);
          await byAccountNetwork.block(pair, seconds).catch(() => undefined);
          return { allowed: false, retryAfterSeconds: seconds, reason: 'account_network_locked' };
        }
        return { allowed: false, retryAfterSeconds: secondsLeft(local), reason: 'account_network_locked' };
      }
      // The owner's own networks are not held to the day's count that others can spend.
      const counted = !(await isKnown(pair));
      const global = counted ? await take(byAccount, account) : undefined;
      if (global) {
        await Promise.all([giveBack(byIp, source), giveBack(byAccountNetwork, pair)]);
        return { allowed: false, retryAfterSeconds: secondsLeft(global), reason: 'account_daily_limit' };
      }
      return {
        allowed: true,
        async firstFactorPassed() {
          await Promise.all([giveBack(byAccountNetwork, pair), ...(counted ? [giveBack(byAccount, account)] : []), giveBack(byIp, source)]);
        },
        async succeeded() {
          // The person proved the password: this network starts afresh (as Keycloak resets its
          // failure count) and is known for 14 days, and the attempt is not a failure for the
          // day or the source.
          await Promise.all([
            byAccountNetwork.delete(pair).catch(() => undefined),
            knownNetworks.block(pair, KNOWN_NETWORK_SECONDS).catch(() => undefined),
            ...(counted ? [giveBack(byAccount, account)] : []),
            giveBack(byIp, source),
          ]);
        },
      };
    },
  };
}
