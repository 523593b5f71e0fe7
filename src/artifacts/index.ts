// oidc-provider's artifacts (tokens, codes, sessions, interactions, grants) at rest.
export { artifactIdHash, createAdapterFactory, purgeExpiredArtifacts } from './adapter.ts';
