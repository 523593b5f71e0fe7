// Koa middleware shared by every route outside oidc-provider: request ids and logs, and the one
// place where Portcullis's own errors become HTTP responses.
import crypto from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { fromDatabaseError, PortcullisError } from '../errors/index.ts';
import { isDatabaseError } from '../metrics/index.ts';

/** Gives each request an id (echoed as X-Request-Id) and logs one line when it ends. No bodies, no query strings. */
export function requestLogger(logger: Logger): Middleware {
  return async function logRequest(ctx, next) {
    const requestId = crypto.randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    const path = ctx.path;
    try {
      await next();
    } finally {
      logger.info(
        { requestId, method: ctx.method, path, status: ctx.status, ms: Number(process.hrtime.bigint() - started) / 1e6 },
        'request',
      );
    }
  };
}

/** Renders PortcullisError as JSON with its status; anything else is a logged 500 with no detail. */
export function errorHandler(logger: Logger, metrics?: { databaseError(): void }): Middleware {
  return async function renderErrors(ctx, next) {
    try {
      await next();
    } catch (caught) {
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
        metrics?.databaseError();
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
  };
}

/**
 * Security headers for every response, set before the response is made so that oidc-provider
 * can add the hash of its one inline script (the form_post page) to `script-src`. The pages use
 * only same-origin files: one stylesheet, and one script (the copy button of the API-key page). `form-action` is left out on purpose: browsers apply
 * it to the redirects after a form is posted, and the consent form's answer is a redirect to
 * the application. `frame-ancestors 'none'` and X-Frame-Options stop clickjacking of the forms.
 */
export function securityHeaders({ https }: { https: boolean }): Middleware {
  const policy = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  return async function setSecurityHeaders(ctx, next) {
    ctx.set('Content-Security-Policy', policy);
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    // RFC 6797: browsers that once saw the https issuer never fall back to http for it.
    if (https) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    await next();
  };
}
