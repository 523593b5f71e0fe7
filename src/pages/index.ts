// The pages a person sees: login and consent (the sign-in steps oidc-provider hands over), the
// account page and the developer page. One router for all of them (router.ts).
export { createInteractionRoutes } from './router.ts';
export type { PageDependencies } from './state.ts';
