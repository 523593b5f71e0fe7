// An API that accepts Portcullis access tokens by verifying them offline (RFC 9068): the JWT's
// signature against the keys Portcullis publishes at its JWKS endpoint, and its issuer,
// audience and `typ`. It needs nothing from Portcullis but the issuer's URL.
//
//   ISSUER=http://localhost:3000 AUDIENCE=https://api.example.com npx tsx examples/resource-server-jwt.ts
//   curl -H "Authorization: Bearer $TOKEN" http://localhost:4000/orders
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';

export interface JwtApiOptions {
  issuer: string;
  audience: string;
  /** The scope each route needs. */
  routes: Record<string, string>;
}

/** Answers with RFC 6750's WWW-Authenticate challenge. */
function deny(response: http.ServerResponse, status: 401 | 403, error: string, description: string, scope?: string): void {
  const challenge = [`error="${error}"`, `error_description="${description}"`, ...(scope ? [`scope="${scope}"`] : [])].join(', ');
  response.writeHead(status, { 'content-type': 'application/json', 'www-authenticate': `Bearer ${challenge}` });
  response.end(JSON.stringify({ error, error_description: description }));
}

export async function createJwtApi({ issuer, audience, routes }: JwtApiOptions): Promise<http.Server> {
  // The JWKS URI comes from the issuer's metadata (RFC 8414), not from a guess.
  const metadata = (await (await fetch(new URL('/.well-known/oauth-authorization-server', issuer))).json()) as {
    jwks_uri: string;
    issuer: string;
  };
  if (metadata.issuer !== issuer) throw new Error(`metadata names issuer ${metadata.issuer}, expected ${issuer}`);
  // createRemoteJWKSet caches the keys and refetches when it meets an unknown kid, which is
  // what a key rotation looks like from here.
  const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));

  return http.createServer(async (request, response) => {
    const path = new URL(request.url ?? '/', 'http://api').pathname;
    const needed = routes[path];
    if (needed === undefined) {
      response.writeHead(404).end();
      return;
    }
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(request.headers.authorization ?? '');
    if (!match) return deny(response, 401, 'invalid_request', 'a Bearer access token is required');

    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(match[1]!, jwks, { issuer, audience, typ: 'at+jwt', algorithms: ['ES256', 'RS256'] }));
    } catch (error) {
      const reason = error instanceof errors.JWTExpired ? 'the access token has expired' : 'the access token is not valid here';
      return deny(response, 401, 'invalid_token', reason);
    }
    const scopes = new Set(String(claims.scope ?? '').split(' '));
    if (!scopes.has(needed)) return deny(response, 403, 'insufficient_scope', `this needs the ${needed} scope`, needed);

    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ path, caller: claims.sub, client_id: claims.client_id, scope: claims.scope }));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const issuer = process.env.ISSUER ?? 'http://localhost:3000';
  const audience = process.env.AUDIENCE ?? 'https://api.example.com';
  const port = Number(process.env.PORT ?? 4000);
  const server = await createJwtApi({ issuer, audience, routes: { '/orders': 'read', '/orders/new': 'write' } });
  server.listen(port, '127.0.0.1', () => console.log(`API for ${audience} on http://127.0.0.1:${port} (tokens from ${issuer})`));
}
