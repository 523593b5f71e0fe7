// What the pages read from a submitted form. Forms only, and small: a login form is a few
// hundred bytes, so anything bigger is refused (413) before it is parsed.
import { bodyParser } from '@koa/bodyparser';
import type Koa from 'koa';

export const forms = bodyParser({ enableTypes: ['form'], formLimit: '16kb', encoding: 'utf-8' });

/** A field as it came: a string, several strings (a repeated name), or nothing. */
export function formField(ctx: Pick<Koa.Context, 'request'>, name: string): unknown {
  const body = ctx.request.body;
  return typeof body === 'object' && body !== null ? Reflect.get(body, name) : undefined;
}

/** A text field; anything that is not one string reads as empty. */
export function formText(ctx: Pick<Koa.Context, 'request'>, name: string): string {
  const value = formField(ctx, name);
  return typeof value === 'string' ? value : '';
}

/** Checkboxes: one value, or several under the same name. */
export function formTexts(ctx: Pick<Koa.Context, 'request'>, name: string): string[] {
  const value = formField(ctx, name);
  return (Array.isArray(value) ? value : [value]).map((item) => (typeof item === 'string' ? item : ''));
}
