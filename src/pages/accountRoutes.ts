// The signed-in person's own pages below /account: the account page and the developer page.
import Router from '@koa/router';
import { createAccountPage } from './account.ts';
import { createKeysPage } from './keys.ts';
import type { SharedSteps } from './router.ts';
import type { PageDependencies, SessionState } from './state.ts';

export function createAccountRoutes(dependencies: PageDependencies, { errors, forms, loadSession, accountCsrf }: SharedSteps): Router {
  const account = createAccountPage(dependencies);
  const keys = createKeysPage(dependencies);
  const accounts = new Router<SessionState>();
  accounts.get<object, object>('/account', errors, loadSession, account.show);
  accounts.post<object, object>('/account/apps/:clientId/revoke', errors, loadSession, forms, accountCsrf, account.revokeApp);
  accounts.get<object, object>('/account/keys', errors, loadSession, keys.show);
  accounts.post<object, object>('/account/keys', errors, loadSession, forms, accountCsrf, keys.create);
  accounts.post<object, object>('/account/keys/:id/rotate', errors, loadSession, forms, accountCsrf, keys.rotate);
  accounts.post<object, object>('/account/keys/:id/revoke', errors, loadSession, forms, accountCsrf, keys.revoke);
  return accounts as unknown as Router;
}
