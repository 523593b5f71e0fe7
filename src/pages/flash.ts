// The short-lived, single-read flash of post/redirect/get: what a POST wants the page after its
// redirect to show once (a notice, a refusal and the field at fault, what was typed, a new API
// key). It rides in one cookie, sealed (AES-256-GCM, src/crypto) under the CSRF key and bound to
// what the page is bound to (the signed-in session, or the browser's own cookie on the pages of
// people who are not signed in), so only this server can read it and only there; it lasts
// FLASH_SECONDS and is cleared by the GET that reads it. Its random id is marked read in the
// database (src/artifacts/flashReads.ts) as it is shown, so it is shown once whatever happens to
// the cookie: a reload, a replayed cookie, another instance, two tabs. The POST is never
// re-rendered: a new key is shown once, and reloading makes no other.
import crypto from 'node:crypto';
import type Koa from 'koa';
import type { FlashReads } from '../artifacts/index.ts';
import { seal, unseal } from '../crypto/index.ts';

/** Long enough for the redirect to be followed, short enough that a key does not wait in a cookie. */
export const FLASH_SECONDS = 60;
const COOKIE = 'portcullis.flash';
const CONTEXT = 'page-flash';

/** What the account and developer pages leave for their next page. */
export interface Flash {
  /** The catalogue key of a notice (role=status), and its values. */
  notice?: { key: string; values?: Record<string, string | number> };
  /** The catalogue key of a refusal (role=alert), its values, and the id of the field at fault (focused). */
  error?: { key: string; values?: Record<string, string | number>; field?: string; text?: string };
  /** What the person typed into fields that are not secret, to fill them in again. */
  values?: Record<string, string>;
  /** A new API key: shown once. */
  newKey?: { name: string; key: string; previousExpiresAt?: string };
  /** A step the person just confirmed with their password (sudo mode), allowed once: the data export. */
  allowed?: 'export';
}

type CookieContext = Pick<Koa.Context, 'cookies'>;

interface Sealed {
  id: string;
  until: number;
  /** The page it is for; another page drops it. */
  path?: string;
  value: unknown;
}

export function createFlash({ key, reads, secure }: { key: string; reads: FlashReads; secure: boolean }) {
  // httpOnly: no script reads a key from it. Path /: the pages below /account and the pages of
  // people not signed in share the one cookie (its binding keeps each to its own).
  const options = (maxAge: number) => ({
    path: '/',
    httpOnly: true,
    sameSite: 'lax' as const,
    secure,
    signed: false,
    overwrite: true,
    maxAge,
  });
  return {
    /** Leaves `value` for the next page this browser loads (only `path`, when given). */
    set(ctx: CookieContext, binding: string, value: object, path?: string): void {
      const sealed: Sealed = {
        id: crypto.randomBytes(16).toString('base64url'),
        until: Date.now() + FLASH_SECONDS * 1000,
        value,
        ...(path ? { path } : {}),
      };
      ctx.cookies.set(COOKIE, seal(key, binding, CONTEXT, JSON.stringify(sealed)), options(FLASH_SECONDS * 1000));
    },

    /** The flash left for `binding` (and `path`), once: the cookie is cleared and its id marked read. */
    async take<T>(ctx: CookieContext, binding: string, path?: string): Promise<T | undefined> {
      const cookie = ctx.cookies.get(COOKIE);
      if (!cookie) return undefined;
      const opened = unseal(key, binding, CONTEXT, cookie);
      // Another session's or browser's (or page's) flash is left for the page it was meant for,
      // which another tab may be loading; it expires by itself.
      if (!opened) return undefined;
      let sealed: Sealed;
      try {
        sealed = JSON.parse(opened) as Sealed;
      } catch {
        return undefined;
      }
      if (path && sealed.path && sealed.path !== path) return undefined;
      ctx.cookies.set(COOKIE, null, options(0));
      if (typeof sealed.until !== 'number' || sealed.until <= Date.now() || typeof sealed.id !== 'string') return undefined;
      if (!(await reads.markRead(sealed.id, new Date(sealed.until)))) return undefined;
      return sealed.value as T;
    },
  };
}

export type FlashStore = ReturnType<typeof createFlash>;
