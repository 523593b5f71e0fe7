// RFC 8628, the device authorization grant: oidc-provider's deviceFlow feature, with Portcullis's
// pages (the user-code form, its confirmation, the "return to your device" page) and a limit on
// wrong user codes per source network.
//
// The path of a person through it: the device shows a user code and /device; the person types
// the code (oidc-provider folds case and drops dashes and spaces before the lookup: its
// helpers/user_codes.js), checks the app's name and the code on the confirmation page, signs in
// and consents on the usual pages (src/pages), and ends on the success page while the device,
// polling the token endpoint, gets its tokens. /device?user_code=… (verification_uri_complete)
// skips the typing: oidc-provider posts the code itself, straight to the confirmation.
import crypto from 'node:crypto';
import type { Middleware } from 'koa';
import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { networkOf, type RateLimiter } from '../limits/index.ts';
import { negotiateLanguage } from '../i18n/index.ts';
import type { Views } from '../templates/index.ts';

type DeviceFlowFeature = NonNullable<NonNullable<Configuration['features']>['deviceFlow']>;

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * RFC 8628 section 3.2: a device that is told no `interval` polls every 5 seconds. A pending poll
 * sooner than that after the last (less a second, for the network) is told slow_down.
 */
const POLL_INTERVAL_SECONDS = 5;
const POLL_SPACING = `1/${POLL_INTERVAL_SECONDS - 1}s`;

/** oidc-provider's paths of the verification page and the device authorization endpoint (its default routes). */
export const DEVICE_PATH = '/device';
export const DEVICE_AUTHORIZATION_PATH = '/device/auth';

/**
 * RFC 8628 section 6.1: 20 consonants (no vowels, so no words; nothing that reads as a digit),
 * eight of them: 20^8, about 34.5 bits, with at most DEVICE_CODE_FAILURE_LIMIT guesses per
 * network in a window and a code that lives ten minutes.
 */
const CHARSET = 'base-20';
const MASK = '****-****';

/** The longest typed code shown back in the form: anything longer is no code of ours. */
const MAX_ECHOED_CODE = 32;

export interface DeviceFlowDependencies {
  views: Views;
  rateLimiter: RateLimiter;
  /** Wrong user codes allowed per network (DEVICE_CODE_FAILURE_LIMIT), e.g. 10/15m. */
  failureLimit: string;
}

export interface DeviceFlow {
  feature: DeviceFlowFeature;
  /** In front of oidc-provider's POST /device: the wrong-code limit (see userCodeLimit). */
  userCodeLimit: Middleware;
  /** Around oidc-provider's POST /device/auth: RFC 6749's error for a client without the grant. */
  unauthorizedClient: Middleware;
  /** Wraps oidc-provider's device_code grant handler: slow_down for a device polling too fast. */
  pollingInterval<Handler extends (ctx: KoaContextWithOIDC) => unknown>(handler: Handler): Handler;
}

/** Why oidc-provider re-renders the user-code form (lib/helpers/re_render_errors.js): the catalogue's key of its words. */
const MESSAGES: Record<string, string> = {
  NoCodeError: 'device.no_code',
  NotFoundError: 'device.not_found',
  ExpiredError: 'device.expired',
  AlreadyUsedError: 'device.already_used',
};

/**
 * The language of a device page: no authorization request carries ui_locales to the
 * verification page (RFC 8628 section 3.3: the person types an address), so the browser's
 * Accept-Language decides, unless an interaction's parameters are at hand.
 */
const languageOf = (ctx: KoaContextWithOIDC): string =>
  negotiateLanguage({
    uiLocales: (ctx.oidc?.params as { ui_locales?: unknown } | undefined)?.ui_locales,
    acceptLanguage: ctx.get('accept-language'),
  });

function page(ctx: KoaContextWithOIDC, body: string): void {
  ctx.type = 'text/html; charset=utf-8';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = body;
}

/** The form's anti-forgery secret: oidc-provider keeps it in the session and checks it on POST. */
const xsrfOf = (ctx: KoaContextWithOIDC): string => (ctx.oidc.session?.state as { secret?: string } | undefined)?.secret ?? '';

