// Limits at oidc-provider's token, introspection and revocation endpoints, placed so that a
// request can spend only budgets that are its own:
// - per authenticated client (TOKEN_RATE_LIMIT, INTROSPECTION_RATE_LIMIT): counted once
//   oidc-provider has authenticated the client, keyed by the client id as oidc-provider decoded
//   it. A request with a wrong secret never reaches these, so it cannot spend the real client's.
//   A public client authenticates with its id alone, which anyone may send: its budget is kept
//   per network (IPv4 /24, IPv6 /64), so one network's flood spends only that network's share;
// - per source (an IPv4 address, an IPv6 /64) for requests that fail to authenticate
//   (CLIENT_AUTH_FAILURE_LIMIT): a bucket of its own, checked before anything is done and
//   counted when authentication fails, so failures are bounded without touching any client's
//   budget.
import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { networkOf, parseRateLimit, sourceOf, type RateLimiter } from '../limits/index.ts';
import { RateLimited } from './apiKeys.ts';

function refuse(ctx: { status: number; body: unknown; set(name: string, value: string): void }, what: string, seconds: number) {
  ctx.status = 429;
  ctx.set('Retry-After', String(seconds));
  ctx.body = { error: 'rate_limited', error_description: `too many ${what}; retry after ${seconds} s` };
}

/**
 * Wraps a grant handler: it runs after oidc-provider authenticated the client and checked the
 * grant type, so this counts the request against that client's own budget.
 */
export function limitedGrant<Handler extends (ctx: KoaContextWithOIDC, next: () => Promise<void>) => unknown>(
  handler: Handler,
  rateLimiter: RateLimiter,
  limit: string,
): Handler {
  return async function limitedGrantHandler(ctx: KoaContextWithOIDC, next: () => Promise<void>) {
    const client = ctx.oidc.client!;
    const subject =
      client.clientAuthMethod === 'none' ? `token-client:${client.clientId}|${networkOf(ctx.ip)}` : `token-client:${client.clientId}`;
    const verdict = await rateLimiter.consume(subject, limit);
    if (!verdict.allowed) {
      ctx.set('Retry-After', String(verdict.retryAfterSeconds));
      throw new RateLimited('too many token requests', verdict.retryAfterSeconds);
    }
    return handler(ctx, next);
  } as Handler;
}

/**
 * A request that never authenticated a client: oidc-provider answered invalid_client, or an
 * error before it found one. (ctx.oidc.client is set once the client is found, before its
 * credentials are checked, so invalid_client is checked by code, not by that.)
 */
function failedToAuthenticate(ctx: KoaContextWithOIDC): boolean {
  const error = (ctx.body as { error?: unknown } | undefined)?.error;
  // 5xx (a database outage) is the server's failure, not the caller's: never counted against it.
  return ctx.status >= 400 && ctx.status < 500 && ctx.status !== 429 && (error === 'invalid_client' || !ctx.oidc?.client);
}

/** At most this many addresses are remembered as having failed; past it the oldest are forgotten. */
const MAX_REMEMBERED_ADDRESSES = 100_000;

/**
 * Failed client authentications, per source, in a bucket of their own. The shared count (memory
 * or Redis) is asked only for a source this instance saw fail within the limit's window, so a
 * request from a source that never failed here costs one Map lookup, not a round trip to Redis
 * on every token request. The price: failures are counted when they are answered, so the first
 * burst of concurrent requests from a new source on each instance is answered in full before the
 * limit applies. This bounds noise and probing, not secret guessing, which 256-bit client
 * secrets and signed assertions already make hopeless; logins, where a guess is a password,
 * count before checking (src/limits/logins.ts).
 */
export function clientAuthFailures(rateLimiter: RateLimiter, limit: string): Middleware {
  const windowMs = parseRateLimit(limit).seconds * 1000;
  const failedHere = new Map<string, number>(); // address -> until when it is looked up
  return async function limitClientAuthFailures(ctx, next) {
    const address = sourceOf(ctx.ip);
    const subject = `client-auth-failures:${address}`;
    const until = failedHere.get(address);
    if (until !== undefined) {
      if (until < Date.now()) failedHere.delete(address);
      else {
        const wait = await rateLimiter.spentFor(subject, limit);
        if (wait > 0) return refuse(ctx, 'failed client authentications from this address', wait);
      }
    }
    await next();
    if (failedToAuthenticate(ctx as unknown as KoaContextWithOIDC)) {
      failedHere.delete(address); // re-inserted last: the Map's order is the order of failures
      if (failedHere.size >= MAX_REMEMBERED_ADDRESSES) failedHere.delete(failedHere.keys().next().value!);
      failedHere.set(address, Date.now() + windowMs);
      await rateLimiter.penalize(subject, limit);
    }
  };
}

/**
 * Introspection answers per calling client (RFC 7662 section 4 asks servers to guard the
 * endpoint against scanning). oidc-provider offers no step between authentication and the
 * answer, so the authenticated caller is counted when the answer is ready, and past its limit
 * it gets 429 instead of the answer.
 */
export function introspectionLimit(rateLimiter: RateLimiter, limit: string): Middleware {
  return async function limitIntrospection(ctx, next) {
    await next();
    const { oidc } = ctx as unknown as KoaContextWithOIDC;
    if (oidc?.route !== 'introspection' || ctx.status !== 200 || !oidc.client) return;
    const verdict = await rateLimiter.consume(`introspection-client:${oidc.client.clientId}`, limit);
    if (!verdict.allowed) refuse(ctx, 'introspection requests from this client', verdict.retryAfterSeconds);
  };
}
