// An API that accepts Portcullis access tokens by verifying them offline (RFC 9068). It needs
// nothing from Portcullis but the issuer's URL, and takes a token only when all of these hold:
// - the signature verifies against the keys Portcullis publishes at its JWKS endpoint (found in
//   the issuer's metadata), with one of the algorithms Portcullis signs with;
// - the header's `typ` is `at+jwt` (RFC 9068 section 4): Portcullis signs ID tokens with the
//   same keys, and an ID token is not an access token, whatever its `aud`;
// - `iss` is the issuer, `aud` names this API's audience (a token for another API is refused),
//   `exp` has not passed, and the claims RFC 9068 section 2.2 requires are present;
// - a token bound to a DPoP key (`cnf.jkt`, RFC 9449) comes as `Authorization: DPoP <token>`
//   with a proof of possession of that key in the `DPoP` header (examples/dpop-proof.ts); sent
//   as a Bearer token, or without the proof, it is refused (RFC 9449 section 7.2). A token
//   without `cnf` comes as `Bearer`; one with a binding this API cannot check (mTLS) is refused;
// - `scope` holds the scope the route needs;
// - for a route that needs a second factor, `acr` is Portcullis's mfa class and `amr` says
//   `mfa` (the person proved two factors when they signed in: RFC 8176).
// Anything else is 401 `invalid_token` (`invalid_dpop_proof` for a bad proof); a missing scope is
// 403 `insufficient_scope`; a sign-in without the second factor a route needs is 401
// `insufficient_user_authentication` with `acr_values` naming the class to ask for (RFC 9470:
// the app sends the person back to Portcullis with that acr_values, which asks them only for
// the second factor, and comes back with a new token); no token at all is 401 with bare challenges for both schemes
// (RFC 6750 section 3, RFC 9449 section 7.1).
//
//   ISSUER=http://localhost:3000 AUDIENCE=https://orders.example.com npx tsx examples/resource-server-jwt.ts
//   curl -H "Authorization: Bearer $TOKEN" http://localhost:4000/orders
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { deny, dpopProofRefusal, parseAuthorization, ProofReplayCache } from './dpop-proof.ts';

export interface JwtApiOptions {
  issuer: string;
  /** This API's audience, as registered with `portcullis resource create --audience`. */
  audience: string;
  /** The scope each route needs, and whether it needs a second factor. */
  routes: Record<string, string | { scope: string; secondFactor: boolean }>;
  /** This API's URL as its callers address it, for the DPoP proof's htu (default: from the Host header, http). */
  publicUrl?: string;
}

/** Portcullis's authentication context class for a sign-in with a second factor (its discovery's acr_values_supported). */
export const MFA_ACR = 'urn:portcullis:acr:mfa';

export async function createJwtApi({ issuer, audience, routes, publicUrl }: JwtApiOptions): Promise<http.Server> {
  // The JWKS URI comes from the issuer's metadata (RFC 8414), not from a guess.
  const metadata = (await (await fetch(new URL('/.well-known/oauth-authorization-server', issuer))).json()) as {
    jwks_uri: string;
    issuer: string;
  };
  if (metadata.issuer !== issuer) throw new Error(`metadata names issuer ${metadata.issuer}, expected ${issuer}`);
  // createRemoteJWKSet caches the keys and refetches when it meets an unknown kid, which is
  // what a key rotation looks like from here.
  const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));
  const replay = new ProofReplayCache();

  async function verify(token: string): Promise<JWTPayload | string> {
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer,
        audience,
        typ: 'at+jwt', // refuses ID tokens, logout tokens and any other JWT signed by the same keys
        algorithms: ['ES256', 'RS256'],
        requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
      });
      return payload;
    } catch (error) {
      if (error instanceof errors.JWKSTimeout) throw error;
      if (error instanceof errors.JWTExpired) return 'the access token has expired';
      if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'typ') return 'this is not an access token';
      if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'aud') return 'the access token is not meant for this API';
      if (error instanceof errors.JOSEError) return 'the access token is not valid here';
      throw error; // not the token's fault (the JWKS endpoint is unreachable, say)
    }
  }

  return http.createServer(async (request, response) => {
    const path = new URL(request.url ?? '/', 'http://api').pathname;
    const route = routes[path];
    const needed = typeof route === 'string' ? route : route?.scope;
    const secondFactor = typeof route === 'object' && route.secondFactor;
    if (needed === undefined) {
      response.writeHead(404).end();
      return;
    }
    const authorization = parseAuthorization(request.headers.authorization);
    if (authorization === 'missing') return deny(response, 401, audience);
    if (authorization === 'malformed') {
      return deny(response, 400, audience, { error: 'invalid_request', description: 'the Authorization header is malformed' });
    }
    const { scheme, token } = authorization;

    let claims: JWTPayload | string;
    try {
      claims = await verify(token);
    } catch {
      response.writeHead(503, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: 'the signing keys could not be fetched' }));
      return;
    }
    if (typeof claims === 'string') return deny(response, 401, audience, { scheme, error: 'invalid_token', description: claims });

    // RFC 9449 section 7: the token's binding decides the scheme, and a bound token needs its proof.
    const cnf = claims.cnf as { jkt?: unknown } | undefined;
    if (typeof cnf?.jkt === 'string') {
      if (scheme !== 'DPoP') {
        const description = 'this token is bound to a DPoP key: send it with Authorization: DPoP and a DPoP proof';
        return deny(response, 401, audience, { scheme: 'DPoP', error: 'invalid_token', description });
      }
      const refused = await dpopProofRefusal(request, token, cnf.jkt, { publicUrl, replay });
      if (refused) return deny(response, 401, audience, { scheme, error: 'invalid_dpop_proof', description: refused });
    } else if (cnf !== undefined) {
      return deny(response, 401, audience, {
        scheme,
        error: 'invalid_token',
        description: 'this token is bound in a way this API cannot check',
      });
    } else if (scheme === 'DPoP') {
      return deny(response, 401, audience, {
        scheme,
        error: 'invalid_token',
        description: 'this token is not DPoP-bound: send it as a Bearer token',
      });
    }
    const scopes = new Set(String(claims.scope ?? '').split(' '));
    if (!scopes.has(needed)) {
      return deny(response, 403, audience, {
        scheme,
        error: 'insufficient_scope',
        description: `this needs the ${needed} scope`,
        scope: needed,
      });
    }

    // RFC 9470: the token is good, but the person did not prove a second factor when signing in.
    const amr = Array.isArray(claims.amr) ? claims.amr : [];
    if (secondFactor && (claims.acr !== MFA_ACR || !amr.includes('mfa'))) {
      return deny(response, 401, audience, {
        scheme,
        error: 'insufficient_user_authentication',
        description: 'this needs a sign-in with a second factor',
        acrValues: MFA_ACR,
      });
    }

    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ path, caller: claims.sub, client_id: claims.client_id, scope: claims.scope, acr: claims.acr }));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const issuer = process.env.ISSUER ?? 'http://localhost:3000';
  const audience = process.env.AUDIENCE ?? 'https://orders.example.com';
  const port = Number(process.env.PORT ?? 4000);
  const server = await createJwtApi({
    issuer,
    audience,
    routes: {
      '/orders': 'orders:read',
      '/orders/new': 'orders:write',
      // Refunds move money: they need a sign-in with a second factor.
      '/orders/refund': { scope: 'orders:write', secondFactor: true },
    },
  });
  server.listen(port, '127.0.0.1', () => console.log(`API for ${audience} on http://127.0.0.1:${port} (tokens from ${issuer})`));
}
