// The short-lived, single-read flash of post/redirect/get: what a POST wants the page after its
// redirect to show once (a notice, a refusal and the field at fault, a new API key). It rides in
// a cookie, sealed (AES-256-GCM, src/crypto) under the CSRF key and bound to the browser's
// session, so only this server can read it and only for the session it was made in; it lasts
// FLASH_SECONDS and is cleared by the GET that reads it. A reload shows the page without it, and
// the POST is never re-rendered: a new key is shown once, and reloading does not make another.
import type Koa from 'koa';
import { seal, unseal } from '../crypto/index.ts';

/** Long enough for the redirect to be followed, short enough that a key does not wait in a cookie. */
export const FLASH_SECONDS = 60;
const COOKIE = 'portcullis.flash';
const CONTEXT = 'page-flash';

export interface Flash {
  /** The catalogue key of a notice (role=status), and its values. */
  notice?: { key: string; values?: Record<string, string | number> };
  /** The catalogue key of a refusal (role=alert), its values, and the id of the field at fault (focused). */
  error?: { key: string; values?: Record<string, string | number>; field?: string; text?: string };
  /** What the person typed into fields that are not secret, to fill them in again. */
  values?: Record<string, string>;
  /** A new API key: shown once. */
  newKey?: { name: string; key: string; previousExpiresAt?: string };
}

type CookieContext = Pick<Koa.Context, 'cookies'>;

function cookieOptions(maxAge: number) {
  // Path /account: only the account pages ever carry it. httpOnly: no script reads a key from it.
  return { path: '/account', httpOnly: true, sameSite: 'lax' as const, signed: false, overwrite: true, maxAge };
}

export function createFlash(key: string) {
  return {
    /** Leaves `flash` for the next page this browser session loads. */
    set(ctx: CookieContext, binding: string, flash: Flash): void {
      const payload = JSON.stringify({ ...flash, until: Date.now() + FLASH_SECONDS * 1000 });
      ctx.cookies.set(COOKIE, seal(key, binding, CONTEXT, payload), cookieOptions(FLASH_SECONDS * 1000));
    },

    /** The flash left for this session, once: the cookie is cleared as it is read. */
    take(ctx: CookieContext, binding: string): Flash {
      const sealed = ctx.cookies.get(COOKIE);
      if (!sealed) return {};
      ctx.cookies.set(COOKIE, null, cookieOptions(0));
      const opened = unseal(key, binding, CONTEXT, sealed);
      if (!opened) return {};
      try {
        const { until, ...flash } = JSON.parse(opened) as Flash & { until?: number };
        return typeof until === 'number' && until > Date.now() ? flash : {};
      } catch {
        return {};
      }
    },
  };
}

export type FlashStore = ReturnType<typeof createFlash>;
