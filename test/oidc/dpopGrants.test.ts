// DPoP (RFC 9449) on oidc-provider's own grants (authorization code, refresh token) and on every
// grant with DPoP-Nonce (section 8), including across two instances on one database. The client
// is oauth4webapi (its DPoP handle makes the proofs and caches the server's nonce); the proofs it
// will not make come from jose (test/support/dpop.ts). Portcullis's own grants (client
// credentials, API-key exchange) have their proofs checked in depth in test/oidc/dpop.test.ts.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oauth from 'oauth4webapi';
import pino from 'pino';
import { calculateJwkThumbprint, createRemoteJWKSet, decodeJwt, exportJWK, jwtVerify, type JWTPayload } from 'jose';
import { loadConfig } from '../../src/config/index.ts';
import { openDatabase } from '../../src/db/index.ts';
import { createServer } from '../../src/http/index.ts';
import { cliJson } from '../support/cli.ts';
import { badProofs, handmadeProof, twoProofs } from '../support/dpop.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { signIn, UserAgent } from '../support/browser.ts';

const API = 'https://orders.example.com';
const REDIRECT = 'http://127.0.0.1:8129/callback';
const PERSON = { email: 'grace@example.com', password: 'a long passphrase' };
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const API_KEY_TOKEN_TYPE = 'urn:portcullis:params:oauth:token-type:api_key';
const insecure = { [oauth.allowInsecureRequests]: true } as const;

type Registered = { client_id: string; client_secret?: string };

/** One Portcullis with what every test here needs: an API, a person, a resource server. */
interface Stage {
  running: RunningServer;
  as: oauth.AuthorizationServer;
  cli(args: string[], stdin?: string): Promise<Record<string, string>>;
  /** A confidential client for the API's own use at the introspection endpoint. */
  introspector: Registered;
}

async function stage(env: Record<string, string> = {}): Promise<Stage> {
  const running = await startServer(env);
  const cli = (args: string[], stdin = '') => cliJson<Record<string, string>>(args, running.env, stdin);
  const issuer = new URL(running.url);
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  await cli(['resource', 'create', '--audience', API, '--scope', 'orders:read']);
  await cli(['user', 'create', '--email', PERSON.email, '--password-stdin'], PERSON.password);
  const introspector = (await cli(['client', 'create', '--name', 'orders-api', '--grant', 'client_credentials'])) as Registered;
  return { running, as, cli, introspector };
}

/** An app people log in to: public (PKCE only) or confidential; `--require-dpop` when `bound`. */
async function app(on: Stage, name: string, { isPublic = false, bound = false } = {}): Promise<Registered> {
  return (await on.cli([
    'client',
    'create',
    '--name',
    name,
    ...(isPublic ? ['--public'] : []),
    ...(bound ? ['--require-dpop'] : []),
    '--grant',
    'authorization_code',
    '--grant',
    'refresh_token',
    '--redirect-uri',
    REDIRECT,
    '--scope',
    'orders:read',
  ])) as Registered;
}

const authOf = (client: Registered) => (client.client_secret ? oauth.ClientSecretBasic(client.client_secret) : oauth.None());

/** The person logs in to `client` (code flow, PKCE S256) and consents; returns the callback's parameters. */
async function authorize(on: Stage, client: Registered, parameters: Record<string, string> = {}) {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(on.as.authorization_endpoint!);
  url.search = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid offline_access orders:read',
    resource: API,
    prompt: 'consent',
    state,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...parameters,
  }).toString();
  const step = await signIn(new UserAgent(), url.href, { ...PERSON, redirectUri: REDIRECT });
  if (!step.location?.startsWith(REDIRECT)) throw new Error(`the login stopped at ${step.status} ${step.url}`);
  // RFC 9207: oauth4webapi checks the response's iss against the issuer too.
  return { callback: oauth.validateAuthResponse(on.as, client, new URL(step.location), state), verifier };
}

interface Options {
  DPoP?: oauth.DPoPHandle;
  [oauth.customFetch]?: typeof fetch;
}

function codeGrant(on: Stage, client: Registered, { callback, verifier }: Awaited<ReturnType<typeof authorize>>, options: Options = {}) {
  return oauth.authorizationCodeGrantRequest(on.as, client, authOf(client), callback, REDIRECT, verifier, { ...insecure, ...options });
}

function refreshGrant(on: Stage, client: Registered, refreshToken: string, options: Options = {}) {
  return oauth.refreshTokenGrantRequest(on.as, client, authOf(client), refreshToken, { ...insecure, ...options });
}

