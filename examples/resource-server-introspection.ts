// An API that asks Portcullis about each token (RFC 7662 introspection) instead of verifying
// it itself. It authenticates to the introspection endpoint as a confidential client of its
// own. Works for opaque tokens and for anything Portcullis can revoke at once; costs a round
// trip per request (cache answers briefly if that matters).
//
//   ISSUER=http://localhost:3000 CLIENT_ID=... CLIENT_SECRET=... npx tsx examples/resource-server-introspection.ts
import http from 'node:http';
import { pathToFileURL } from 'node:url';

export interface IntrospectionApiOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The scope each route needs. */
  routes: Record<string, string>;
}

interface Introspection {
  active: boolean;
  scope?: string;
  client_id?: string;
  sub?: string;
  exp?: number;
}

function deny(response: http.ServerResponse, status: 401 | 403, error: string, description: string): void {
  response.writeHead(status, {
    'content-type': 'application/json',
    'www-authenticate': `Bearer error="${error}", error_description="${description}"`,
  });
  response.end(JSON.stringify({ error, error_description: description }));
}

export async function createIntrospectionApi({ issuer, clientId, clientSecret, routes }: IntrospectionApiOptions): Promise<http.Server> {
  const metadata = (await (await fetch(new URL('/.well-known/oauth-authorization-server', issuer))).json()) as {
    introspection_endpoint: string;
  };
  // RFC 6749 section 2.3.1: form-encode the id and secret before Basic encoding.
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');

  return http.createServer(async (request, response) => {
    const path = new URL(request.url ?? '/', 'http://api').pathname;
    const needed = routes[path];
    if (needed === undefined) {
      response.writeHead(404).end();
      return;
    }
    const match = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '');
    if (!match) return deny(response, 401, 'invalid_request', 'a Bearer access token is required');

    const answer = await fetch(metadata.introspection_endpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, accept: 'application/json' },
      body: new URLSearchParams({ token: match[1]!, token_type_hint: 'access_token' }),
    });
    if (!answer.ok) {
      response.writeHead(502).end();
      return;
    }
    const token = (await answer.json()) as Introspection;
    if (!token.active) return deny(response, 401, 'invalid_token', 'the access token is not active');
    if (
      !String(token.scope ?? '')
        .split(' ')
        .includes(needed)
    )
      return deny(response, 403, 'insufficient_scope', `this needs the ${needed} scope`);

    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ path, caller: token.sub ?? token.client_id, scope: token.scope }));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const issuer = process.env.ISSUER ?? 'http://localhost:3000';
  const port = Number(process.env.PORT ?? 4001);
  const server = await createIntrospectionApi({
    issuer,
    clientId: process.env.CLIENT_ID ?? '',
    clientSecret: process.env.CLIENT_SECRET ?? '',
    routes: { '/reports': 'read' },
  });
  server.listen(port, '127.0.0.1', () => console.log(`API on http://127.0.0.1:${port}, introspecting at ${issuer}`));
}
