// DPoP (RFC 9449) for the grant handlers Portcullis registers itself (client credentials, API-key
// token exchange). oidc-provider checks proofs only in its own grant handlers, so a handler that
// replaces one must do what they do (lib/actions/grants/client_credentials.js): verify the proof,
// refuse a replay, insist on a proof for a client registered with dpop_bound_access_tokens, and
// bind the token to the proof's key. The checks are oidc-provider's own, imported from its
// internal helpers (typed in oidc-provider-internals.d.ts): the same algorithms, clock window,
// nonces (when features.dPoP.nonceSecret is configured) and replay store as its other grants.
import Provider, { errors, type KoaContextWithOIDC } from 'oidc-provider';
import validateDpop, { checkDpopReplay, getDpopJwt, type ValidatedDpopProof } from 'oidc-provider/lib/helpers/validate_dpop.js';
import { checkDpopRequired } from 'oidc-provider/lib/helpers/sender_constraints.js';

export type DpopProof = ValidatedDpopProof;

/**
 * The request's DPoP proof, verified, or undefined when none was sent. Run it before anything else
 * the grant does, so a request with a bad proof costs no lookup.
 *
 * - RFC 9449 section 4.3: one well-formed `dpop+jwt`, asymmetric `alg` (oidc-provider's
 *   dPoPSigningAlgValues), signature by the embedded public `jwk`, `htm` and `htu` of this
 *   request; any failure is 400 `invalid_dpop_proof` (section 5).
 * - Section 8: with DPOP_REQUIRE_NONCE=true a proof without the server's nonce is 400
 *   `use_dpop_nonce` with a DPoP-Nonce header to retry with; without it, a proof with a nonce is
 *   accepted as fresh whatever its `iat`, and one without needs a recent `iat`: an older or
 *   future one is `use_dpop_nonce` too (nonces are always configured, so the server asks for
 *   one rather than refusing outright). The nonces are oidc-provider's, the same on every grant
 *   and every instance (provider.ts derives their secret from HASH_PEPPER).
 * - Section 11.1: the proof is single use; its `jti` is recorded per client in oidc-provider's
 *   ReplayDetection store, and a second use is `invalid_dpop_proof`, the error section 5 names
 *   for any invalid proof (on oidc-provider's own grants too: rejectReplayedProof below).
 * - Section 5.2: a client registered with `dpop_bound_access_tokens: true` (`client create
 *   --require-dpop`) must send a proof; without one, `invalid_grant` (checkDpopRequired), which is
 *   what oidc-provider's own grants answer, so every grant answers the same.
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

/**
 * Called when oidc-provider's ReplayDetection finds a jti already recorded (provider.ts): if the
 * jti is the DPoP proof's of a token request, throws `invalid_dpop_proof`. oidc-provider's own
 * grants (code, refresh, device code) would answer `invalid_grant` for a replayed proof
 * (lib/helpers/grant_common.js); RFC 9449 section 5 names `invalid_dpop_proof` for any invalid
 * proof, and Portcullis's own grants answer that (verifyDpopProof): one answer on every grant.
 * Other replays (a client assertion's jti; a proof at userinfo or PAR) keep oidc-provider's answer.
 */
export function rejectReplayedProof(provider: Provider, jti: string): void {
  const ctx = Provider.ctx;
  if (ctx?.oidc?.route !== 'token' || ctx.oidc.provider !== provider) return;
  if (getDpopJwt(provider, ctx)?.payload.jti === jti) throw new errors.InvalidDpopProof('DPoP proof JWT Replay detected');
}