/** The whole login with DPoP, as an app does it: the token response, processed and checked by oauth4webapi. */
async function logIn(on: Stage, client: Registered, DPoP?: oauth.DPoPHandle) {
  const response = await codeGrant(on, client, await authorize(on, client), DPoP ? { DPoP } : {});
  return oauth.processAuthorizationCodeResponse(on.as, client, response);
}

async function proofKey() {
  const keyPair = await oauth.generateKeyPair('ES256');
  return { keyPair, jkt: await calculateJwkThumbprint(await exportJWK(keyPair.publicKey)) };
}

async function verify(on: Stage, token: string) {
  const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(on.as.jwks_uri!)), {
    issuer: on.as.issuer,
    audience: API,
    typ: 'at+jwt',
  });
  return payload as JWTPayload & { cnf?: { jkt?: string } };
}

async function introspect(on: Stage, token: string) {
  const response = await oauth.introspectionRequest(
    on.as,
    on.introspector,
    oauth.ClientSecretBasic(on.introspector.client_secret!),
    token,
    insecure,
  );
  return oauth.processIntrospectionResponse(on.as, on.introspector, response);
}

async function expectError(response: Response, error: string) {
  expect(response.status).toBe(400);
  const body = (await response.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ error, error_description: expect.any(String) });
}

/** A fetch that sends the request with one DPoP header of our own making instead of the handle's. */
const sendingProof =
  (proof: string | string[]): typeof fetch =>
  (url, init) => {
    const headers = new Headers(init?.headers);
    headers.delete('dpop');
    for (const value of [proof].flat()) headers.append('dpop', value);
    return fetch(url, { ...init, headers });
  };

