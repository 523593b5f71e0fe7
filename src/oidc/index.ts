// oidc-provider's configuration: the engine, its grant handlers and fix-ups, and the live instance.
export { createLiveProvider, type LiveProvider } from './liveProvider.ts';
export { createProvider, openIdClaims, routedPath } from './provider.ts';
export {
  ACR,
  acrOf,
  requestedAcr,
  secondFactorNeeded,
  STEP_UP_REASON,
  unmetRequirements,
  withSecondFactor,
  type AcrLevel,
} from './authentication.ts';
export { portcullisClient } from './clientMetadata.ts';
export { createAccessRules, type AccessRules } from './access.ts';
