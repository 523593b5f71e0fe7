// The request frame every route outside oidc-provider runs inside: request ids and logs, metrics,
// security headers, and the one place where Portcullis's own errors become HTTP responses.
import crypto from 'node:crypto';
import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import { fromDatabaseError, PortcullisError } from '../errors/index.ts';
import { isDatabaseError } from '../metrics/index.ts';

export interface FrameOptions {
  logger: Logger;
  metrics: { observeRequest(ctx: Context, seconds: number): void; databaseError(): void };
  /** True when the issuer is https: browsers are then told never to use plain http. */
  https: boolean;
  /** True while shutting down: every response then closes its connection. */
  closing: () => boolean;
}

/**
 * What every request outside oidc-provider's own handling goes through, in one layer (each Koa
 * layer costs a closure and promises on every request, and this runs on every token request):
 * a request id (echoed as X-Request-Id), the security headers, the mapping of errors to HTTP
 * answers, the latency and count metrics, and one log line when it ends (no bodies, no query
 * strings). While shutting down, responses say `Connection: close`, so keep-alive clients move on.
 */
export function requestFrame({ logger, metrics, https, closing }: FrameOptions): Middleware {
  const pageHeaders = securityHeaders(https);
  const apiHeaders = apiSecurityHeaders(https);
  return async function frame(ctx, next) {
    const started = performance.now();
    const requestId = crypto.randomUUID();
    const path = ctx.path;
    ctx.state.requestId = requestId;
    ctx.set(API_PATHS.has(path) || path.startsWith('/admin/') ? apiHeaders : pageHeaders);
    ctx.set('X-Request-Id', requestId);
    if (closing()) ctx.set('Connection', 'close');
    try {
      await next();
    } catch (caught) {
      renderError(ctx, caught, logger, metrics);
    } finally {
      const ms = performance.now() - started;
      metrics.observeRequest(ctx, ms / 1000);
      // Microseconds are noise in a log line, and a shorter number is cheaper to write.
      logger.info({ requestId, method: ctx.method, path, status: ctx.status, ms: Math.round(ms * 1000) / 1000 }, 'request');
    }
  };
}

/** Renders PortcullisError as JSON with its status; anything else is a logged 500 with no detail. */
function renderError(ctx: Context, caught: unknown, logger: Logger, metrics: { databaseError(): void }): void {
  const error = fromDatabaseError(caught);
  if (error instanceof PortcullisError) {
    ctx.status = error.status;
    ctx.body = { error: error.code, error_description: error.message, ...('field' in error ? { field: error.field } : {}) };
    return;
  }
  // Koa's own client errors (a body too large, invalid JSON, a wrong content length) keep their status.
  const status = Number((error as { status?: number }).status);
  if (status >= 400 && status < 500) {
    ctx.status = status;
    const description = (error as { expose?: boolean }).expose ? (error as Error).message : 'the request body could not be read';
    ctx.body = { error: status === 413 ? 'request_too_large' : 'invalid_request', error_description: description };
    return;
  }
  if (isDatabaseError(error)) {
    // Fail fast and say so: the database is down, not the request wrong. Recovery needs no
    // restart: the next request opens a new connection.
    metrics.databaseError();
    logger.error({ err: error, requestId: ctx.state.requestId }, 'database unavailable');
    ctx.status = 503;
    ctx.set('Retry-After', '5');
    ctx.body = { error: 'temporarily_unavailable', error_description: 'the database is unavailable; try again shortly' };
    return;
  }
  logger.error({ err: error, requestId: ctx.state.requestId }, 'unhandled error');
  ctx.status = 500;
  ctx.body = { error: 'server_error', error_description: 'an unexpected error occurred' };
}

/**
 * Endpoints that answer only JSON (or, for /metrics, plain text), never a page: oidc-provider's
 * token, introspection, revocation, JWKS, userinfo and discovery endpoints, health, metrics, and
 * the admin API (matched by prefix). Any other path, in any letter case, gets the page headers.
 */
const API_PATHS = new Set([
  '/token',
  '/token/introspection',
  '/token/revocation',
  '/jwks',
  '/jwks/',
  '/me',
  '/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server',
  '/healthz',
  '/readyz',
  '/metrics',
]);

/**
 * The headers OWASP's REST Security Cheat Sheet gives for API responses: nothing may load from
 * or frame them, and their type is never sniffed. The pages' longer policy (and Referrer-Policy,
 * which only documents use) would be bytes on every token response for nothing: the request
 * frame is most of what Portcullis adds to a token request (bench/RESULTS.md).
 */
function apiSecurityHeaders(https: boolean): Record<string, string> {
  return {
    'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    ...(https ? { 'Strict-Transport-Security': 'max-age=31536000; includeSubDomains' } : {}),
  };
}

/**
 * Security headers for every page, set before the response is made so that oidc-provider
 * can add the hash of its one inline script (the form_post page) to `script-src`. The pages use
 * only same-origin files: one stylesheet, and one script (the copy button of the API-key page). `form-action` is left out on purpose: browsers apply
 * it to the redirects after a form is posted, and the consent form's answer is a redirect to
 * the application. `frame-ancestors 'none'` and X-Frame-Options stop clickjacking of the forms.
 */
function securityHeaders(https: boolean): Record<string, string> {
  const policy = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  return {
    'Content-Security-Policy': policy,
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    // RFC 6797: browsers that once saw the https issuer never fall back to http for it.
    ...(https ? { 'Strict-Transport-Security': 'max-age=31536000; includeSubDomains' } : {}),
  };
}
