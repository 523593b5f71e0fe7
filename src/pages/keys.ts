// The developer page: a signed-in person's own API keys. Listing, creating, rotating and
// revoking them; creating and rotating need a recent sign-in or the password again (sudo mode);
// rotating and revoking are confirmed on a page of their own. Every POST answers 303 to a page: a
// new key is handed over once, through the flash (flash.ts), so reloading the page neither shows
// it again nor makes another. Which APIs and scopes a person may put on a key, and for how long,
// are the services' rules (resources.offeredToPeople, apiKeys.personalKeyLifetimes); their
// refusals are shown in the catalogue's words (the services word theirs in English for the API
// and CLI), named by the field they are about. The keys of the organizations whose keys the
// person's roles there manage (manage_keys) are listed, made, rotated and revoked on the same
// page with the same forms (an organization_id in the form); the service checks the role again.
import type { RouterMiddleware } from '@koa/router';
import type { ApiKeySummary } from '../apikeys/index.ts';
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
  if (error.field === 'organization_id') return { key: 'keys.problems.organization' };
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

/** A form's id: `N` for the person's own forms, `oM-N` for organization M's (the field ids are made from it). */
const FORM_ID = /^(o\d{1,3}-)?\d{1,3}$/;

/** A key as the list shows it: its state in words, and whether it can still be rotated or revoked. */
function listed(key: ApiKeySummary, now: number) {
  const expired = key.expires_at !== null && Date.parse(key.expires_at) <= now;
  const status = key.revoked_at ? 'revoked' : expired ? 'expired' : key.expires_at ? 'active_until' : 'active';
  return { ...key, status, active: !key.revoked_at && !expired };
}

export function createKeysPage(dependencies: PageDependencies) {
  const { views, users, resources, apiKeys, csrfKey, organizations, roles } = dependencies;
  const steps = createAccountSteps(dependencies);
  const csrfOf = (ctx: AccountContext) => csrfToken(csrfKey, 'account', ctx.state.session.uid);

  /** The person's organizations whose keys their roles there manage. */
  const managed = async (userId: string) =>
    (await organizations.organizationsOf(userId)).filter((organization) => organization.manage_keys);

  /** Every key the person may rotate or revoke here: their own, and those of the organizations they manage the keys of. */
  async function keysInReach(userId: string): Promise<ApiKeySummary[]> {
    const ofOrganizations = await Promise.all(
      (await managed(userId)).map((organization) => apiKeys.list({ organizationId: organization.id })),
    );
    return [...(await apiKeys.list({ ownerUserId: userId })), ...ofOrganizations.flat()];
  }

  const show: RouterMiddleware<SessionState> = async function showKeys(ctx) {
    const { session } = ctx.state;
    const user = await users.findById(session.accountId);
    const now = Date.now();
    const keys = (await apiKeys.list({ ownerUserId: session.accountId })).map((key) => listed(key, now));
    const organizationKeys = await Promise.all(
      (await managed(session.accountId)).map(async (organization, index) => ({
        id: organization.id,
        name: organization.name,
        index,
        keys: (await apiKeys.list({ organizationId: organization.id })).map((key) => listed(key, now)),
      })),
    );
    const offered = (await resources.offeredToPeople()).map((resource) => ({ ...resource, personalScopes: resource.personal_scopes }));
    // A key of one's own on an API that decides by roles carries only what the roles give: offer only that.
    const holder = { type: 'user' as const, id: session.accountId };
    const own = (
      await Promise.all(
        offered.map(async (resource) => {
          const permitted = await roles.permittedOn(resource, holder);
          return permitted ? { ...resource, personalScopes: resource.personalScopes.filter((scope) => permitted.has(scope)) } : resource;
        }),
      )
    ).filter((resource) => resource.personalScopes.length > 0);
    // The form's select sends seconds, as the key's lifetime is given to the service.
    const lifetimes = apiKeys.personalKeyLifetimes().map(({ days, selected }) => ({ days, seconds: days * 86_400, selected }));
    html(
      ctx,
      200,
      views.render('keys', {
        lang: pageLanguage(ctx),
        email: user?.email ?? '',
        keys,
        organizations: organizationKeys,
        resources: offered,
        ownResources: own,
        lifetimes,
        needsPassword: !steps.recentSignIn(ctx),
        csrf: csrfOf(ctx),
        flash: await steps.takeFlash(ctx),
        wide: true,
      }),
    );
  };

  const create: RouterMiddleware<SessionState> = async function createKey(ctx) {
    const form = FORM_ID.test(formText(ctx, 'form')) ? formText(ctx, 'form') : '0';
    const values = { form, name: formText(ctx, 'name').slice(0, 200) };
    if (!(await steps.confirmRecentSignIn(ctx, { field: `password-${form}`, back: PAGE, purpose: 'confirm_api_key', values }))) return;
    const audience = formText(ctx, 'audience');
    const expires = Number(formText(ctx, 'expires'));
    const organizationId = formText(ctx, 'organization_id');
    try {
      // The service makes the key the actor's own (or, with organization_id, the organization's,
      // when the actor's roles there manage its keys), and checks the scopes against what the API
      // offers (to people: its personal_key_scope), as for every surface.
      const created = await apiKeys.create(
        {
          name: formText(ctx, 'name'),
          scope: formTexts(ctx, 'scope').join(' '),
          audiences: audience ? [audience] : [],
          ...(expires > 0 ? { expires_in_seconds: expires } : {}),
          ...(organizationId ? { organization_id: organizationId } : {}),
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

  /** A key in the person's reach that is still in use, or undefined (anyone else's is not found, as in the service). */
  const activeKey = async (ctx: AccountContext) =>
    (await keysInReach(ctx.state.session.accountId)).find((item) => item.id === ctx.params.id && !item.revoked_at);

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
