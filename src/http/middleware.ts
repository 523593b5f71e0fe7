// The request frame every route outside oidc-provider runs inside: request ids and logs, metrics,
// security headers, and the one place where Portcullis's own errors become HTTP responses.
import crypto from 'node:crypto';
import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import { fromDatabaseError, PortcullisError } from '../errors/index.ts';
import { isDatabaseError } from '../db/index.ts';
import { negotiateLanguage } from '../i18n/index.ts';
import type { Views } from '../templates/index.ts';

export interface FrameOptions {
  logger: Logger;
  metrics: { observeRequest(ctx: Context, seconds: number): void; databaseError(): void };
  /** True when the issuer is https: browsers are then told never to use plain http. */
  https: boolean;
  /** True while shutting down: every response then closes its connection. */
  closing: () => boolean;
  /** The pages' templates: a browser that asks for a page that does not exist gets the error page. */
  views: Pick<Views, 'render'> & { brand?: { logoUrl?: string | undefined } };
}

/**
 * What every request outside oidc-provider's own handling goes through, in one layer (each Koa
 * layer costs a closure and promises on every request, and this runs on every token request):
 * a request id (echoed as X-Request-Id), the security headers, the mapping of errors to HTTP
 * answers, the latency and count metrics, and one log line when it ends (no bodies, no query
 * strings). While shutting down, responses say `Connection: close`, so keep-alive clients move on.
 */
