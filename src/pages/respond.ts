// How a page answers: HTML that no cache keeps (every page shows a person's own data or a
// one-time form), and the one error page every failure of a page is shown on, in the visitor's
// language.
import type Koa from 'koa';
import { negotiateLanguage } from '../i18n/index.ts';
import type { Views } from '../templates/index.ts';

/** What a page needs of the request's context to answer it. */
type Answerable = Pick<Koa.Context, 'status' | 'type' | 'body' | 'set'>;

export function html(ctx: Answerable, status: number, body: string): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = body;
}

/**
 * What the error page says. `key` names the message in the catalogue (views/locales, e.g.
 * `errors.csrf`), looked up in the page's language; `message` is text already in that language
 * (for callers that translate for themselves); with neither, the catalogue's words for `code`
 * (errors.codes.CODE). `detail` is a library's own technical description (oidc-provider's
 * error_description, in English), shown as such under the message.
 */
export interface PageError {
  code: string;
  key?: string;
  values?: Record<string, unknown>;
  message?: string;
  detail?: string;
  /** The page's language when the caller knows better than Accept-Language (an interaction's ui_locales). */
  lang?: string;
  /** A way on from the error (a link and its words' catalogue key) instead of "go back". */
  link?: { href: string; key: string };
}

/**
 * The language of a page shown for this request: the interaction's ui_locales when a loader put
 * the interaction in the state (src/pages/router.ts), then Accept-Language, then English.
 */
export function requestLanguage(ctx: Pick<Koa.Context, 'get'> & { state?: unknown }, uiLocales?: unknown): string {
  const interaction = (ctx.state as { interaction?: { params?: { ui_locales?: unknown } } } | undefined)?.interaction;
  return negotiateLanguage({ uiLocales: uiLocales ?? interaction?.params?.ui_locales, acceptLanguage: ctx.get('accept-language') });
}

/** The error page (views/error.eta): what went wrong in words, and a code a person can quote to support. */
export function errorPage(ctx: Answerable & Pick<Koa.Context, 'get' | 'state'>, views: Views, status: number, error: PageError): void {
  html(ctx, status, views.render('error', { ...error, lang: error.lang ?? requestLanguage(ctx) }));
}