describe('DPoP on the authorization code and refresh grants', () => {
  let on: Stage;
  beforeAll(async () => {
    on = await stage();
  });
  afterAll(() => on.running.stop());

  test("a public client's tokens are bound: cnf.jkt in the JWT and in introspection, token_type DPoP", async () => {
    const spa = await app(on, 'spa', { isPublic: true });
    const { keyPair, jkt } = await proofKey();
    const tokens = await logIn(on, spa, oauth.DPoP({}, keyPair));
    // RFC 9449 section 5 (oauth4webapi lower-cases the token_type it was sent).
    expect(tokens.token_type).toBe('dpop');
    expect((await verify(on, tokens.access_token)).cnf).toEqual({ jkt });
    // Section 6.2.
    expect(await introspect(on, tokens.access_token)).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt } });
  });

  test("a confidential client's tokens are bound the same way", async () => {
    const web = await app(on, 'web');
    const { keyPair, jkt } = await proofKey();
    const tokens = await logIn(on, web, oauth.DPoP({}, keyPair));
    expect(tokens.token_type).toBe('dpop');
    expect((await verify(on, tokens.access_token)).cnf).toEqual({ jkt });
    expect(await introspect(on, tokens.access_token)).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt } });
  });

  test("a public client's refresh token works only with its DPoP key (RFC 9449 section 5)", async () => {
    const spa = await app(on, 'spa-refresh', { isPublic: true });
    const { keyPair, jkt } = await proofKey();
    const DPoP = oauth.DPoP({}, keyPair);
    const tokens = await logIn(on, spa, DPoP);
    expect(tokens.refresh_token).toBeDefined();

    // Without a proof, or with another key: refused, and the refresh token is not spent.
    await expectError(await refreshGrant(on, spa, tokens.refresh_token!), 'invalid_grant');
    const other = await proofKey();
    await expectError(await refreshGrant(on, spa, tokens.refresh_token!, { DPoP: oauth.DPoP({}, other.keyPair) }), 'invalid_grant');

    // With the key it was bound to: a new access token bound to that key, and a rotated refresh token.
    const refreshed = await oauth.processRefreshTokenResponse(on.as, spa, await refreshGrant(on, spa, tokens.refresh_token!, { DPoP }));
    expect(refreshed.token_type).toBe('dpop');
    expect((await verify(on, refreshed.access_token)).cnf).toEqual({ jkt });
    expect(refreshed.refresh_token).toBeDefined();
    // The rotated refresh token carries the binding on.
    await expectError(await refreshGrant(on, spa, refreshed.refresh_token!, { DPoP: oauth.DPoP({}, other.keyPair) }), 'invalid_grant');
  });

  test("a confidential client's refresh token is not bound: client authentication constrains it (section 5)", async () => {
    const web = await app(on, 'web-refresh');
    const first = await proofKey();
    const tokens = await logIn(on, web, oauth.DPoP({}, first.keyPair));

    // oidc-provider binds refresh tokens to the DPoP key only for public clients; a confidential
    // client may refresh with another key (the new access token is bound to that one)...
    const second = await proofKey();
    const rebound = await oauth.processRefreshTokenResponse(
      on.as,
      web,
      await refreshGrant(on, web, tokens.refresh_token!, { DPoP: oauth.DPoP({}, second.keyPair) }),
    );
    expect((await verify(on, rebound.access_token)).cnf).toEqual({ jkt: second.jkt });
    // ...or with no proof at all, and gets a Bearer token.
    const bearer = await refreshGrant(on, web, rebound.refresh_token!);
    expect(bearer.status).toBe(200);
    const body = (await bearer.json()) as { token_type: string; access_token: string };
    expect(body.token_type).toBe('Bearer');
    expect((await verify(on, body.access_token)).cnf).toBeUndefined();
  });

  test('a client registered with --require-dpop needs a proof for the code and for every refresh (section 5.2)', async () => {
    for (const isPublic of [true, false]) {
      const bound = await app(on, `bound-${isPublic}`, { isPublic, bound: true });
      const { keyPair, jkt } = await proofKey();
      const DPoP = oauth.DPoP({}, keyPair);
      // No proof: invalid_grant (oidc-provider's answer; Portcullis's own grants answer the same).
      const authorized = await authorize(on, bound);
      await expectError(await codeGrant(on, bound, authorized), 'invalid_grant');

      const tokens = await logIn(on, bound, DPoP);
      expect((await verify(on, tokens.access_token)).cnf).toEqual({ jkt });
      await expectError(await refreshGrant(on, bound, tokens.refresh_token!), 'invalid_grant');
      const refreshed = await refreshGrant(on, bound, tokens.refresh_token!, { DPoP });
      expect(refreshed.status).toBe(200);
      expect(((await refreshed.json()) as { token_type: string }).token_type).toBe('DPoP');
    }
  });

  test('dpop_jkt binds the code to a key at the authorization request (section 10)', async () => {
    const spa = await app(on, 'spa-jkt', { isPublic: true });
    const { keyPair, jkt } = await proofKey();
    const other = await proofKey();
    // The code can be redeemed only with a proof by that key: not without one, not with another.
    await expectError(await codeGrant(on, spa, await authorize(on, spa, { dpop_jkt: jkt })), 'invalid_grant');
    const elsewhere = await codeGrant(on, spa, await authorize(on, spa, { dpop_jkt: jkt }), { DPoP: oauth.DPoP({}, other.keyPair) });
    await expectError(elsewhere, 'invalid_grant');
    const tokens = await oauth.processAuthorizationCodeResponse(
      on.as,
      spa,
      await codeGrant(on, spa, await authorize(on, spa, { dpop_jkt: jkt }), { DPoP: oauth.DPoP({}, keyPair) }),
    );
    expect((await verify(on, tokens.access_token)).cnf).toEqual({ jkt });
  });

  test('every malformed proof on the code grant is 400 with the RFC 9449 error, and the code still works after', async () => {
    const web = await app(on, 'web-malformed');
    const authorized = await authorize(on, web);
    // Each proof is refused before the code is looked at, so one code serves for all of them.
    for (const { fault, proof, error } of await badProofs(on.as.token_endpoint!)) {
      const response = await codeGrant(on, web, authorized, { [oauth.customFetch]: sendingProof(proof) });
      expect([fault, response.status]).toEqual([fault, 400]);
      expect([fault, ((await response.json()) as { error: string }).error]).toEqual([fault, error]);
    }
    // Two DPoP fields (section 4.3, check 1).
    const twice = await codeGrant(on, web, authorized, { [oauth.customFetch]: sendingProof(await twoProofs(on.as.token_endpoint!)) });
    await expectError(twice, 'invalid_dpop_proof');
    const good = await codeGrant(on, web, authorized, { [oauth.customFetch]: sendingProof(await handmadeProof(on.as.token_endpoint!)) });
    expect(good.status).toBe(200);
    expect(((await good.json()) as { token_type: string }).token_type).toBe('DPoP');
  });

  test("a proof replayed on oidc-provider's grants is invalid_dpop_proof, as on Portcullis's own", async () => {
    const web = await app(on, 'web-replay');
    // Section 11.1: the same jti again, with another code. oidc-provider alone would answer
    // invalid_grant; Portcullis answers invalid_dpop_proof on every grant (src/oidc/dpop.ts).
    const codeProof = await handmadeProof(on.as.token_endpoint!);
    const [first, second] = [await authorize(on, web), await authorize(on, web)];
    const tokens = await codeGrant(on, web, first, { [oauth.customFetch]: sendingProof(codeProof) });
    expect(tokens.status).toBe(200);
    await expectError(await codeGrant(on, web, second, { [oauth.customFetch]: sendingProof(codeProof) }), 'invalid_dpop_proof');

    // The same on the refresh grant, where the refresh token is not spent by the refusal.
    const { refresh_token } = (await tokens.json()) as { refresh_token: string };
    const proof = await handmadeProof(on.as.token_endpoint!);
    const refreshed = await refreshGrant(on, web, refresh_token, { [oauth.customFetch]: sendingProof(proof) });
    expect(refreshed.status).toBe(200);
    const rotated = ((await refreshed.json()) as { refresh_token: string }).refresh_token;
    await expectError(await refreshGrant(on, web, rotated, { [oauth.customFetch]: sendingProof(proof) }), 'invalid_dpop_proof');
    const fresh = await refreshGrant(on, web, rotated, {
      [oauth.customFetch]: sendingProof(await handmadeProof(on.as.token_endpoint!)),
    });
    expect(fresh.status).toBe(200);
  });

  test('without DPOP_REQUIRE_NONCE a DPoP-Nonce is still offered, and a proof with it needs no recent iat', async () => {
    const web = await app(on, 'web-nonce');
    const tokens = await logIn(on, web);
    const { keyPair } = await proofKey();
    const first = await refreshGrant(on, web, tokens.refresh_token!, { DPoP: oauth.DPoP({}, keyPair) });
    expect(first.status).toBe(200);
    // RFC 9449 section 8.2: the next nonce, offered on a success too.
    const nonce = first.headers.get('dpop-nonce');
    expect(nonce).toBeTruthy();
    const { refresh_token } = (await first.json()) as { refresh_token: string };
    // A proof made "ten minutes ago" is refused on its iat alone (use_dpop_nonce, test/support/dpop.ts),
    // but with the server's nonce it is accepted: the nonce proves it is fresh.
    const stale = await handmadeProof(on.as.token_endpoint!, { iat: Math.floor(Date.now() / 1000) - 600, nonce });
    const second = await refreshGrant(on, web, refresh_token, { [oauth.customFetch]: sendingProof(stale) });
    expect(second.status).toBe(200);
    expect(((await second.json()) as { token_type: string }).token_type).toBe('DPoP');
  });
});

