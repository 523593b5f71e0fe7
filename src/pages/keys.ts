// The developer page: a signed-in person's own API keys. Listing, creating, rotating and
// revoking them; creating and rotating need a recent sign-in or the password again (sudo mode);
// rotating and revoking are confirmed on a page of their own. Every POST answers 303 to a page: a
// new key is handed over once, through the flash (flash.ts), so reloading the page neither shows
// it again nor makes another. Which APIs and scopes a person may put on a key, and for how long,
// are the services' rules (resources.offeredToPeople, apiKeys.personalKeyLifetimes); their
// refusals are shown in the catalogue's words (the services word theirs in English for the API
// and CLI), named by the field they are about.
import type { RouterMiddleware } from '@koa/router';
import { ConflictError, InputError, NotFoundError } from '../errors/index.ts';
import { createAccountSteps, pageLanguage, type AccountContext } from './accountSteps.ts';
import { csrfToken } from './csrf.ts';
import { formText, formTexts } from './form.ts';
import { errorPage, html } from './respond.ts';
import type { PageDependencies, SessionState } from './state.ts';

const PAGE = '/account/keys';

/** The catalogue's words for a service refusal, by the field it is about (InputError.field). */
function refusalOf(
  error: InputError,
  chosen: { scopes: string[]; offered: string[] | undefined; maxDays?: number },
): { key: string; values?: Record<string, string | number> } {
  if (error.field === 'name') return { key: 'keys.problems.name' };
  if (error.field === 'expires_in_seconds') return { key: 'keys.problems.expires', values: { days: chosen.maxDays ?? 0 } };
  if (error.field === 'audiences') return { key: 'keys.problems.audience' };
  if (error.field === 'id') return { key: 'keys.problems.not_active' };
  if (error.field === 'scope') {
    if (chosen.scopes.length === 0) return { key: 'keys.problems.scope_none' };
    const outside = chosen.scopes.find((scope) => !chosen.offered?.includes(scope));
    return outside ? { key: 'keys.problems.scope_not_offered', values: { scope: outside } } : { key: 'keys.problems.scope' };
  }
  return { key: 'keys.problems.other' };
}

/** The id of the form's field a service refusal is about, to put the focus there. */
function fieldOf(serviceField: string, form: string): string | undefined {
  if (serviceField === 'name') return `name-${form}`;
  if (serviceField === 'scope') return `scope-${form}-0`;
  if (serviceField === 'expires_in_seconds') return `expires-${form}`;
  return undefined;
}

