// The resource-server examples, run against a real Portcullis over HTTP: what an API author
// copies must work, and must refuse every token that is not meant for that API.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { createIntrospectionApi } from '../../examples/resource-server-introspection.ts';
import { createJwtApi } from '../../examples/resource-server-jwt.ts';
import { cliJson } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { basicAuth, pkceAuthorization, signIn, UserAgent } from '../support/browser.ts';

const ORDERS = 'https://orders.example.com';
const ELSEWHERE = 'https://elsewhere.example.com';
const REDIRECT = 'http://127.0.0.1:8128/callback';
const PERSON = { email: 'ada@example.com', password: 'a long passphrase' };

let running: RunningServer;
const apis: http.Server[] = [];
/** A client-credentials client that may ask for `read`. */
let reader: Record<string, string>;
/** The confidential client the introspection example authenticates as. */
let introspector: Record<string, string>;
/** An app people log in to, and its openid-client configuration. */
let app: Record<string, string>;
let appConfig: oidc.Configuration;

/** The CLI against this file's server, with --json; a failure throws. */
const run = (args: string[], stdin = '') => cliJson<Record<string, string>>(args, running.env, stdin);

async function listen(server: http.Server): Promise<string> {
  apis.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function clientCredentials(client: Record<string, string>, parameters: Record<string, string>): Promise<string> {
  const response = await fetch(`${running.url}/token`, {
    method: 'POST',
    headers: basicAuth(client.client_id, client.client_secret),
    body: new URLSearchParams({ grant_type: 'client_credentials', ...parameters }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** A person logs in to the app (code flow with PKCE); with `dpop`, the tokens are DPoP-bound. */
async function logIn(parameters: Record<string, string>, dpop = false) {
  const { url, verifier } = await pkceAuthorization(appConfig, { redirect_uri: REDIRECT, prompt: 'consent', ...parameters });
  const step = await signIn(new UserAgent(), url, { ...PERSON, redirectUri: REDIRECT });
  if (!step.location?.startsWith(REDIRECT)) throw new Error(`the login stopped at ${step.status} ${step.url}`);
  const options = dpop ? { DPoP: oidc.getDPoPHandle(appConfig, await oidc.randomDPoPKeyPair()) } : undefined;
  return oidc.authorizationCodeGrant(appConfig, new URL(step.location), { pkceCodeVerifier: verifier }, undefined, options);
}

async function call(url: string, token?: string) {
  const response = await fetch(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  const challenge = response.headers.get('www-authenticate') ?? '';
  return { status: response.status, challenge, body: (await response.json()) as Record<string, string> };
}

/** What a refused token gets: 401 and RFC 6750's invalid_token challenge. */
const invalidToken = (description?: string) => ({
  status: 401,
  challenge: expect.stringMatching(/^Bearer realm="[^"]+", error="invalid_token"/),
  body: expect.objectContaining({ error: 'invalid_token', ...(description ? { error_description: description } : {}) }),
});

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
}

beforeAll(async () => {
  running = await startServer();
  await run(['resource', 'create', '--audience', ORDERS, '--scope', 'read write']);
  await run(['resource', 'create', '--audience', ELSEWHERE, '--scope', 'read']);
  reader = await run(['client', 'create', '--name', 'reader', '--grant', 'client_credentials', '--scope', 'read']);
  introspector = await run(['client', 'create', '--name', 'orders-api', '--grant', 'client_credentials']);
  await run(['user', 'create', '--email', PERSON.email, '--password-stdin'], PERSON.password);
  app = await run([
    'client',
    'create',
    '--name',
    'shop',
    '--grant',
    'authorization_code',
    '--grant',
    'refresh_token',
    '--redirect-uri',
    REDIRECT,
    '--scope',
    'read',
  ]);
  appConfig = await oidc.discovery(new URL(running.url), app.client_id!, app.client_secret, undefined, {
    execute: [oidc.allowInsecureRequests],
  });
});
afterAll(async () => {
  for (const api of apis) api.close();
  await running.stop();
});

describe('the JWT example', () => {
  let url: string;
  beforeAll(async () => {
    url = await listen(
      await createJwtApi({ issuer: running.url, audience: ORDERS, routes: { '/orders': 'read', '/orders/new': 'write' } }),
    );
  });

  test("accepts a service's and a person's access token for its audience and scope", async () => {
    const service = await call(`${url}/orders`, await clientCredentials(reader, { resource: ORDERS }));
    expect(service).toMatchObject({ status: 200, body: { caller: reader.client_id, scope: 'read' } });

    const { access_token } = await logIn({ scope: 'openid read', resource: ORDERS });
    const person = await call(`${url}/orders`, access_token);
    expect(person).toMatchObject({ status: 200, body: { client_id: app.client_id, scope: 'read' } });
  });

  test('answers no token with a bare challenge and a missing scope with 403 insufficient_scope (RFC 6750 section 3)', async () => {
    expect(await call(`${url}/orders`)).toMatchObject({ status: 401, challenge: `Bearer realm="${ORDERS}"` });
    const scope = await call(`${url}/orders/new`, await clientCredentials(reader, { resource: ORDERS }));
    expect(scope).toMatchObject({ status: 403, challenge: expect.stringMatching(/error="insufficient_scope".*scope="write"/) });
  });

  test('refuses a token for another API', async () => {
    const elsewhere = await clientCredentials(reader, { resource: ELSEWHERE });
    expect(claimsOf(elsewhere)).toMatchObject({ aud: ELSEWHERE, scope: 'read' });
    expect(await call(`${url}/orders`, elsewhere)).toMatchObject(invalidToken('the access token is not meant for this API'));
  });

  test('refuses an ID token, even one whose audience is the API (RFC 9068 section 4: typ at+jwt)', async () => {
    const { id_token } = await logIn({ scope: 'openid read', resource: ORDERS });
    expect(await call(`${url}/orders`, id_token)).toMatchObject(invalidToken());

    // An API that took a client id as its audience: the ID token's issuer, audience and
    // signature all check out there, and only its type tells it from an access token.
    const byClientId = await listen(await createJwtApi({ issuer: running.url, audience: app.client_id!, routes: { '/me': 'openid' } }));
    expect(claimsOf(id_token!)).toMatchObject({ iss: running.url, aud: app.client_id });
    expect(await call(`${byClientId}/me`, id_token)).toMatchObject(invalidToken('this is not an access token'));
  });

  test('refuses a DPoP-bound token presented as a bearer token (RFC 9449 section 7.2)', async () => {
    const bound = await logIn({ scope: 'openid read', resource: ORDERS }, true);
    expect(bound.token_type).toBe('dpop');
    expect(claimsOf(bound.access_token)).toMatchObject({ aud: ORDERS, scope: 'read', cnf: { jkt: expect.any(String) } });
    expect(await call(`${url}/orders`, bound.access_token)).toMatchObject(
      invalidToken('this API accepts bearer tokens only, not sender-constrained ones'),
    );
  });

  test('refuses opaque tokens, a refresh token and a forged signature', async () => {
    const { access_token, refresh_token } = await logIn({ scope: 'openid offline_access read', resource: ORDERS });
    expect(refresh_token).toBeDefined();
    expect(await call(`${url}/orders`, refresh_token)).toMatchObject(invalidToken());
    expect(await call(`${url}/orders`, await clientCredentials(reader, {}))).toMatchObject(invalidToken());
    expect(await call(`${url}/orders`, `${access_token.slice(0, -4)}AAAA`)).toMatchObject(invalidToken());
  });
});

describe('the introspection example', () => {
  let url: string;
  beforeAll(async () => {
    url = await listen(
      await createIntrospectionApi({
        issuer: running.url,
        audience: ORDERS,
        clientId: introspector.client_id!,
        clientSecret: introspector.client_secret!,
        routes: { '/orders': 'read', '/orders/new': 'write' },
      }),
    );
  });

  async function introspect(token: string, as = introspector) {
    const response = await fetch(`${running.url}/token/introspection`, {
      method: 'POST',
      headers: basicAuth(as.client_id, as.client_secret),
      body: new URLSearchParams({ token }),
    });
    return (await response.json()) as Record<string, unknown>;
  }

  test("accepts a service's and a person's access token for its audience, and an API key for it", async () => {
    const service = await call(`${url}/orders`, await clientCredentials(reader, { resource: ORDERS }));
    expect(service).toMatchObject({ status: 200, body: { caller: reader.client_id, token_type: 'Bearer', scope: 'read' } });

    const { access_token } = await logIn({ scope: 'openid read', resource: ORDERS });
    expect(await call(`${url}/orders`, access_token)).toMatchObject({ status: 200, body: { token_type: 'Bearer', scope: 'read' } });

    const key = await run(['apikey', 'create', '--name', 'export', '--scope', 'read', '--audience', ORDERS]);
    expect(await call(`${url}/orders`, key.key)).toMatchObject({ status: 200, body: { token_type: 'api_key', scope: 'read' } });
  });

  test('answers no token with a bare challenge and a missing scope with 403 insufficient_scope (RFC 6750 section 3)', async () => {
    expect(await call(`${url}/orders`)).toMatchObject({ status: 401, challenge: `Bearer realm="${ORDERS}"` });
    const scope = await call(`${url}/orders/new`, await clientCredentials(reader, { resource: ORDERS }));
    expect(scope).toMatchObject({ status: 403, challenge: expect.stringMatching(/error="insufficient_scope".*scope="write"/) });
  });

  test('refuses a token for another API, though introspection calls it active', async () => {
    const elsewhere = await clientCredentials(reader, { resource: ELSEWHERE });
    expect(await introspect(elsewhere)).toMatchObject({ active: true, token_type: 'Bearer', aud: ELSEWHERE, scope: 'read' });
    expect(await call(`${url}/orders`, elsewhere)).toMatchObject(invalidToken('the access token is not meant for this API'));
  });

  test('refuses a refresh token, even where introspection calls it active with the scope', async () => {
    const { refresh_token } = await logIn({ scope: 'openid offline_access read', resource: ORDERS });
    expect(refresh_token).toBeDefined();
    expect(await call(`${url}/orders`, refresh_token)).toMatchObject(invalidToken());

    // An API that introspects as the app holding the refresh token (an app serving its own
    // API) is told the token is active, with the scope: only the missing token_type tells.
    const asApp = await listen(
      await createIntrospectionApi({
        issuer: running.url,
        audience: ORDERS,
        clientId: app.client_id!,
        clientSecret: app.client_secret!,
        routes: { '/orders': 'read' },
      }),
    );
    const answer = await introspect(refresh_token!, app);
    expect(answer).toMatchObject({ active: true, scope: expect.stringContaining('read') });
    expect(answer.token_type).toBeUndefined();
    expect(await call(`${asApp}/orders`, refresh_token)).toMatchObject(invalidToken('this is not an access token'));
  });

  test('refuses a DPoP-bound token presented as a bearer token (RFC 9449 section 7.2)', async () => {
    const bound = await logIn({ scope: 'openid read', resource: ORDERS }, true);
    expect(await introspect(bound.access_token)).toMatchObject({
      active: true,
      token_type: 'DPoP',
      aud: ORDERS,
      cnf: { jkt: expect.any(String) },
    });
    expect(await call(`${url}/orders`, bound.access_token)).toMatchObject(
      invalidToken('this API accepts bearer tokens only, not sender-constrained ones'),
    );
  });

  test('refuses opaque access tokens: Portcullis issues them for no API, so they carry no audience', async () => {
    const unbound = await clientCredentials(reader, {});
    const answer = await introspect(unbound);
    expect(answer).toMatchObject({ active: true, token_type: 'Bearer', scope: 'read' });
    expect(answer.aud).toBeUndefined();
    expect(await call(`${url}/orders`, unbound)).toMatchObject(invalidToken('the access token is not meant for this API'));

    const { access_token } = await logIn({ scope: 'openid read' }); // the userinfo token
    expect((await introspect(access_token)).aud).toBeUndefined();
    expect(await call(`${url}/orders`, access_token)).toMatchObject(invalidToken('the access token is not meant for this API'));
  });

  test('refuses an ID token', async () => {
    const { id_token } = await logIn({ scope: 'openid read', resource: ORDERS });
    expect(await call(`${url}/orders`, id_token)).toMatchObject(invalidToken());
  });

  test('refuses API keys for another API or for any API, and all keys when told to', async () => {
    const other = await run(['apikey', 'create', '--name', 'other', '--scope', 'read', '--audience', ELSEWHERE]);
    expect(await call(`${url}/orders`, other.key)).toMatchObject(invalidToken('the access token is not meant for this API'));
    const any = await run(['apikey', 'create', '--name', 'any', '--scope', 'read']);
    expect(await introspect(any.key!)).toMatchObject({ active: true, token_type: 'api_key', scope: 'read' });
    expect(await call(`${url}/orders`, any.key)).toMatchObject(invalidToken('the access token is not meant for this API'));

    const noKeys = await listen(
      await createIntrospectionApi({
        issuer: running.url,
        audience: ORDERS,
        clientId: introspector.client_id!,
        clientSecret: introspector.client_secret!,
        routes: { '/orders': 'read' },
        apiKeys: false,
      }),
    );
    const mine = await run(['apikey', 'create', '--name', 'mine', '--scope', 'read', '--audience', ORDERS]);
    expect(await call(`${noKeys}/orders`, mine.key)).toMatchObject(invalidToken('this is not an access token'));
    expect((await call(`${noKeys}/orders`, await clientCredentials(reader, { resource: ORDERS }))).status).toBe(200);
  });

  test('honours revocation at once: a revoked API key is refused', async () => {
    const key = await run(['apikey', 'create', '--name', 'revoked', '--scope', 'read', '--audience', ORDERS]);
    expect((await call(`${url}/orders`, key.key)).status).toBe(200);
    await running.server.services.apiKeys.revoke(key.id!, { type: 'admin' });
    expect(await call(`${url}/orders`, key.key)).toMatchObject(invalidToken('the access token is not active'));
  });
});