export function createDeviceFlow({ views, rateLimiter, failureLimit }: DeviceFlowDependencies): DeviceFlow {
  /** Requests whose user code matched no device code: the ones the limit keeps counted. */
  const unknownCodes = new WeakSet<object>();

  const feature: DeviceFlowFeature = {
    enabled: true,
    charset: CHARSET,
    mask: MASK,
    // Shown on the confirmation page (RFC 8628 section 5.4, remote phishing): a person who sees
    // an address they do not know can cancel. Sealed with the rest of the device code at rest.
    deviceInfo: (ctx) => ({ ip: ctx.ip }),
    // The form, first shown or shown again after a failure (oidc-provider's `form` is not used:
    // its inline onfocus handler is refused by the pages' Content-Security-Policy).
    async userCodeInputSource(ctx, _form, out, error) {
      const lang = languageOf(ctx);
      const t = views.catalogue.translator(lang);
      let message: string | undefined;
      let notice: string | undefined;
      if (error?.name === 'AbortedError') {
        notice = t('device.cancelled');
      } else if (error && !MESSAGES[error.name] && ctx.method === 'GET' && out?.error !== 'server_error') {
        // A GET that fails for another reason is the resume of a sign-in that is over: most
        // often the success page reloaded. "Expired" alone would read as a failure to someone
        // whose device is in fact signed in.
        notice = t('device.finished');
      } else if (error) {
        if (error.name === 'NotFoundError') unknownCodes.add(ctx);
        message = t(MESSAGES[error.name] ?? (out?.error === 'server_error' ? 'device.server_error' : 'device.form_expired'));
      }
      // After an error oidc-provider writes a fresh xsrf secret into the session and then saves
      // the session, which throws (a 500) for a session that was never stored: a POST or a
      // resumed step that came without the session cookie (cookies off, or cleared). Such a
      // session is left unsaved, and the page links to a fresh form instead of holding a secret
      // that no browser has.
      const session = ctx.oidc.session as (NonNullable<KoaContextWithOIDC['oidc']['session']> & { touched?: boolean }) | undefined;
      if (error && session && typeof session.exp !== 'number') {
        session.touched = false;
        page(
          ctx,
          views.render('device-input', {
            lang,
            action: ctx.oidc.urlFor('code_verification'),
            message: t('device.page_expired'),
            restart: true,
          }),
        );
        return;
      }
      const typed = (error as { userCode?: unknown } | undefined)?.userCode;
      page(
        ctx,
        views.render('device-input', {
          lang,
          action: ctx.oidc.urlFor('code_verification'),
          xsrf: xsrfOf(ctx),
          userCode: typeof typed === 'string' ? typed.slice(0, MAX_ECHOED_CODE) : '',
          message,
          notice,
        }),
      );
    },
    async userCodeConfirmSource(ctx, _form, client, deviceInfo, userCode) {
      page(
        ctx,
        views.render('device-confirm', {
          lang: languageOf(ctx),
          action: ctx.oidc.urlFor('code_verification'),
          xsrf: xsrfOf(ctx),
          userCode,
          clientName: client.clientName,
          deviceIp: typeof deviceInfo?.ip === 'string' ? deviceInfo.ip : undefined,
        }),
      );
    },
    async successSource(ctx) {
      page(ctx, views.render('device-success', { lang: languageOf(ctx), clientName: ctx.oidc.client?.clientName }));
    },
  };

  /**
   * RFC 8628 section 5.1: the user code is short enough to guess, so guesses are limited like
   * passwords (src/pages/login.ts). Every POST to the form is counted before oidc-provider looks
   * its code up (the count is atomic, so a burst cannot slip lookups past the limit), and given
   * back unless the code matched nothing: a person who types their code right spends nothing,
   * and past the limit no code is looked up, right or wrong, until the window ends.
   */
  const userCodeLimit: Middleware = async function userCodeLimit(ctx, next) {
    const subject = `device-user-code|${networkOf(ctx.ip)}`;
    const verdict = await rateLimiter.consume(subject, failureLimit);
    if (!verdict.allowed) {
      const minutes = Math.ceil(verdict.retryAfterSeconds / 60);
      ctx.status = 429;
      ctx.set('Retry-After', String(verdict.retryAfterSeconds));
      page(
        ctx as KoaContextWithOIDC,
        views.render('device-input', {
          lang: languageOf(ctx as KoaContextWithOIDC),
          action: DEVICE_PATH,
          message: views.catalogue.translator(languageOf(ctx as KoaContextWithOIDC))('device.too_many', { count: minutes }),
          blocked: true,
        }),
      );
      return;
    }
    try {
      await next();
    } finally {
      if (!unknownCodes.has(ctx)) await rateLimiter.giveBack(subject, failureLimit);
    }
  };

  /**
   * RFC 8628 section 3.2 answers with RFC 6749 section 5.2's errors, where a client that may not
   * use this grant gets `unauthorized_client`; oidc-provider answers `invalid_request`. Decided
   * from the request's client, as at the token endpoint (src/oidc/standardErrors.ts).
   */
  const unauthorizedClient: Middleware = async function unauthorizedClient(ctx, next) {
    await next();
    const { oidc } = ctx as unknown as KoaContextWithOIDC;
    const body = ctx.body as { error?: string } | undefined;
    if (
      oidc?.route === 'device_authorization' &&
      ctx.status === 400 &&
      body?.error === 'invalid_request' &&
      oidc.client &&
      !oidc.client.grantTypeAllowed(DEVICE_CODE_GRANT)
    ) {
      body.error = 'unauthorized_client';
    }
  };

  /**
   * RFC 8628 section 3.5: slow_down is "a variant of authorization_pending" (oidc-provider has
   * the error but never sends it), so only a poll that would be told pending is checked: each
   * pending poll is counted for its device code (by a hash: the code is the device's credential),
   * and one too soon after the last is told to slow down. The count is in the limiter store, so
   * with Redis it holds across instances; without, each instance counts the polls it sees.
   */
  function pollingInterval<Handler extends (ctx: KoaContextWithOIDC) => unknown>(handler: Handler): Handler {
    return async function devicePolling(ctx: KoaContextWithOIDC) {
      try {
        return await handler(ctx);
      } catch (error) {
        if (error instanceof errors.AuthorizationPending) {
          const deviceCode = String(ctx.oidc.params?.device_code);
          const verdict = await rateLimiter.consume(`device-poll|${crypto.hash('sha256', deviceCode, 'base64url')}`, POLL_SPACING);
          if (!verdict.allowed) throw new errors.SlowDown();
        }
        throw error;
      }
    } as Handler;
  }

  return { feature, userCodeLimit, unauthorizedClient, pollingInterval };
}
