// How a page answers: HTML that no cache keeps (every page shows a person's own data or a
// one-time form), and the one error page every failure of a page is shown on.
import type Koa from 'koa';
import type { Views } from '../templates/index.ts';

/** What a page needs of the request's context to answer it. */
type Answerable = Pick<Koa.Context, 'status' | 'type' | 'body' | 'set'>;

export function html(ctx: Answerable, status: number, body: string): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = body;
}

/** The error page: what went wrong in words, and a code a person can quote to support. */
export function errorPage(ctx: Answerable, views: Views, status: number, { message, code }: { message: string; code: string }): void {
  html(ctx, status, views.render('error', { message, code }));
}
