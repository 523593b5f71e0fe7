// oidc-provider's artifacts (tokens, codes, sessions, interactions, grants) at rest, and the
// pages' flashes already shown.
export { artifactIdHash, createAdapterFactory, purgeExpiredArtifacts } from './adapter.ts';
export { createFlashReads, type FlashReads } from './flashReads.ts';