export function createKeysPage(dependencies: PageDependencies) {
  const { views, users, resources, apiKeys, csrfKey } = dependencies;
  const steps = createAccountSteps(dependencies);
  const csrfOf = (ctx: AccountContext) => csrfToken(csrfKey, 'account', ctx.state.session.uid);

  const show: RouterMiddleware<SessionState> = async function showKeys(ctx) {
    const { session } = ctx.state;
    const user = await users.findById(session.accountId);
    const now = Date.now();
    const keys = (await apiKeys.list({ ownerUserId: session.accountId })).map((key) => {
      const expired = key.expires_at !== null && Date.parse(key.expires_at) <= now;
      const status = key.revoked_at ? 'revoked' : expired ? 'expired' : key.expires_at ? 'active_until' : 'active';
      return { ...key, status, active: !key.revoked_at && !expired };
    });
    const offered = (await resources.offeredToPeople()).map((resource) => ({ ...resource, personalScopes: resource.personal_scopes }));
    // The form's select sends seconds, as the key's lifetime is given to the service.
    const lifetimes = apiKeys.personalKeyLifetimes().map(({ days, selected }) => ({ days, seconds: days * 86_400, selected }));
    html(
      ctx,
      200,
      views.render('keys', {
        lang: pageLanguage(ctx),
        email: user?.email ?? '',
        keys,
        resources: offered,
        lifetimes,
        needsPassword: !steps.recentSignIn(ctx),
        csrf: csrfOf(ctx),
        flash: await steps.takeFlash(ctx),
        wide: true,
      }),
    );
  };

  const create: RouterMiddleware<SessionState> = async function createKey(ctx) {
    const form = /^\d{1,3}$/.test(formText(ctx, 'form')) ? formText(ctx, 'form') : '0';
    const values = { form, name: formText(ctx, 'name').slice(0, 200) };
    if (!(await steps.confirmRecentSignIn(ctx, { field: `password-${form}`, back: PAGE, purpose: 'confirm_api_key', values }))) return;
    const audience = formText(ctx, 'audience');
    const expires = Number(formText(ctx, 'expires'));
    try {
      // The service makes the key the actor's own, and checks the scopes against what the API
      // offers to people (its personal_key_scope), as for every surface.
      const created = await apiKeys.create(
        {
          name: formText(ctx, 'name'),
          scope: formTexts(ctx, 'scope').join(' '),
          audiences: audience ? [audience] : [],
          ...(expires > 0 ? { expires_in_seconds: expires } : {}),
        },
        ctx.state.actor,
      );
      steps.redirect(ctx, PAGE, { newKey: { name: created.name, key: created.key } });
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      const field = fieldOf(error.field, form);
      const offered = (await resources.offeredToPeople()).find((resource) => resource.audience === audience)?.personal_scopes;
      const maxDays = Math.max(...apiKeys.personalKeyLifetimes().map(({ days }) => days));
      const refusal = refusalOf(error, { scopes: formTexts(ctx, 'scope').filter(Boolean), offered, maxDays });
      steps.redirect(ctx, PAGE, { error: { ...refusal, ...(field ? { field } : {}) }, values });
    }
  };

  /** A person's own key that is still in use, or undefined (anyone else's is not found, as in the service). */
  const activeKey = async (ctx: AccountContext) =>
    (await apiKeys.list({ ownerUserId: ctx.state.session.accountId })).find((item) => item.id === ctx.params.id && !item.revoked_at);

  /**
   * The page that asks before a key is rotated or revoked: which key, what will happen, a button
   * that posts to `/account/keys/ID/ACTION`, and the password when sudo mode needs it.
   */
  async function confirmKey(
    ctx: AccountContext,
    action: 'rotate' | 'revoke',
    words: { title: string; text: string; button: string },
    { password = false, danger = true }: { password?: boolean; danger?: boolean } = {},
  ): Promise<void> {
    const t = views.catalogue.translator(pageLanguage(ctx));
    // A person's own keys only: anyone else's is not found, as in the service.
    const key = await activeKey(ctx);
    if (!key) return errorPage(ctx, views, 404, { message: t('keys.no_such_key'), code: 'not_found' });
    html(
      ctx,
      200,
      views.render('confirm', {
        lang: pageLanguage(ctx),
        ...words,
        values: { name: key.name, prefix: key.display_prefix },
        action: `/account/keys/${key.id}/${action}`,
        password,
        danger,
        back: PAGE,
        csrf: csrfOf(ctx),
        flash: await steps.takeFlash(ctx),
      }),
    );
  }

  /** The confirmation before a rotation: a new key is shown once, and the password when sudo mode needs it. */
  const confirmRotate: RouterMiddleware<SessionState> = async function confirmRotate(ctx) {
    await confirmKey(
      ctx,
      'rotate',
      { title: 'keys.rotate_confirm.title', text: 'keys.rotate_confirm.text', button: 'keys.rotate_confirm.button' },
      { password: !steps.recentSignIn(ctx), danger: false },
    );
  };

  const rotate: RouterMiddleware<SessionState> = async function rotateKey(ctx) {
    const back = `${PAGE}/${encodeURIComponent(ctx.params.id!)}/rotate`;
    if (!(await steps.confirmRecentSignIn(ctx, { field: 'password', back, purpose: 'confirm_api_key' }))) return;
    try {
      // No grace given: the schema's default, one day, for the old key to be replaced where it is used.
      const rotated = await apiKeys.rotate(ctx.params.id!, {}, ctx.state.actor);
      steps.redirect(ctx, PAGE, { newKey: { name: rotated.name, key: rotated.key, previousExpiresAt: rotated.previous_key_expires_at } });
    } catch (error) {
      if (error instanceof NotFoundError) return steps.redirect(ctx, PAGE, { error: { key: 'keys.no_such_key' } });
      if (error instanceof InputError) return steps.redirect(ctx, PAGE, { error: refusalOf(error, { scopes: [], offered: [] }) });
      if (error instanceof ConflictError) return steps.redirect(ctx, PAGE, { error: { key: 'keys.problems.conflict' } });
      throw error;
    }
  };

  /** The confirmation before a revocation: the key stops at once. */
  const confirmRevoke: RouterMiddleware<SessionState> = async function confirmRevoke(ctx) {
    await confirmKey(ctx, 'revoke', {
      title: 'keys.revoke.confirm_title',
      text: 'keys.revoke.confirm_text',
      button: 'keys.revoke.confirm_button',
    });
  };

  const revoke: RouterMiddleware<SessionState> = async function revokeKey(ctx) {
    try {
      const revoked = await apiKeys.revoke(ctx.params.id!, ctx.state.actor);
      steps.redirect(ctx, PAGE, { notice: { key: 'keys.revoked', values: { name: revoked.name } } });
    } catch (error) {
      // Someone else's key is not found either: a person's actor finds only their own.
      if (error instanceof NotFoundError) return steps.redirect(ctx, PAGE, { error: { key: 'keys.no_such_key' } });
      throw error;
    }
  };

  return { show, create, confirmRotate, rotate, confirmRevoke, revoke };
}