describe('DPOP_REQUIRE_NONCE=true', () => {
  let on: Stage;
  let service: Registered;
  let exchanger: Registered;
  let apiKey: string;
  beforeAll(async () => {
    on = await stage({ DPOP_REQUIRE_NONCE: 'true' });
    service = (await on.cli([
      'client',
      'create',
      '--name',
      'svc',
      '--grant',
      'client_credentials',
      '--scope',
      'orders:read',
    ])) as Registered;
    exchanger = (await on.cli([
      'client',
      'create',
      '--name',
      'xchg',
      '--public',
      '--grant',
      TOKEN_EXCHANGE,
      '--scope',
      'orders:read',
    ])) as Registered;
    const owner = await on.cli(['client', 'create', '--name', 'owner', '--grant', 'client_credentials']);
    apiKey = (
      await on.cli(['apikey', 'create', '--name', 'k', '--scope', 'orders:read', '--audience', API, '--owner-client', owner.client_id!])
    ).key!;
  });
  afterAll(() => on.running.stop());

  /**
   * Sends a token request the way RFC 9449 section 8 and oauth4webapi's documentation say to:
   * the first attempt, without a nonce, is refused with use_dpop_nonce and a DPoP-Nonce header,
   * which the handle caches; the retry carries it and succeeds.
   */
  async function withNonceRetry(send: () => Promise<Response>) {
    const first = await send();
    expect(first.status).toBe(400);
    expect(first.headers.get('dpop-nonce')).toBeTruthy();
    const refusal: unknown = await oauth.processGenericTokenEndpointResponse(on.as, { client_id: 'any' }, first).catch((error) => error);
    expect(oauth.isDPoPNonceError(refusal)).toBe(true);
    const second = await send();
    expect(second.status).toBe(200);
    const body = (await second.json()) as { token_type: string; access_token: string };
    expect(body.token_type).toBe('DPoP');
    return body;
  }

  test('the code and refresh grants: use_dpop_nonce first, then the retry with the nonce succeeds', async () => {
    const spa = await app(on, 'spa', { isPublic: true });
    const { keyPair, jkt } = await proofKey();
    const DPoP = oauth.DPoP({}, keyPair);
    const authorized = await authorize(on, spa);
    const tokens = (await withNonceRetry(() => codeGrant(on, spa, authorized, { DPoP }))) as unknown as {
      access_token: string;
      refresh_token: string;
    };
    expect((await verify(on, tokens.access_token)).cnf).toEqual({ jkt });
    // The handle has the nonce now: the refresh needs no retry while it is current.
    const refreshed = await refreshGrant(on, spa, tokens.refresh_token, { DPoP });
    expect(refreshed.status).toBe(200);
    // A new handle (a fresh start of the app) has no nonce and is asked for one again.
    const restarted = oauth.DPoP({}, keyPair);
    const { refresh_token } = (await refreshed.json()) as { refresh_token: string };
    await withNonceRetry(() => refreshGrant(on, spa, refresh_token, { DPoP: restarted }));
  });

  test('client credentials and the API-key exchange (validateDpop in our handlers) ask for the nonce too', async () => {
    const { keyPair, jkt } = await proofKey();
    // One handle per client, as an app keeps it: the nonce it caches is reused on the retry.
    const [serviceDPoP, exchangerDPoP] = [oauth.DPoP({}, keyPair), oauth.DPoP({}, keyPair)];
    const cc = await withNonceRetry(() =>
      oauth.clientCredentialsGrantRequest(
        on.as,
        service,
        oauth.ClientSecretBasic(service.client_secret!),
        { resource: API },
        {
          ...insecure,
          DPoP: serviceDPoP,
        },
      ),
    );
    expect((await verify(on, cc.access_token)).cnf).toEqual({ jkt });
    const exchanged = await withNonceRetry(() =>
      oauth.genericTokenEndpointRequest(
        on.as,
        exchanger,
        oauth.None(),
        TOKEN_EXCHANGE,
        { subject_token: apiKey, subject_token_type: API_KEY_TOKEN_TYPE, resource: API },
        { ...insecure, DPoP: exchangerDPoP },
      ),
    );
    expect((await verify(on, exchanged.access_token)).cnf).toEqual({ jkt });
  });

  test('a nonce issued by one instance is accepted by another on the same database', async () => {
    // A second Portcullis on the first one's database and HASH_PEPPER, with the same public
    // issuer, as behind a load balancer.
    const config = loadConfig(on.running.env);
    const db = openDatabase(config.databaseUrl, config);
    const second = await createServer({ config, db, logger: pino({ level: 'silent' }) });
    const httpServer = http.createServer();
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    second.attach(httpServer);
    try {
      const port = (httpServer.address() as AddressInfo).port;
      // The proof's htu stays the issuer's token endpoint; only the connection goes to the second instance.
      const toSecond: typeof fetch = (url, init) => {
        const target = new URL(url instanceof Request ? url.url : url);
        target.port = String(port);
        return fetch(target, init);
      };
      const { keyPair } = await proofKey();
      const DPoP = oauth.DPoP({}, keyPair);
      const send = (options: Options) =>
        oauth.clientCredentialsGrantRequest(
          on.as,
          service,
          oauth.ClientSecretBasic(service.client_secret!),
          { resource: API },
          {
            ...insecure,
            DPoP,
            ...options,
          },
        );
      // The first instance hands out the nonce (and refuses the proof without one)...
      const first = await send({});
      expect(first.status).toBe(400);
      const nonce = first.headers.get('dpop-nonce');
      expect(nonce).toBeTruthy();
      // ...and the second accepts a proof carrying it.
      let sent: string | null = null;
      const answer = await send({
        [oauth.customFetch]: (url, init) => {
          sent = new Headers(init?.headers).get('dpop');
          return toSecond(url, init);
        },
      });
      expect(decodeJwt(sent!).nonce).toBe(nonce);
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { token_type: string }).token_type).toBe('DPoP');
    } finally {
      await second.close();
      httpServer.close();
      await db.close();
    }
  });
});
