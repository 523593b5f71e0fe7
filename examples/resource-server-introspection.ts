// An API that asks Portcullis about each token (RFC 7662 introspection) instead of verifying
// it itself. It authenticates to the introspection endpoint as a confidential client of its
// own (`portcullis client create --name orders-api --grant client_credentials`). Costs a round
// trip per request (cache answers briefly if that matters).
//
// `active: true` only says the token is live: Portcullis answers it to any resource server for
// any access token it issued, whatever it is for (a token meant for another API, a login's
// userinfo token; a refresh token too, when the caller is the app that holds it). So this API
// takes a token only when the answer also says it is meant for this API:
// - `token_type` is `Bearer`: an access token. A refresh token's answer has no `token_type`.
//   `api_key` (an API key, presented as a Bearer token) is accepted too unless `apiKeys` is
//   false; a key is used only if it was created with `--audience` naming this API.
// - `aud` names this API's audience (a string or an array holding it). Portcullis's tokens for
//   an API are JWTs with its audience; its opaque tokens (a login's userinfo token, client
//   credentials without `resource`) carry no audience, so they are refused.
// - a DPoP-bound token (`token_type: DPoP`, `cnf.jkt`, RFC 9449) comes as `Authorization: DPoP
//   <token>` with a proof of possession of that key in the `DPoP` header
//   (examples/dpop-proof.ts); sent as a Bearer token, or without the proof, it is refused (RFC
//   9449 section 7.2). Any other token comes as `Bearer`.
// - `scope` holds the scope the route needs.
// Anything else is 401 `invalid_token` (`invalid_dpop_proof` for a bad proof); a missing scope is
// 403 `insufficient_scope`; no token at all is 401 with bare challenges for both schemes (RFC
// 6750 section 3, RFC 9449 section 7.1).
//
//   ISSUER=http://localhost:3000 AUDIENCE=https://orders.example.com CLIENT_ID=... CLIENT_SECRET=... \
//     npx tsx examples/resource-server-introspection.ts
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { deny, dpopProofRefusal, parseAuthorization, ProofReplayCache } from './dpop-proof.ts';

export interface IntrospectionApiOptions {
  issuer: string;
  /** This API's audience, as registered with `portcullis resource create --audience`. */
  audience: string;
  /** The client this API authenticates as at the introspection endpoint. */
  clientId: string;
  clientSecret: string;
  /** The scope each route needs. */
  routes: Record<string, string>;
  /** Accept API keys created for this audience (`token_type: "api_key"`). Default true. */
  apiKeys?: boolean;
  /** This API's URL as its callers address it, for the DPoP proof's htu (default: from the Host header, http). */
  publicUrl?: string;
}

interface Introspection {
  active: boolean;
  token_type?: string;
  aud?: string | string[];
  scope?: string;
  cnf?: { jkt?: unknown };
  client_id?: string;
  sub?: string;
  exp?: number;
}

/** Why an active introspection answer is not a token for this API, or undefined if it is one. */
export function refusal(token: Introspection, audience: string, apiKeys: boolean): string | undefined {
  if (token.active !== true) return 'the access token is not active';
  const types = apiKeys ? ['Bearer', 'DPoP', 'api_key'] : ['Bearer', 'DPoP'];
  if (!types.includes(token.token_type ?? '')) return 'this is not an access token';
  const audiences = Array.isArray(token.aud) ? token.aud : typeof token.aud === 'string' ? [token.aud] : [];
  if (!audiences.includes(audience)) return 'the access token is not meant for this API';
  return undefined;
}

export async function createIntrospectionApi({
  issuer,
  audience,
  clientId,
  clientSecret,
  routes,
  apiKeys = true,
  publicUrl,
}: IntrospectionApiOptions): Promise<http.Server> {
  const metadata = (await (await fetch(new URL('/.well-known/oauth-authorization-server', issuer))).json()) as {
    issuer: string;
    introspection_endpoint: string;
  };
  if (metadata.issuer !== issuer) throw new Error(`metadata names issuer ${metadata.issuer}, expected ${issuer}`);
  // RFC 6749 section 2.3.1: form-encode the id and secret before Basic encoding.
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
  const replay = new ProofReplayCache();

  async function introspect(token: string): Promise<Introspection | undefined> {
    try {
      const answer = await fetch(metadata.introspection_endpoint, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, accept: 'application/json' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
        signal: AbortSignal.timeout(5000),
      });
      return answer.ok ? ((await answer.json()) as Introspection) : undefined;
    } catch {
      return undefined; // Portcullis unreachable or too slow: not the caller's fault
    }
  }

  return http.createServer(async (request, response) => {
    const path = new URL(request.url ?? '/', 'http://api').pathname;
    const needed = routes[path];
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

    const answer = await introspect(token);
    if (!answer) {
      response.writeHead(502, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: 'the authorization server did not answer' }));
      return;
    }
    const refused = refusal(answer, audience, apiKeys);
    if (refused) return deny(response, 401, audience, { scheme, error: 'invalid_token', description: refused });

    // RFC 9449 section 7: the token's binding decides the scheme, and a bound token needs its proof.
    const jkt = answer.cnf?.jkt;
    if (answer.token_type === 'DPoP' || answer.cnf !== undefined) {
      if (typeof jkt !== 'string') {
        return deny(response, 401, audience, {
          scheme,
          error: 'invalid_token',
          description: 'this token is bound in a way this API cannot check',
        });
      }
      if (scheme !== 'DPoP') {
        const description = 'this token is bound to a DPoP key: send it with Authorization: DPoP and a DPoP proof';
        return deny(response, 401, audience, { scheme: 'DPoP', error: 'invalid_token', description });
      }
      const proofRefused = await dpopProofRefusal(request, token, jkt, { publicUrl, replay });
      if (proofRefused) return deny(response, 401, audience, { scheme, error: 'invalid_dpop_proof', description: proofRefused });
    } else if (scheme === 'DPoP') {
      return deny(response, 401, audience, {
        scheme,
        error: 'invalid_token',
        description: 'this token is not DPoP-bound: send it as a Bearer token',
      });
    }
    if (
      !String(answer.scope ?? '')
        .split(' ')
        .includes(needed)
    ) {
      return deny(response, 403, audience, {
        scheme,
        error: 'insufficient_scope',
        description: `this needs the ${needed} scope`,
        scope: needed,
      });
    }

    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ path, caller: answer.sub ?? answer.client_id, token_type: answer.token_type, scope: answer.scope }));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const issuer = process.env.ISSUER ?? 'http://localhost:3000';
  const audience = process.env.AUDIENCE ?? 'https://orders.example.com';
  const port = Number(process.env.PORT ?? 4001);
  const server = await createIntrospectionApi({
    issuer,
    audience,
    clientId: process.env.CLIENT_ID ?? '',
    clientSecret: process.env.CLIENT_SECRET ?? '',
    routes: { '/orders': 'orders:read', '/orders/new': 'orders:write' },
  });
  server.listen(port, '127.0.0.1', () => console.log(`API for ${audience} on http://127.0.0.1:${port}, introspecting at ${issuer}`));
}
