// The account page's "Linked sign-ins": the accounts at other identity providers (src/federation)
// a person signs in with, and unlinking one. Unlinking is confirmed on a page of its own and,
// like every change to how a person signs in (security.ts), needs sudo mode: a recent sign-in or
// the password again. A person without a password cannot type one, so for them only a recent
// sign-in will do, and the pages say so. The service refuses to unlink the last way in (no
// password, no passkey, no other link): the account would be left with no way to sign in to
// it. That refusal lands on the account page with 409, carried through the flash as the login
// page carries its refusals' status.
import type { RouterMiddleware } from '@koa/router';
import type { IdentitySummary } from '../federation/index.ts';
import { createAccountSteps, pageLanguage, type AccountContext } from './accountSteps.ts';
import { csrfToken } from './csrf.ts';
import type { Flash } from './flash.ts';
import { errorPage, html } from './respond.ts';
import type { PageDependencies, SessionState } from './state.ts';

const ACCOUNT = '/account';

/** The flash of a refusal that the page it lands on answers with its own status (409). */
export type RefusalFlash = Flash & { status?: number };

/** The status of the page that shows `flash`: a refusal's, else 200. Only a client error is honoured. */
export const flashStatus = (flash: RefusalFlash): number =>
  typeof flash.status === 'number' && flash.status >= 400 && flash.status < 500 ? flash.status : 200;

/** The unlink page (confirmation GET and its POST) of one linked identity. */
export const unlinkPath = (identityId: string) => `/account/identities/${encodeURIComponent(identityId)}/unlink`;

export function createIdentitiesPage(dependencies: PageDependencies) {
  const { views, users, federation, csrfKey } = dependencies;
  const steps = createAccountSteps(dependencies);
  const csrfOf = (ctx: AccountContext) => csrfToken(csrfKey, 'account', ctx.state.session.uid);
  const t = (ctx: AccountContext) => views.catalogue.translator(pageLanguage(ctx));

  /** The account page's section: the person's linked identities, oldest first. */
  const section = (userId: string): Promise<IdentitySummary[]> => federation.identities.list(userId);

  /** The person's own identity named in the path, or undefined (anyone else's is not found). */
  const ownIdentity = async (ctx: AccountContext, userId: string) =>
    (await federation.identities.list(userId)).find((identity) => identity.id === ctx.params.id);

  const confirmUnlink: RouterMiddleware<SessionState> = async function confirmUnlinkIdentity(ctx) {
    const user = await users.findById(ctx.state.session.accountId);
    if (!user) return errorPage(ctx, views, 404, { message: t(ctx)('account.gone'), code: 'not_found' });
    const identity = await ownIdentity(ctx, user.id);
    if (!identity) return errorPage(ctx, views, 404, { message: t(ctx)('security.identities.not_found'), code: 'not_found' });
    const recent = steps.recentSignIn(ctx);
    const flash = await steps.takeFlash(ctx);
    // Without a password there is nothing to type: an old sign-in is refused before the button.
    if (!recent && !user.passwordHash && !flash.error) flash.error = { key: 'security.identities.sign_in_again' };
    html(
      ctx,
      200,
      views.render('confirm', {
        lang: pageLanguage(ctx),
        title: 'security.identities.unlink_title',
        text: 'security.identities.unlink_text',
        values: { connection: identity.displayName },
        action: unlinkPath(identity.id),
        button: 'security.identities.unlink_button',
        password: !recent && Boolean(user.passwordHash),
        back: ACCOUNT,
        csrf: csrfOf(ctx),
        flash,
      }),
    );
  };

  const unlink: RouterMiddleware<SessionState> = async function unlinkIdentity(ctx) {
    const user = await users.findById(ctx.state.session.accountId);
    if (!user) return errorPage(ctx, views, 404, { message: t(ctx)('account.gone'), code: 'not_found' });
    const back = unlinkPath(ctx.params.id!);
    if (!user.passwordHash && !steps.recentSignIn(ctx))
      return steps.redirect(ctx, back, { error: { key: 'security.identities.sign_in_again' } });
    if (!(await steps.confirmRecentSignIn(ctx, { field: 'password', back, purpose: 'unlink_identity' }))) return;
    const identity = await ownIdentity(ctx, user.id);
    if (!identity) return errorPage(ctx, views, 404, { message: t(ctx)('security.identities.not_found'), code: 'not_found' });
    const unlinked = await federation.identities.unlink(user.id, identity.id, ctx.state.actor);
    const values = { connection: identity.displayName };
    if (unlinked === 'last_way_in') {
      const refused: RefusalFlash = { error: { key: 'security.identities.last_way_in', values }, status: 409 };
      return steps.redirect(ctx, ACCOUNT, refused);
    }
    steps.redirect(ctx, ACCOUNT, { notice: { key: 'security.identities.unlinked', values } });
  };

  return { section, confirmUnlink, unlink };
}
