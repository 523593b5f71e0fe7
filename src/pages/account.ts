// The account page: a person's own place. Their profile (name), their email address (changed
// through a link to the new one), their password (changed with the current one), their browser
// sessions (sign out the others), the apps they let in (in plain words; take an app's access
// away again), their API keys (the developer page, keys.ts), their data (export it; delete the
// account). Every change is a POST answered 303 to a GET page, with what it did in the flash;
// each destructive one is confirmed on a page of its own first; every change is an audit event
// (the services record them). A new email address and the data export need sudo mode (a recent
// sign-in or the password again, accountSteps.ts): with an address of their own, whoever finds
// a session left open could reset the password and keep the account; the export is all of it.
// Its "Sign-in security" section (second factors and passkeys) is security.ts's, its "Linked
// sign-ins" (accounts at other identity providers) identities.ts's, its "Organizations" (theirs,
// leaving one, making one) organizations.ts's. A person whose account was
// made through a connection has no password: they set one without a current one, in sudo mode's
// recent sign-in (or through the forgotten-password page).
import type { RouterContext, RouterMiddleware } from '@koa/router';
import { ACCOUNT_CLIENT_ID, type EmailChangeResult } from '../accounts/index.ts';
import type { IdentitySummary } from '../federation/index.ts';
import { scopeWords } from '../oauth/index.ts';
import { createAccountSteps, pageLanguage, type AccountContext } from './accountSteps.ts';
import { clientName } from './apps.ts';
import { csrfToken, csrfValid } from './csrf.ts';
import type { Flash } from './flash.ts';
import { formField, formText } from './form.ts';
import { flashStatus, type RefusalFlash } from './identities.ts';
import { errorPage, html } from './respond.ts';
import { describeScopes, resourceRequest } from './scopes.ts';
import type { OrganizationsSection } from './organizations.ts';
import type { SecuritySection } from './security.ts';
import type { PageDependencies, SessionState } from './state.ts';

/** Email changes asked for by one person: each sends two mails. */
const EMAIL_CHANGE_LIMIT = '5/1h';

/** What a person sees when a link is not (or no longer) good. */
const LINK_RESULTS = new Set(['changed', 'unknown', 'used', 'expired', 'taken']);

/**
 * `security`: the section of second factors (security.ts), undefined when MFA is off;
 * `identities`: the linked sign-ins (identities.ts); `organizations`: the person's organizations (organizations.ts).
 */
