// The resource-server examples, run against a real Portcullis over HTTP: what an API author
// copies must work, and must refuse every token that is not meant for that API.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oauth from 'oauth4webapi';
import * as oidc from 'openid-client';
import { SignJWT } from 'jose';
import { PROOF_ALGORITHMS } from '../../examples/dpop-proof.ts';
import { createIntrospectionApi } from '../../examples/resource-server-introspection.ts';
import { createJwtApi } from '../../examples/resource-server-jwt.ts';
import { dpopClient } from '../../examples/dpop-client.ts';
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

/** A person logs in to the app (code flow with PKCE); with a DPoP key pair, the tokens are bound to it. */
async function logIn(parameters: Record<string, string>, dpop?: Awaited<ReturnType<typeof oidc.randomDPoPKeyPair>>) {
  const { url, verifier } = await pkceAuthorization(appConfig, { redirect_uri: REDIRECT, prompt: 'consent', ...parameters });
  const step = await signIn(new UserAgent(), url, { ...PERSON, redirectUri: REDIRECT });
  if (!step.location?.startsWith(REDIRECT)) throw new Error(`the login stopped at ${step.status} ${step.url}`);
  const options = dpop ? { DPoP: oidc.getDPoPHandle(appConfig, dpop) } : undefined;
  return oidc.authorizationCodeGrant(appConfig, new URL(step.location), { pkceCodeVerifier: verifier }, undefined, options);
}

