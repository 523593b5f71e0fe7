// The pages for people who are not signed in: sign-up, email verification, forgotten
// passwords, invitations.
import Router from '@koa/router';
import type { SharedSteps } from './router.ts';
import type { PageDependencies } from './state.ts';

export function createSelfServiceRoutes(_dependencies: PageDependencies, _shared: SharedSteps): Router {
  return new Router();
}