export function createAccountPage(
  dependencies: PageDependencies,
  security: { section(userId: string, mfaRequired: boolean): Promise<SecuritySection | undefined> },
  identities: { section(userId: string): Promise<IdentitySummary[]> },
  organizations: { section(userId: string): Promise<OrganizationsSection> },
) {
  const { provider, views, users, grants, csrfKey, ownAccount, rateLimiter, mailDeliverable } = dependencies;
  const steps = createAccountSteps(dependencies);
  const csrfOf = (ctx: AccountContext) => csrfToken(csrfKey, 'account', ctx.state.session.uid);

  /** The apps with access: one line per app, however many grants (one per browser session) it holds. */
  async function appsOf(ctx: AccountContext) {
    const t = views.catalogue.translator(pageLanguage(ctx));
    const byClient = new Map<string, { openid: Set<string>; resources: Map<string, Set<string>> }>();
    for (const grant of await grants.listForAccount(ctx.state.session.accountId)) {
      // The account page's own sign-in is not an app the person let in.
      if (grant.client_id === ACCOUNT_CLIENT_ID) continue;
      const entry = byClient.get(grant.client_id) ?? { openid: new Set<string>(), resources: new Map<string, Set<string>>() };
      for (const scope of scopeWords(grant.scope)) entry.openid.add(scope);
      for (const [audience, scope] of Object.entries(grant.resources)) {
        const scopes = entry.resources.get(audience) ?? new Set<string>();
        for (const word of scopeWords(scope)) scopes.add(word);
        entry.resources.set(audience, scopes);
      }
      byClient.set(grant.client_id, entry);
    }
    return Promise.all(
      [...byClient].map(async ([clientId, entry]) => {
        // An organization's access is named by the organization (scopes.ts), an API by its name.
        const resources = await Promise.all(
          [...entry.resources].map(([audience, scopes]) => resourceRequest(dependencies, audience, [...scopes])),
        );
        return {
          clientId,
          clientName: await clientName(provider(), clientId),
          access: describeScopes([...entry.openid], resources, t),
        };
      }),
    );
  }

  const show: RouterMiddleware<SessionState> = async function showAccount(ctx) {
    const { session } = ctx.state;
    const user = await users.findById(session.accountId);
    if (!user)
      return errorPage(ctx, views, 404, { message: views.catalogue.translator(pageLanguage(ctx))('account.gone'), code: 'not_found' });
    const flash: RefusalFlash = await steps.takeFlash(ctx);
    const sessions = await ownAccount.sessions.list(session.accountId, session.jti);
    html(
      ctx,
      // A refusal that arrived through the flash (an unlink of the last way in: 409) keeps its status.
      flashStatus(flash),
      views.render('account', {
        lang: pageLanguage(ctx),
        user: { email: user.email, name: user.name ?? '', emailVerified: user.emailVerified },
        apps: await appsOf(ctx),
        sessions,
        otherSessions: sessions.filter((item) => !item.current).length,
        security: await security.section(user.id, user.mfaRequired),
        identities: await identities.section(user.id),
        organizations: await organizations.section(user.id),
        hasPassword: Boolean(user.passwordHash),
        mailDeliverable,
        needsPassword: !steps.recentSignIn(ctx),
        csrf: csrfOf(ctx),
        flash,
      }),
    );
  };

  const updateName: RouterMiddleware<SessionState> = async function updateName(ctx) {
    const problem = await ownAccount.profile.setName(ctx.state.session.accountId, formText(ctx, 'name'), ctx.state.actor);
    if (problem) {
      return steps.redirect(ctx, '/account', {
        error: { key: `account.name.problems.${problem}`, field: 'name' },
        values: { name: formText(ctx, 'name').slice(0, 300) },
      });
    }
    steps.redirect(ctx, '/account', { notice: { key: 'account.name.saved' } });
  };

  const requestEmailChange: RouterMiddleware<SessionState> = async function requestEmailChange(ctx) {
    const typed = formText(ctx, 'email').slice(0, 400);
    if (!mailDeliverable) return steps.redirect(ctx, '/account', { error: { key: 'account.email.no_mail', field: 'new-email' } });
    const confirmed = await steps.confirmRecentSignIn(ctx, {
      field: 'email-password',
      back: '/account',
      purpose: 'change_email',
      values: { email: typed },
    });
    if (!confirmed) return;
    const limited = await rateLimiter.consume(`account-email-change:${ctx.state.session.accountId}`, EMAIL_CHANGE_LIMIT);
    if (!limited.allowed) {
      return steps.redirect(ctx, '/account', {
        error: { key: 'account.email.limited', values: { minutes: Math.ceil(limited.retryAfterSeconds / 60) }, field: 'new-email' },
        values: { email: typed },
      });
    }
    const requested = await ownAccount.emailChange.request(ctx.state.session.accountId, typed, ctx.state.actor, pageLanguage(ctx));
    if (!requested.ok) {
      return steps.redirect(ctx, '/account', {
        error: { key: `account.email.problems.${requested.problem}`, field: 'new-email' },
        values: { email: typed },
      });
    }
    // The same words whether or not the address is someone else's (emailChange.ts).
    steps.redirect(ctx, '/account', { notice: { key: 'account.email.sent', values: { email: requested.email } } });
  };

  const changePassword: RouterMiddleware<SessionState> = async function changePassword(ctx) {
    const user = await users.findById(ctx.state.session.accountId);
    if (!user)
      return errorPage(ctx, views, 404, { message: views.catalogue.translator(pageLanguage(ctx))('account.gone'), code: 'not_found' });
    if (user.passwordHash) {
      const checked = await steps.checkPassword(ctx, 'current_password', 'change_password');
      if (!checked.ok) {
        return steps.redirect(ctx, '/account', {
          error: checked.retryAfterSeconds
            ? { key: 'account.too_many', values: { minutes: Math.ceil(checked.retryAfterSeconds / 60) }, field: 'current-password' }
            : { key: 'account.password.wrong', field: 'current-password' },
        });
      }
    } else if (!steps.recentSignIn(ctx)) {
      // No current password to ask for (an account made through a connection): sudo mode's recent
      // sign-in stands in for it, so whoever finds a session left open cannot give it a password.
      return steps.redirect(ctx, '/account', { error: { key: 'account.password.set_sign_in_again', field: 'new-password' } });
    }
    const problem = await ownAccount.profile.changePassword(
      ctx.state.session.accountId,
      formText(ctx, 'new_password'),
      ctx.state.session.jti,
      ctx.state.actor,
      pageLanguage(ctx),
    );
    if (problem) return steps.redirect(ctx, '/account', { error: { key: `account.password.problems.${problem}`, field: 'new-password' } });
    steps.redirect(ctx, '/account', { notice: { key: user.passwordHash ? 'account.password.changed' : 'account.password.set' } });
  };

  /** A page that asks before a destructive action: what it does, a button, and a way back. */
  async function confirmPage(
    ctx: AccountContext,
    page: {
      title: string;
      text: string;
      action: string;
      button: string;
      values?: Record<string, string>;
      password?: boolean;
      danger?: boolean;
      back?: string;
    },
    taken?: Flash,
  ) {
    const flash = taken ?? (await steps.takeFlash(ctx));
    html(
      ctx,
      200,
      views.render('confirm', {
        lang: pageLanguage(ctx),
        ...page,
        values: page.values ?? {},
        back: page.back ?? '/account',
        csrf: csrfOf(ctx),
        flash,
      }),
    );
  }

  const confirmEndSessions: RouterMiddleware<SessionState> = async function confirmEndSessions(ctx) {
    await confirmPage(ctx, {
      title: 'account.sessions.confirm_title',
      text: 'account.sessions.confirm_text',
      action: '/account/sessions/end-others',
      button: 'account.sessions.confirm_button',
    });
  };

  const endSessions: RouterMiddleware<SessionState> = async function endOtherSessions(ctx) {
    const ended = await ownAccount.sessions.endOthers(ctx.state.session.accountId, ctx.state.session.jti, ctx.state.actor);
    steps.redirect(ctx, '/account', { notice: { key: 'account.sessions.ended', values: { count: ended } } });
  };

  const confirmRevokeApp: RouterMiddleware<SessionState> = async function confirmRevokeApp(ctx) {
    const clientId = ctx.params.clientId!;
    const mine = (await grants.listForAccount(ctx.state.session.accountId)).some(
      (grant) => grant.client_id === clientId && clientId !== ACCOUNT_CLIENT_ID,
    );
    const t = views.catalogue.translator(pageLanguage(ctx));
    if (!mine) return errorPage(ctx, views, 404, { message: t('account.apps.none_to_revoke'), code: 'not_found' });
    await confirmPage(ctx, {
      title: 'account.apps.confirm_title',
      text: 'account.apps.confirm_text',
      values: { client: await clientName(provider(), clientId) },
      action: `/account/apps/${encodeURIComponent(clientId)}/revoke`,
      button: 'account.apps.confirm_button',
    });
  };

  const revokeApp: RouterMiddleware<SessionState> = async function revokeApp(ctx) {
    // Only the signed-in person's own grants are touched; for any other client nothing is found.
    const clientId = ctx.params.clientId!;
    const name = await clientName(provider(), clientId);
    const revoked = clientId === ACCOUNT_CLIENT_ID ? 0 : await grants.revokeClient(ctx.state.session.accountId, clientId, ctx.state.actor);
    if (revoked === 0) return steps.redirect(ctx, '/account', { error: { key: 'account.apps.none_to_revoke' } });
    steps.redirect(ctx, '/account', { notice: { key: 'account.apps.revoked', values: { client: name } } });
  };

  /**
   * The download of the person's data. With a recent sign-in it is the file at once; otherwise
   * a page asks for the password, whose POST (confirmExport) comes back here with the download
   * allowed once, in the flash.
   */
  const exportData: RouterMiddleware<SessionState> = async function exportData(ctx) {
    const flash = await steps.takeFlash(ctx);
    if (!steps.recentSignIn(ctx) && flash.allowed !== 'export') {
      return confirmPage(
        ctx,
        {
          title: 'account.data.export_confirm.title',
          text: 'account.data.export_confirm.text',
          action: '/account/export',
          button: 'account.data.export_confirm.button',
          password: true,
          danger: false,
        },
        flash,
      );
    }
    const document = await ownAccount.dataExport.exportFor(ctx.state.session.accountId, ctx.state.session.jti, ctx.state.actor);
    if (!document)
      return errorPage(ctx, views, 404, { message: views.catalogue.translator(pageLanguage(ctx))('account.gone'), code: 'not_found' });
    ctx.status = 200;
    ctx.type = 'application/json; charset=utf-8';
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Content-Disposition', `attachment; filename="account-${new Date().toISOString().slice(0, 10)}.json"`);
    ctx.body = JSON.stringify(document, null, 2);
  };

  const confirmExport: RouterMiddleware<SessionState> = async function confirmExport(ctx) {
    if (!(await steps.confirmRecentSignIn(ctx, { field: 'password', back: '/account/export', purpose: 'export_data' }))) return;
    steps.redirect(ctx, '/account/export', { allowed: 'export' });
  };

  const confirmDelete: RouterMiddleware<SessionState> = async function confirmDelete(ctx) {
    const user = await users.findById(ctx.state.session.accountId);
    await confirmPage(ctx, {
      title: 'account.delete.confirm_title',
      text: 'account.delete.confirm_text',
      action: '/account/delete',
      button: 'account.delete.confirm_button',
      // A person without a password (signed up through a connection) confirms with a recent sign-in instead.
      password: Boolean(user?.passwordHash),
    });
  };

  const deleteAccount: RouterMiddleware<SessionState> = async function deleteAccount(ctx) {
    const user = await users.findById(ctx.state.session.accountId);
    if (!user?.passwordHash) {
      // No password to ask for: sudo mode's recent sign-in stands in for it, as when setting one.
      if (!steps.recentSignIn(ctx))
        return steps.redirect(ctx, '/account/delete', { error: { key: 'account.delete.sign_in_again', field: 'confirm' } });
    } else {
      const checked = await steps.checkPassword(ctx, 'password', 'delete_account');
      if (!checked.ok) {
        return steps.redirect(ctx, '/account/delete', {
          error: checked.retryAfterSeconds
            ? { key: 'account.too_many', values: { minutes: Math.ceil(checked.retryAfterSeconds / 60) }, field: 'password' }
            : { key: 'account.password.wrong', field: 'password' },
        });
      }
    }
    await ownAccount.deletion.deleteAccount(ctx.state.session.accountId, ctx.state.actor);
    // The session is gone with the account; the cookie that named it names nothing now.
    ctx.status = 303;
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect('/account/deleted');
  };

  /** The page after a deletion: it needs no session (there is none any more). */
  const deleted: RouterMiddleware = async function showDeleted(ctx) {
    html(
      ctx,
      200,
      views.render('account-result', { lang: pageLanguage(ctx), title: 'account.delete.done_title', text: 'account.delete.done_text' }),
    );
  };

  // The link in the mail to the new address. Following it shows a button (a GET changes nothing:
  // mail scanners open links); the POST changes the address. No session is needed: the link is
  // the proof, and the person may open it on another device.
  const emailCsrf = (token: string) => csrfToken(csrfKey, 'change_email', token);

  const showEmailConfirm: RouterMiddleware = async function showEmailConfirm(ctx) {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
    const checked: EmailChangeResult = await ownAccount.emailChange.check(token);
    if (!checked.ok) return emailResult(ctx, checked.reason, 400);
    html(ctx, 200, views.render('account-email-confirm', { lang: pageLanguage(ctx), email: checked.email, token, csrf: emailCsrf(token) }));
  };

  const confirmEmail: RouterMiddleware = async function confirmEmail(ctx) {
    const token = formText(ctx, 'token');
    if (!csrfValid(csrfKey, 'change_email', token, formField(ctx, 'csrf'))) {
      const t = views.catalogue.translator(pageLanguage(ctx));
      return errorPage(ctx, views, 403, { message: t('account.email.form_expired'), code: 'invalid_csrf_token' });
    }
    const result = await ownAccount.emailChange.confirm(token, ctx.ip);
    ctx.status = 303;
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(`/account/email/confirmed?result=${result.ok ? 'changed' : result.reason}`);
  };

  function emailResult(ctx: RouterContext, result: string, status = 200) {
    const known = LINK_RESULTS.has(result) ? result : 'unknown';
    html(
      ctx,
      status,
      views.render('account-result', {
        lang: pageLanguage(ctx),
        title: `account.email.result.${known}_title`,
        text: `account.email.result.${known}_text`,
      }),
    );
  }

  const showEmailConfirmed: RouterMiddleware = async function showEmailConfirmed(ctx) {
    emailResult(ctx, typeof ctx.query.result === 'string' ? ctx.query.result : 'unknown');
  };

  return {
    show,
    updateName,
    requestEmailChange,
    changePassword,
    confirmEndSessions,
    endSessions,
    confirmRevokeApp,
    revokeApp,
    exportData,
    confirmExport,
    confirmDelete,
    deleteAccount,
    deleted,
    showEmailConfirm,
    confirmEmail,
    showEmailConfirmed,
  };
}
