// What goes wrong in a page's flow, turned into the error page with the right status, never a
// 500: an expired or finished sign-in, a body too large (413), a step that does not fit the
// prompt (400). Anything else (the database gone, a bug) is not the visitor's doing and goes on
// to the server's own error handling.
import type Koa from 'koa';
import { errors } from 'oidc-provider';
import type { Views } from '../templates/index.ts';
import { errorPage } from './respond.ts';

export function pageErrors(views: Views): Koa.Middleware {
  return async function pageErrors(ctx, next) {
    try {
      await next();
    } catch (error) {
      // interactionDetails and interactionFinished throw SessionNotFound for every way a sign-in
      // can be gone: no interaction cookie, an interaction expired or already finished, or the
      // browser's session ended or changed person since.
      if (error instanceof errors.SessionNotFound) return errorPage(ctx, views, 400, { key: 'errors.expired_sign_in', code: error.error });
      const failure = visitorFailure(error);
      if (!failure) throw error;
      // The words come from the catalogue by the error's code; the library's own description
      // (in English, technical) is shown under them as a detail.
      errorPage(ctx, views, failure.status, { code: failure.code, detail: failure.detail });
    }
  };
}

/**
 * An error that is the visitor's doing, as the error page shows it: oidc-provider's (a code and
 * a description), Koa's and the body parser's (a status and a message that may be exposed).
 */
function visitorFailure(error: unknown): { status: number; detail: string; code: string } | undefined {
  if (!(error instanceof Error)) return undefined;
  const status = Number(property(error, 'status') ?? property(error, 'statusCode'));
  const clientError = status >= 400 && status < 500;
  if (!clientError && !property(error, 'expose')) return undefined;
  const code = property(error, 'error');
  return {
    status: clientError ? status : 400,
    detail: String(property(error, 'error_description') ?? error.message),
    code: typeof code === 'string' ? code : status === 413 ? 'request_too_large' : 'invalid_request',
  };
}

/** A property errors of several libraries carry under the same name, whatever their class. */
function property(error: Error, name: string): unknown {
  return Reflect.get(error, name);
}
