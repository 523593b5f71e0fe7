// Types for the few internal modules of oidc-provider 9 that Portcullis reuses (src/oidc/dpop.ts).
// oidc-provider has no exports map, so these paths resolve, but it ships no types for them and
// they are not part of its public API: the signatures below are those of 9.13
// (lib/helpers/validate_dpop.js and lib/helpers/sender_constraints.js), and test/oidc/dpop.test.ts
// fails if an upgrade moves or changes them.

declare module 'oidc-provider/lib/helpers/validate_dpop.js' {
  import type { KoaContextWithOIDC, Provider } from 'oidc-provider';

  /** A verified DPoP proof: the JWK SHA-256 thumbprint of its key (RFC 7638), its jti and iat. */
  export interface ValidatedDpopProof {
    thumbprint: string;
    jti: string;
    iat: number;
  }

  /**
   * Verifies the request's `DPoP` header (RFC 9449 section 4.3), with nonces when configured;
   * undefined when there is no header or features.dPoP is disabled. Throws InvalidDpopProof or
   * UseDpopNonce. The result is remembered per request.
   */
  export default function validateDpop(
    provider: Provider,
    ctx: KoaContextWithOIDC,
    accessToken?: string,
  ): Promise<ValidatedDpopProof | undefined>;

  /** The request's proof as verified by validateDpop (undefined before it ran, or without a proof). */
  export function getDpopJwt(provider: Provider, ctx: KoaContextWithOIDC): { payload: { jti?: unknown } } | undefined;

  /** Records the proof's jti for `clientId`; throws `ErrorClass` (default InvalidGrant) if it was seen before. */
  export function checkDpopReplay(
    provider: Provider,
    ctx: KoaContextWithOIDC,
    dPoP: ValidatedDpopProof | undefined,
    clientId: string,
    ErrorClass?: new (description: string) => Error,
  ): Promise<void>;
}

declare module 'oidc-provider/lib/helpers/sender_constraints.js' {
  import type { KoaContextWithOIDC, Provider } from 'oidc-provider';
  import type { ValidatedDpopProof } from 'oidc-provider/lib/helpers/validate_dpop.js';

  /** Throws `ErrorClass` (default InvalidGrant) when the client has dpop_bound_access_tokens and no proof came. */
  export function checkDpopRequired(
    provider: Provider,
    ctx: KoaContextWithOIDC,
    dPoP: ValidatedDpopProof | undefined,
    ErrorClass?: new (description: string) => Error,
  ): void;
}
