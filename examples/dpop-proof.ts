// The resource server's side of DPoP (RFC 9449 section 7), shared by both examples: a token
// bound to a key (`cnf.jkt`, from the JWT or from introspection) is accepted only with
// `Authorization: DPoP <token>` and a `DPoP` header holding a fresh proof, signed by that key,
// for this very request and this very token. A bound token sent as a Bearer token is refused:
// taking it would throw its binding away, which is the point of binding it (section 7.2).
//
// The proof must (section 4.3 and 7.1):
// - be one JWT with `typ: dpop+jwt`, an asymmetric `alg`, and the public key (`jwk`, no private
//   part) that signs it in its header;
// - name this request: `htm` its method, `htu` its URL without query and fragment;
// - carry `ath`, the base64url SHA-256 of the access token (so a proof is good for one token);
// - be recent (`iat` within PROOF_WINDOW_SECONDS of now, either way);
// - be used once: its `jti` is remembered for as long as its `iat` keeps it acceptable (in this
//   process's memory: an API run as several instances would keep them in a shared store);
// - be signed by the key the token is bound to: the key's JWK thumbprint (RFC 7638) is `cnf.jkt`.
// This server issues no DPoP nonces of its own (section 9 lets it); the freshness check is iat.
// Also here, for both examples: the Authorization header's two schemes, and the challenges.
import crypto from 'node:crypto';
import type http from 'node:http';
import { calculateJwkThumbprint, EmbeddedJWK, errors, jwtVerify } from 'jose';

/** How far a proof's iat may be from this server's clock, either way. */
export const PROOF_WINDOW_SECONDS = 60;
/** The algorithms a proof may be signed with (asymmetric only: section 4.3, check 5). */
export const PROOF_ALGORITHMS = ['ES256', 'EdDSA', 'Ed25519', 'PS256', 'RS256'];

/** The jti of every proof accepted within the window, with when it may be forgotten. */
export class ProofReplayCache {
  readonly #seen = new Map<string, number>();

  /** True the first time a jti is offered within its window, false after. */
  claim(jti: string, now = Date.now()): boolean {
    for (const [seen, forgetAt] of this.#seen) if (forgetAt <= now) this.#seen.delete(seen);
    if (this.#seen.has(jti)) return false;
    // Proofs are accepted up to the window past their iat, so remembering twice the window is
    // enough whatever the iat was.
    this.#seen.set(jti, now + 2 * PROOF_WINDOW_SECONDS * 1000);
    return true;
  }
}

/** The URL a proof's htu must equal: this request's, as the caller addressed it, without query. */
export function requestUrl(request: http.IncomingMessage, publicUrl?: string): string {
  const url = new URL(request.url ?? '/', publicUrl ?? `http://${request.headers.host ?? 'localhost'}`);
  url.search = '';
  url.hash = '';
  return url.href;
}

/**
 * Checks the request's DPoP proof for `token`, bound to `jkt`. Returns undefined when it holds,
 * or why it does not (the error_description of a 401 `invalid_dpop_proof`).
 */
export async function dpopProofRefusal(
  request: http.IncomingMessage,
  token: string,
  jkt: string,
  { publicUrl, replay }: { publicUrl?: string; replay: ProofReplayCache },
): Promise<string | undefined> {
  // Exactly one DPoP field (section 4.3, check 1). Node joins repeated unknown fields with ", ".
  const proof = request.headers.dpop;
  if (typeof proof !== 'string' || proof === '') return 'a DPoP proof is required with this token';
  if (proof.includes(',')) return 'exactly one DPoP proof is allowed';
  let payload;
  let protectedHeader;
  try {
    ({ payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: PROOF_ALGORITHMS,
      requiredClaims: ['iat', 'jti', 'htm', 'htu', 'ath'],
    }));
  } catch (error) {
    if (error instanceof errors.JOSEError) return 'the DPoP proof is not valid';
    throw error;
  }
  if (typeof payload.iat !== 'number' || Math.abs(Date.now() / 1000 - payload.iat) > PROOF_WINDOW_SECONDS) {
    return 'the DPoP proof is not recent';
  }
  if (payload.htm !== request.method) return 'the DPoP proof is for another method';
  const htu = typeof payload.htu === 'string' ? URL.parse(payload.htu) : null;
  if (htu) {
    htu.search = '';
    htu.hash = '';
  }
  if (htu?.href !== requestUrl(request, publicUrl)) return 'the DPoP proof is for another URL';
  if (payload.ath !== crypto.hash('sha256', token, 'base64url')) return 'the DPoP proof is for another access token';
  if ((await calculateJwkThumbprint(protectedHeader.jwk!)) !== jkt) return 'the DPoP proof is not signed by the key the token is bound to';
  // Last, so that a proof refused above does not use up its jti.
  if (!replay.claim(`${jkt}:${String(payload.jti)}`)) return 'the DPoP proof was already used';
  return undefined;
}

/** The Authorization header's scheme and token: `Bearer` or `DPoP` (section 7.1), or why it is malformed. */
export function parseAuthorization(header: string | undefined): { scheme: 'Bearer' | 'DPoP'; token: string } | 'missing' | 'malformed' {
  if (header === undefined || !/^(Bearer|DPoP)(\s|$)/i.test(header)) return 'missing';
  const match = /^(Bearer|DPoP) +([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
  if (!match) return 'malformed';
  return { scheme: match[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer', token: match[2]! };
}

type Scheme = 'Bearer' | 'DPoP';

/**
 * Answers with the WWW-Authenticate challenge of the scheme the token came with (RFC 6750
 * section 3, RFC 9449 section 7.1), or of both schemes, without an error, when no token came.
 */
export function deny(
  response: http.ServerResponse,
  status: 400 | 401 | 403,
  realm: string,
  {
    scheme,
    error,
    description,
    scope,
    acrValues,
  }: { scheme?: Scheme; error?: string; description?: string; scope?: string; acrValues?: string } = {},
): void {
  const challenge = (name: Scheme) =>
    [
      `${name} realm="${realm}"`,
      ...(error ? [`error="${error}"`] : []),
      ...(description ? [`error_description="${description}"`] : []),
      ...(scope ? [`scope="${scope}"`] : []),
      // RFC 9470 section 3: the authentication context class a new token must be issued with.
      ...(acrValues ? [`acr_values="${acrValues}"`] : []),
      ...(name === 'DPoP' ? [`algs="${PROOF_ALGORITHMS.join(' ')}"`] : []),
    ].join(', ');
  const challenges = scheme ? challenge(scheme) : `${challenge('Bearer')}, ${challenge('DPoP')}`;
  response.writeHead(status, { 'content-type': 'application/json', 'www-authenticate': challenges });
  response.end(JSON.stringify(error ? { error, error_description: description } : { message: 'an access token is required' }));
}
