// DPoP (RFC 9449) for the grant handlers Portcullis registers itself (client credentials, API-key
// token exchange). oidc-provider checks proofs only in its own grant handlers, so a handler that
// replaces one must do what they do (lib/actions/grants/client_credentials.js): verify the proof,
// refuse a replay, insist on a proof for a client registered with dpop_bound_access_tokens, and
// bind the token to the proof's key. The checks are oidc-provider's own, imported from its
// internal helpers (typed in oidc-provider-internals.d.ts): the same algorithms, clock window,
// nonces (when features.dPoP.nonceSecret is configured) and replay store as its other grants.
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import validateDpop, { checkDpopReplay, type ValidatedDpopProof } from 'oidc-provider/lib/helpers/validate_dpop.js';
import { checkDpopRequired } from 'oidc-provider/lib/helpers/sender_constraints.js';

export type DpopProof = ValidatedDpopProof;

/**
 * The request's DPoP proof, verified, or undefined when none was sent. Run it before anything else
 * the grant does, so a request with a bad proof costs no lookup.
 *
 * - RFC 9449 section 4.3: one well-formed `dpop+jwt`, asymmetric `alg` (oidc-provider's
 *   dPoPSigningAlgValues), signature by the embedded public `jwk`, `htm` and `htu` of this
 *   request, a recent `iat` (or the server's nonce, section 8); any failure is 400
 *   `invalid_dpop_proof` (section 5), a missing or stale nonce `use_dpop_nonce` (section 8).
 * - Section 11.1: the proof is single use; its `jti` is recorded per client in oidc-provider's
 *   ReplayDetection store, and a second use is `invalid_dpop_proof` too (oidc-provider's own
 *   grants answer `invalid_grant` here; section 5 names `invalid_dpop_proof` for any invalid proof).
 * - Section 5.2: a client registered with `dpop_bound_access_tokens: true` must send a proof;
 *   without one, `invalid_grant` as oidc-provider's own grants answer (checkDpopRequired).
 */
export async function verifyDpopProof(ctx: KoaContextWithOIDC): Promise<DpopProof | undefined> {
  const { provider, client } = ctx.oidc;
  const proof = await validateDpop(provider, ctx);
  checkDpopRequired(provider, ctx, proof);
  if (proof) await checkDpopReplay(provider, ctx, proof, client!.clientId, errors.InvalidDpopProof);
  return proof;
}

/**
 * Binds an access token to the proof's key (RFC 9449 section 6): the token records the key's JWK
 * thumbprint, which becomes `cnf.jkt` in a JWT (section 6.1) and in introspection (section 6.2),
 * and its `tokenType` becomes `DPoP` for the response's `token_type` (section 5). Without a proof
 * the token stays a Bearer token.
 */
export function bindToDpopKey(token: { setThumbprint(prop: 'jkt', thumbprint: string): void }, proof: DpopProof | undefined): void {
  if (proof) token.setThumbprint('jkt', proof.thumbprint);
}
