// oidc-provider's configuration: the engine, its grant handlers and fix-ups, and the live instance.
export { createLiveProvider, type LiveProvider } from './liveProvider.ts';
export { createProvider, openIdClaims, routedPath } from './provider.ts';
