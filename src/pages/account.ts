// The account page: who is signed in here, which apps they let in, and taking an app's access
// away again (its grants, and every token issued from them).
import type { RouterContext, RouterMiddleware } from '@koa/router';
import { scopeWords } from '../oauth/index.ts';
import { clientName } from './apps.ts';
import { csrfToken } from './csrf.ts';
import { errorPage, html } from './respond.ts';
import type { PageDependencies, SessionState } from './state.ts';

export function createAccountPage({ provider, views, users, grants, csrfKey }: PageDependencies) {
  async function render(ctx: RouterContext<SessionState>, notice?: string): Promise<void> {
    const { session } = ctx.state;
    const user = await users.findById(session.accountId);
    // One line per app, however many grants (one per browser session) it holds.
    const byClient = new Map<string, Set<string>>();
    for (const grant of await grants.listForAccount(session.accountId)) {
      const scopes = byClient.get(grant.client_id) ?? new Set<string>();
      for (const scope of [...scopeWords(grant.scope), ...Object.values(grant.resources).flatMap(scopeWords)]) scopes.add(scope);
      byClient.set(grant.client_id, scopes);
    }
    const apps = await Promise.all(
      [...byClient].map(async ([clientId, scopes]) => ({
        clientId,
        clientName: await clientName(provider(), clientId),
        scopes: [...scopes].join(', '),
      })),
    );
    html(ctx, 200, views.render('account', { email: user?.email ?? '', apps, csrf: csrfToken(csrfKey, 'account', session.uid), notice }));
  }

  const show: RouterMiddleware<SessionState> = async function showAccount(ctx) {
    await render(ctx);
  };

  const revokeApp: RouterMiddleware<SessionState> = async function revokeApp(ctx) {
    // Only the signed-in person's own grants are touched; for any other client nothing is found.
    const revoked = await grants.revokeClient(ctx.state.session.accountId, ctx.params.clientId!, ctx.state.actor);
    if (revoked === 0) return errorPage(ctx, views, 404, { message: 'There is no such access to revoke.', code: 'not_found' });
    await render(ctx, 'Access revoked. The app can no longer use your account.');
  };

  return { show, revokeApp };
}
