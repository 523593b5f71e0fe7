// The signed-in person's own pages below /account: the account page (account.ts), its sign-in
// security (security.ts: second factors, passkeys), its linked sign-ins (identities.ts), its
// organizations and the page of an organization's invitation (organizations.ts), the developer page (keys.ts), the
// confirmations before destructive actions, and the account page's own sign-in (accountSignIn.ts). A GET page opened signed out starts a sign-in and comes back; a
// POST without a session is the 401 page (nothing to come back to). The email-change link and
// the page after a deletion need no session.
import Router, { type RouterMiddleware } from '@koa/router';
import type Koa from 'koa';
import type Provider from 'oidc-provider';
import { createAccountPage } from './account.ts';
import { createAccountSignIn } from './accountSignIn.ts';
import { createIdentitiesPage } from './identities.ts';
import { createKeysPage } from './keys.ts';
import { createOrganizationsPage, INVITATION_PAGE } from './organizations.ts';
import { createSecurityPage } from './security.ts';
import type { PageDependencies, SessionState, SignedInSession } from './state.ts';

/** The steps of router.ts these routes are built from (named here, so this module does not import the router that imports it). */
interface SharedSteps {
  errors: Koa.Middleware;
  forms: Koa.Middleware;
  loadSession: RouterMiddleware<SessionState>;
  accountCsrf: Koa.Middleware<SessionState>;
}

type ProviderSession = Awaited<ReturnType<Provider['Session']['get']>>;
const signedIn = (session: ProviderSession): session is SignedInSession => Boolean(session.accountId);

export function createAccountRoutes(dependencies: PageDependencies, { errors, forms, loadSession, accountCsrf }: SharedSteps): Router {
  const security = createSecurityPage(dependencies);
  const identities = createIdentitiesPage(dependencies);
  const organizations = createOrganizationsPage(dependencies);
  const account = createAccountPage(dependencies, security, identities, organizations);
  const keys = createKeysPage(dependencies);
  const signIn = createAccountSignIn(dependencies);

  /** A GET page's loader: the signed-in session, or a sign-in that comes back to this page. */
  const loadOrSignIn: RouterMiddleware<SessionState> = async function loadOrSignIn(ctx, next) {
    const session = await dependencies.provider().Session.get(ctx);
    if (!signedIn(session)) return signIn.start(ctx, ctx.path);
    ctx.state.session = session;
    ctx.state.actor = { type: 'user', id: session.accountId, ip: ctx.ip };
    await next();
  };
  const change = [errors, loadSession, forms, accountCsrf] as const;

  const accounts = new Router<SessionState>();
  accounts.get<object, object>('/account', errors, loadOrSignIn, account.show);
  accounts.get<object, object>('/account/callback', errors, signIn.callback);
  accounts.post<object, object>('/account/name', ...change, account.updateName);
  accounts.post<object, object>('/account/email', ...change, account.requestEmailChange);
  accounts.get<object, object>('/account/email/confirm', errors, account.showEmailConfirm);
  accounts.post<object, object>('/account/email/confirm', errors, forms, account.confirmEmail);
  accounts.get<object, object>('/account/email/confirmed', errors, account.showEmailConfirmed);
  accounts.post<object, object>('/account/password', ...change, account.changePassword);
  accounts.get<object, object>('/account/sessions/end-others', errors, loadOrSignIn, account.confirmEndSessions);
  accounts.post<object, object>('/account/sessions/end-others', ...change, account.endSessions);
  accounts.get<object, object>('/account/apps/:clientId/revoke', errors, loadOrSignIn, account.confirmRevokeApp);
  accounts.post<object, object>('/account/apps/:clientId/revoke', ...change, account.revokeApp);
  accounts.get<object, object>('/account/export', errors, loadOrSignIn, account.exportData);
  accounts.post<object, object>('/account/export', ...change, account.confirmExport);
  accounts.get<object, object>('/account/delete', errors, loadOrSignIn, account.confirmDelete);
  accounts.post<object, object>('/account/delete', ...change, account.deleteAccount);
  accounts.get<object, object>('/account/deleted', errors, account.deleted);
  accounts.get<object, object>('/account/security/totp', errors, loadOrSignIn, security.showTotp);
  accounts.post<object, object>('/account/security/totp', ...change, security.confirmTotp);
  accounts.get<object, object>('/account/security/totp/remove', errors, loadOrSignIn, security.confirmRemoveTotp);
  accounts.post<object, object>('/account/security/totp/remove', ...change, security.removeTotp);
  accounts.get<object, object>('/account/security/recovery-codes', errors, loadOrSignIn, security.showCodes);
  accounts.get<object, object>('/account/security/recovery-codes/new', errors, loadOrSignIn, security.confirmNewCodes);
  accounts.post<object, object>('/account/security/recovery-codes/new', ...change, security.newCodes);
  accounts.get<object, object>('/account/security/passkeys/new', errors, loadOrSignIn, security.showAddPasskey);
  accounts.post<object, object>('/account/security/passkeys', ...change, security.addPasskey);
  accounts.get<object, object>('/account/security/passkeys/:id/remove', errors, loadOrSignIn, security.confirmRemovePasskey);
  accounts.post<object, object>('/account/security/passkeys/:id/remove', ...change, security.removePasskey);
  accounts.get<object, object>('/account/identities/:id/unlink', errors, loadOrSignIn, identities.confirmUnlink);
  accounts.post<object, object>('/account/identities/:id/unlink', ...change, identities.unlink);
  accounts.post<object, object>('/account/organizations', ...change, organizations.create);
  accounts.get<object, object>('/account/organizations/:id/leave', errors, loadOrSignIn, organizations.confirmLeave);
  accounts.post<object, object>('/account/organizations/:id/leave', ...change, organizations.leave);
  // The mailed link shows the invitation; signed out, "Sign in" comes back to INVITATION_PAGE, whose POST accepts.
  accounts.get<object, object>('/organization-invitation', errors, organizations.show);
  accounts.get<object, object>(INVITATION_PAGE, errors, loadOrSignIn, organizations.showKept);
  accounts.post<object, object>(INVITATION_PAGE, ...change, organizations.accept);
  accounts.get<object, object>('/account/keys', errors, loadOrSignIn, keys.show);
  accounts.post<object, object>('/account/keys', ...change, keys.create);
  accounts.get<object, object>('/account/keys/:id/rotate', errors, loadOrSignIn, keys.confirmRotate);
  accounts.post<object, object>('/account/keys/:id/rotate', ...change, keys.rotate);
  accounts.get<object, object>('/account/keys/:id/revoke', errors, loadOrSignIn, keys.confirmRevoke);
  accounts.post<object, object>('/account/keys/:id/revoke', ...change, keys.revoke);
  return accounts as unknown as Router;
}