async function call(url: string, token?: string) {
  const response = await fetch(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  const challenge = response.headers.get('www-authenticate') ?? '';
  return { status: response.status, challenge, body: (await response.json()) as Record<string, string> };
}

/** The challenges when no token came: one per scheme the examples take (RFC 6750 section 3, RFC 9449 section 7.1). */
const bareChallenges = `Bearer realm="${ORDERS}", DPoP realm="${ORDERS}", algs="${PROOF_ALGORITHMS.join(' ')}"`;

/** What a refused token gets: 401 and RFC 6750's invalid_token challenge. */
const invalidToken = (description?: string) => ({
  status: 401,
  challenge: expect.stringMatching(/^Bearer realm="[^"]+", error="invalid_token"/),
  body: expect.objectContaining({ error: 'invalid_token', ...(description ? { error_description: description } : {}) }),
});

/** What a DPoP-bound token sent as a Bearer token gets: a DPoP challenge (RFC 9449 section 7.2). */
const boundAsBearer = {
  status: 401,
  challenge: expect.stringMatching(/^DPoP realm="[^"]+", error="invalid_token"/),
  body: {
    error: 'invalid_token',
    error_description: 'this token is bound to a DPoP key: send it with Authorization: DPoP and a DPoP proof',
  },
};

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
    expect(await call(`${url}/orders`)).toMatchObject({ status: 401, challenge: bareChallenges });
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
    const bound = await logIn({ scope: 'openid read', resource: ORDERS }, await oidc.randomDPoPKeyPair());
    expect(bound.token_type).toBe('dpop');
    expect(claimsOf(bound.access_token)).toMatchObject({ aud: ORDERS, scope: 'read', cnf: { jkt: expect.any(String) } });
    expect(await call(`${url}/orders`, bound.access_token)).toMatchObject(boundAsBearer);
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
    expect(await call(`${url}/orders`)).toMatchObject({ status: 401, challenge: bareChallenges });
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
    const bound = await logIn({ scope: 'openid read', resource: ORDERS }, await oidc.randomDPoPKeyPair());
    expect(await introspect(bound.access_token)).toMatchObject({
      active: true,
      token_type: 'DPoP',
      aud: ORDERS,
      cnf: { jkt: expect.any(String) },
    });
    expect(await call(`${url}/orders`, bound.access_token)).toMatchObject(boundAsBearer);
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

describe('DPoP-bound tokens at both examples (RFC 9449 section 7)', () => {
  const insecure = { [oauth.allowInsecureRequests]: true } as const;
  const urls: Record<string, string> = {};
  let as: oauth.AuthorizationServer;
  beforeAll(async () => {
    urls.JWT = await listen(await createJwtApi({ issuer: running.url, audience: ORDERS, routes: { '/orders': 'read' } }));
    urls.introspection = await listen(
      await createIntrospectionApi({
        issuer: running.url,
        audience: ORDERS,
        clientId: introspector.client_id!,
        clientSecret: introspector.client_secret!,
        routes: { '/orders': 'read' },
      }),
    );
    as = await oauth.processDiscoveryResponse(new URL(running.url), await oauth.discoveryRequest(new URL(running.url), insecure));
  });

  /** A DPoP-bound client-credentials token for the API, and the handle that holds its key. */
  async function boundServiceToken() {
    const keyPair = await oauth.generateKeyPair('ES256');
    const DPoP = oauth.DPoP({}, keyPair);
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      { client_id: reader.client_id! },
      oauth.ClientSecretBasic(reader.client_secret!),
      { resource: ORDERS },
      { ...insecure, DPoP },
    );
    const { access_token, token_type } = await oauth.processClientCredentialsResponse(as, { client_id: reader.client_id! }, response);
    expect(token_type).toBe('dpop');
    return { token: access_token, DPoP, keyPair };
  }

  /** oauth4webapi's protected resource request (Authorization: DPoP, a proof with ath); a refusal's challenge parsed. */
  async function dpopCall(url: string, token: string, options: { DPoP?: oauth.DPoPHandle; [oauth.customFetch]?: typeof fetch } = {}) {
    try {
      const response = await oauth.protectedResourceRequest(token, 'GET', new URL(`${url}/orders`), undefined, undefined, {
        ...insecure,
        ...options,
      });
      return { status: response.status, body: (await response.json()) as Record<string, string>, challenges: [] };
    } catch (error) {
      if (!(error instanceof oauth.WWWAuthenticateChallengeError)) throw error;
      return { status: error.status, body: (await error.response.json()) as Record<string, string>, challenges: error.cause };
    }
  }

  /** A refusal of the proof: 401 invalid_dpop_proof in a DPoP challenge. */
  const badProof = (description: string) => ({
    status: 401,
    body: { error: 'invalid_dpop_proof', error_description: description },
    challenges: [expect.objectContaining({ scheme: 'dpop', parameters: expect.objectContaining({ error: 'invalid_dpop_proof' }) })],
  });

  describe.each(['JWT', 'introspection'])('the %s example', (example) => {
    test("accepts a person's and a service's bound token with a proof of its key, each proof once", async () => {
      const keyPair = await oidc.randomDPoPKeyPair();
      const person = await logIn({ scope: 'openid read', resource: ORDERS }, keyPair);
      expect(person.token_type).toBe('dpop');
      const DPoP = oauth.DPoP({}, keyPair);
      expect(await dpopCall(urls[example]!, person.access_token, { DPoP })).toMatchObject({ status: 200, body: { scope: 'read' } });
      // A new proof for each request (a new jti): the second request is no replay.
      expect((await dpopCall(urls[example]!, person.access_token, { DPoP })).status).toBe(200);

      const service = await boundServiceToken();
      expect(await dpopCall(urls[example]!, service.token, { DPoP: service.DPoP })).toMatchObject({ status: 200, body: { scope: 'read' } });
    });

    test('refuses a bound token as a Bearer token, or as DPoP without a proof', async () => {
      const { token } = await boundServiceToken();
      expect(await call(`${urls[example]}/orders`, token)).toMatchObject(boundAsBearer);
      const response = await fetch(`${urls[example]}/orders`, { headers: { authorization: `DPoP ${token}` } });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^DPoP realm="[^"]+", error="invalid_dpop_proof"/);
      expect(await response.json()).toEqual({ error: 'invalid_dpop_proof', error_description: 'a DPoP proof is required with this token' });
    });

    test('refuses an unbound token sent with the DPoP scheme', async () => {
      const token = await clientCredentials(reader, { resource: ORDERS });
      const DPoP = oauth.DPoP({}, await oauth.generateKeyPair('ES256'));
      expect(await dpopCall(urls[example]!, token, { DPoP })).toMatchObject({
        status: 401,
        body: { error: 'invalid_token', error_description: 'this token is not DPoP-bound: send it as a Bearer token' },
      });
    });

    test('refuses every proof that is not for this request, this token and this key', async () => {
      const { token, DPoP, keyPair } = await boundServiceToken();
      const url = urls[example]!;
      /** Proofs signed by the token's own key, each changed in one claim after oauth4webapi made it. */
      const modified = (change: (payload: Record<string, unknown>) => void) =>
        oauth.DPoP({}, keyPair, { [oauth.modifyAssertion]: (_header, payload) => change(payload as Record<string, unknown>) });
      // Another key than the token's (its thumbprint is not cnf.jkt).
      expect(await dpopCall(url, token, { DPoP: oauth.DPoP({}, await oauth.generateKeyPair('ES256')) })).toMatchObject(
        badProof('the DPoP proof is not signed by the key the token is bound to'),
      );
      // Signed by the right key, but for another URL, method or token, or not recent (section 7.1).
      expect(await dpopCall(url, token, { DPoP: modified((p) => (p.htu = `${url}/elsewhere`)) })).toMatchObject(
        badProof('the DPoP proof is for another URL'),
      );
      expect(await dpopCall(url, token, { DPoP: modified((p) => (p.htm = 'POST')) })).toMatchObject(
        badProof('the DPoP proof is for another method'),
      );
      expect(await dpopCall(url, token, { DPoP: modified((p) => (p.ath = 'AAAA')) })).toMatchObject(
        badProof('the DPoP proof is for another access token'),
      );
      expect(await dpopCall(url, token, { DPoP: modified((p) => (p.iat = Number(p.iat) - 600)) })).toMatchObject(
        badProof('the DPoP proof is not recent'),
      );
      expect(await dpopCall(url, token, { DPoP: modified((p) => (p.iat = Number(p.iat) + 600)) })).toMatchObject(
        badProof('the DPoP proof is not recent'),
      );

      // The same request twice: the proof's jti is single use (section 11.1).
      let sent: RequestInit | undefined;
      const first = await dpopCall(url, token, {
        DPoP,
        [oauth.customFetch]: (input, init) => {
          sent = init;
          return fetch(input, init);
        },
      });
      expect(first.status).toBe(200);
      const replayed = await fetch(`${url}/orders`, sent);
      expect(replayed.status).toBe(401);
      expect(await replayed.json()).toEqual({ error: 'invalid_dpop_proof', error_description: 'the DPoP proof was already used' });

      // Two DPoP fields, a proof that is no JWT, one with a symmetric key.
      const raw = async (dpop: string[]) => {
        const headers = new Headers({ authorization: `DPoP ${token}` });
        for (const value of dpop) headers.append('dpop', value);
        const response = await fetch(`${url}/orders`, { headers });
        return { status: response.status, body: (await response.json()) as Record<string, string> };
      };
      const twice = await raw(['a.b.c', 'd.e.f']);
      expect(twice).toEqual({ status: 401, body: { error: 'invalid_dpop_proof', error_description: 'exactly one DPoP proof is allowed' } });
      expect(await raw(['not-a-proof'])).toEqual({
        status: 401,
        body: { error: 'invalid_dpop_proof', error_description: 'the DPoP proof is not valid' },
      });
      const secret = crypto.getRandomValues(new Uint8Array(32));
      const symmetric = await new SignJWT({
        htm: 'GET',
        htu: `${url}/orders`,
        jti: crypto.randomUUID(),
        iat: Math.floor(Date.now() / 1000),
      })
        .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: Buffer.from(secret).toString('base64url') } as never })
        .sign(secret);
      expect((await raw([symmetric])).body.error).toBe('invalid_dpop_proof');
    });
  });

  test('the DPoP client example gets a bound token and calls both examples with it, nonce or not', async () => {
    const withNonce = await startServer({ DPOP_REQUIRE_NONCE: 'true' });
    try {
      for (const issuer of [running, withNonce]) {
        const cli = (args: string[]) => cliJson<Record<string, string>>(args, issuer.env);
        if (issuer === withNonce) await cli(['resource', 'create', '--audience', ORDERS, '--scope', 'read']);
        const service = await cli([
          'client',
          'create',
          '--name',
          'dpop-svc',
          '--require-dpop',
          '--grant',
          'client_credentials',
          '--scope',
          'read',
        ]);
        const { token, call } = await dpopClient({
          issuer: issuer.url,
          clientId: service.client_id!,
          clientSecret: service.client_secret!,
          resource: ORDERS,
          insecure: true,
        });
        expect(token.token_type).toBe('dpop');
        expect(claimsOf(token.access_token)).toMatchObject({ aud: ORDERS, cnf: { jkt: expect.any(String) } });
        if (issuer === running) {
          for (const url of Object.values(urls)) expect((await call(`${url}/orders`)).status).toBe(200);
        }
      }
    } finally {
      await withNonce.stop();
    }
  });
});