export function requestFrame({ logger, metrics, https, closing, views }: FrameOptions): Middleware {
  const pageHeaders = securityHeaders(https, imageOrigin(views.brand?.logoUrl));
  const apiHeaders = apiSecurityHeaders(https);
  return async function frame(ctx, next) {
    const started = performance.now();
    const requestId = crypto.randomUUID();
    const path = ctx.path;
    ctx.state.requestId = requestId;
    ctx.set(API_PATHS.has(path) || path.startsWith('/admin/') || path.startsWith('/reg/') ? apiHeaders : pageHeaders);
    ctx.set('X-Request-Id', requestId);
    if (closing()) ctx.set('Connection', 'close');
    try {
      await next();
      // Nothing answered (Koa's default 404 has no body yet): the standard shape of the surface.
      if (ctx.status === 404 && ctx.body == null) notFound(ctx, path, views);
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

/**
 * Renders PortcullisError as JSON with its status (its private detail goes to the log at warn);
 * anything else is a logged 500 with no detail.
 */
function renderError(ctx: Context, caught: unknown, logger: Logger, metrics: { databaseError(): void }): void {
  const error = fromDatabaseError(caught);
  if (error instanceof PortcullisError) {
    // The detail is for the operator (which constraint, which row); the answer never carries it.
    if (error.detail) logger.warn({ requestId: ctx.state.requestId, error: error.code, detail: error.detail }, error.message);
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

/** True when `path` is `prefix` or below it, in any letter case (the rooms' routers ignore case). */
export const isUnder = (path: string, prefix: string) => {
  const start = path.slice(0, prefix.length + 1).toLowerCase();
  return start === prefix || start === `${prefix}/`;
};

/**
 * Where machines, not people, send requests: the admin API, oidc-provider's token endpoints
 * (introspection and revocation are below /token), discovery, the JWKS, userinfo, health and
 * metrics. An unknown path below one of these is answered in JSON; any other unknown path is a
 * page address, answered with the error page.
 */
const API_PREFIXES = ['/admin', '/token', '/.well-known', '/jwks', '/me', '/healthz', '/readyz', '/metrics'];

/**
 * RFC 9110 section 15.5.5: nothing here. In JSON (`not_found`, the admin API's code for a
 * missing resource) under the API prefixes, and to a client that prefers JSON to HTML; the error
 * page (views/error.eta, as oidc-provider's own errors are rendered) for a browser.
 */
function notFound(ctx: Context, path: string, views: Pick<Views, 'render'>): void {
  ctx.status = 404;
  if (API_PREFIXES.some((prefix) => isUnder(path, prefix)) || ctx.accepts('html', 'json') === 'json') {
    ctx.body = { error: 'not_found', error_description: 'there is nothing at this address' };
    return;
  }
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = views.render('error', {
    lang: negotiateLanguage({ acceptLanguage: ctx.get('accept-language') }),
    key: 'errors.not_found',
    code: 'not_found',
  });
}

/**
 * Refuses any method not in `methods` before oidc-provider sees the request (its router would
 * answer a plain-text 404): RFC 9110 section 15.5.6, 405 with `Allow`, in RFC 6749's JSON error
 * shape. OPTIONS passes through when it is a CORS preflight (oidc-provider answers those for its
 * endpoints) and is otherwise answered here with `Allow` (RFC 9110 section 9.3.7).
 */
export function methodsAllowed(methods: readonly string[], description: string): Middleware {
  const allowed = new Set(methods);
  const allow = methods.join(', ');
  return function methodAllowed(ctx, next) {
    if (allowed.has(ctx.method)) return next();
    if (ctx.method === 'OPTIONS') {
      if (ctx.get('Access-Control-Request-Method')) return next();
      ctx.status = 204;
      ctx.set('Allow', allow);
      return;
    }
    ctx.status = 405;
    ctx.set('Allow', allow);
    ctx.body = { error: 'invalid_request', error_description: description };
  };
}

/**
 * oidc-provider's events for the errors of its routes that read a request body (the ones for
 * features Portcullis leaves off never fire). Each is emitted after the error answer is set.
 */
export const BODY_ERROR_EVENTS = [
  'grant.error',
  'introspection.error',
  'revocation.error',
  'userinfo.error',
  'pushed_authorization_request.error',
  'end_session.error',
  'end_session_confirm.error',
  'authorization.error',
  'device_authorization.error',
  'code_verification.error',
  'backchannel_authentication.error',
  'registration_create.error',
  'registration_update.error',
  'challenge.error',
  'credential.error',
] as const;

/**
 * RFC 9110 section 15.5.14: a body over the limit is 413, as the admin API's and the pages' body
 * parsers answer. oidc-provider's body reader (lib/shared/selective_body.js, 56 KiB) throws
 * `Error('request entity too large')` for a declared or a chunked body over its limit, and wraps
 * it as the `cause` of a 400 invalid_request; this listener for its error events (see
 * BODY_ERROR_EVENTS) turns that answer into a 413 in the same shape: JSON, or the error page
 * where oidc-provider rendered one. test/http/errorShapes.test.ts pins the message.
 */
export function answerOversizeBodies(views: Pick<Views, 'render'>) {
  return (ctx: Context, error: unknown): void => {
    if ((error as { cause?: { message?: unknown } } | null)?.cause?.message !== 'request entity too large') return;
    ctx.status = 413;
    if (ctx.response.is('html')) {
      ctx.type = 'text/html; charset=utf-8';
      const uiLocales = (ctx as { oidc?: { params?: { ui_locales?: unknown } } }).oidc?.params?.ui_locales;
      const lang = negotiateLanguage({ uiLocales, acceptLanguage: ctx.get('accept-language') });
      ctx.body = views.render('error', { lang, key: 'errors.too_large', code: 'request_too_large' });
    } else {
      ctx.body = { error: 'request_too_large', error_description: 'the request body is too large' };
    }
  };
}

/**
 * Endpoints that answer only JSON (or, for /metrics, plain text), never a page: oidc-provider's
 * token, introspection, revocation, PAR, device authorization, registration, JWKS, userinfo and
 * discovery endpoints, health, metrics, and the admin API and registered clients' /reg/ID
 * (matched by prefix). Any other path, in any letter case, gets the page headers.
 */
const API_PATHS = new Set([
  '/token',
  '/token/introspection',
  '/token/revocation',
  '/request',
  '/device/auth',
  '/reg',
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

/** The origin of an operator's logo on another host (BRAND_LOGO_URL), which img-src must name; none for a path of ours. */
function imageOrigin(logoUrl: string | undefined): string | undefined {
  if (!logoUrl || logoUrl.startsWith('/')) return undefined;
  try {
    return new URL(logoUrl).origin;
  } catch {
    return undefined;
  }
}

/**
 * Security headers for every page, set before the response is made so that oidc-provider
 * can add the hash of its one inline script (the form_post page) to `script-src`. The pages use
 * only same-origin files (the stylesheets, the show-password and copy scripts) and the operator's logo. `form-action` is left out on purpose: browsers apply
 * it to the redirects after a form is posted, and the consent form's answer is a redirect to
 * the application. `frame-ancestors 'none'` and X-Frame-Options stop clickjacking of the forms.
 */
function securityHeaders(https: boolean, logoOrigin: string | undefined): Record<string, string> {
  const policy = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    logoOrigin ? `img-src 'self' ${logoOrigin}` : "img-src 'self'",
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
