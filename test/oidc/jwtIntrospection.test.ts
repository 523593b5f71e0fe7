// RFC 9701: introspection answers as signed JWTs, for a resource server that asks with
// `Accept: application/token-introspection+jwt`, whoever makes the answer: oidc-provider (opaque
// tokens), Portcullis's JWT introspection, its API-key introspection, and the inactive answer.
// The client is oauth4webapi (requestJwtResponse; processIntrospectionResponse checks typ, iss,
// aud, iat and the algorithm against discovery; validateApplicationLevelSignature the signature
// against the JWKS); jose checks the same JWT independently.
import * as oauth from 'oauth4webapi';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { cliJson } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { signIn, UserAgent } from '../support/browser.ts';

const API = 'https://orders.example.com';
const REDIRECT = 'http://127.0.0.1:8130/callback';
const PERSON = { email: 'lin@example.com', password: 'a long passphrase' };
const JWT_RESPONSE = 'application/token-introspection+jwt';
const insecure = { [oauth.allowInsecureRequests]: true } as const;

type Registered = { client_id: string; client_secret: string };
let running: RunningServer;
let as: oauth.AuthorizationServer;
/** The resource server: a confidential client that introspects. */
let api: Registered;
/** A service that gets tokens with client credentials. */
let service: Registered;

const run = (args: string[], stdin = '') => cliJson<Record<string, string>>(args, running.env, stdin);

beforeAll(async () => {
  running = await startServer();
  const issuer = new URL(running.url);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  await run(['resource', 'create', '--audience', API, '--scope', 'orders:read']);
  api = (await run(['client', 'create', '--name', 'orders-api', '--grant', 'client_credentials'])) as Registered;
  service = (await run(['client', 'create', '--name', 'svc', '--grant', 'client_credentials', '--scope', 'orders:read'])) as Registered;
});
afterAll(() => running.stop());

/** Introspects `token` as `client`, asking for the JWT answer; returns the response and its verified answer. */
async function introspectJwt(token: string, client: Registered = api) {
  const response = await oauth.introspectionRequest(as, client, oauth.ClientSecretBasic(client.client_secret), token, {
    ...insecure,
    requestJwtResponse: true,
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')?.startsWith(JWT_RESPONSE)).toBe(true);
  const jwt = await response.clone().text();
  const answer = await oauth.processIntrospectionResponse(as, client, response);
  await oauth.validateApplicationLevelSignature(as, response, insecure);
  return { jwt, answer };
}

/** The same question with a plain JSON answer (RFC 7662). */
async function introspectJson(token: string, client: Registered = api) {
  const response = await oauth.introspectionRequest(as, client, oauth.ClientSecretBasic(client.client_secret), token, insecure);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return oauth.processIntrospectionResponse(as, client, response);
}

/** jose's own reading of the JWT, against the JWKS: RFC 9701 section 5's claims. */
async function verified(jwt: string, client: Registered = api) {
  const { payload, protectedHeader } = await jwtVerify(jwt, createRemoteJWKSet(new URL(as.jwks_uri!)), {
    issuer: as.issuer,
    audience: client.client_id,
    typ: 'token-introspection+jwt',
    requiredClaims: ['iat'],
  });
  return { payload, protectedHeader };
}

async function clientCredentials(parameters: Record<string, string>) {
  const response = await oauth.clientCredentialsGrantRequest(
    as,
    service,
    oauth.ClientSecretBasic(service.client_secret),
    parameters,
    insecure,
  );
  return (await oauth.processClientCredentialsResponse(as, service, response)).access_token;
}

test('discovery lists the one algorithm that signs, the key is in the JWKS', async () => {
  const jwks = (await (await fetch(as.jwks_uri!)).json()) as { keys: { alg: string; kid: string }[] };
  expect(as.introspection_signing_alg_values_supported).toEqual([...new Set(jwks.keys.map((key) => key.alg))]);
  const { jwt } = await introspectJwt(await clientCredentials({ resource: API }));
  const header = decodeProtectedHeader(jwt);
  expect(jwks.keys.map((key) => key.kid)).toContain(header.kid);
  expect(as.introspection_signing_alg_values_supported).toContain(header.alg);
});

test("a JWT access token (Portcullis's own answer) in JWT form: the same answer as JSON, signed", async () => {
  const token = await clientCredentials({ resource: API });
  const { jwt, answer } = await introspectJwt(token);
  expect(answer).toMatchObject({ active: true, token_type: 'Bearer', aud: API, client_id: service.client_id, scope: 'orders:read' });
  expect(answer).toEqual(await introspectJson(token));
  const { payload } = await verified(jwt);
  expect(payload).toMatchObject({ iss: as.issuer, aud: api.client_id, token_introspection: answer });
});

test("an opaque access token (oidc-provider's answer) in JWT form", async () => {
  const token = await clientCredentials({});
  const { jwt, answer } = await introspectJwt(token);
  expect(answer).toMatchObject({ active: true, token_type: 'Bearer', client_id: service.client_id });
  expect(answer).toEqual(await introspectJson(token));
  expect((await verified(jwt)).payload.token_introspection).toEqual(answer);
});

test('an opaque refresh token, introspected by the client it was issued to, in JWT form', async () => {
  await run(['user', 'create', '--email', PERSON.email, '--password-stdin'], PERSON.password);
  const web = (await run([
    'client',
    'create',
    '--name',
    'web',
    '--grant',
    'authorization_code',
    '--grant',
    'refresh_token',
    '--redirect-uri',
    REDIRECT,
    '--scope',
    'orders:read',
  ])) as Registered;
  const verifier = oauth.generateRandomCodeVerifier();
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({
    client_id: web.client_id,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid offline_access orders:read',
    prompt: 'consent',
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  }).toString();
  const step = await signIn(new UserAgent(), url.href, { ...PERSON, redirectUri: REDIRECT });
  const callback = oauth.validateAuthResponse(as, web, new URL(step.location!), oauth.expectNoState);
  const auth = oauth.ClientSecretBasic(web.client_secret);
  const tokens = await oauth.processAuthorizationCodeResponse(
    as,
    web,
    await oauth.authorizationCodeGrantRequest(as, web, auth, callback, REDIRECT, verifier, insecure),
  );
  const { jwt, answer } = await introspectJwt(tokens.refresh_token!, web);
  expect(answer).toMatchObject({ active: true, client_id: web.client_id, scope: expect.stringContaining('offline_access') });
  expect(answer.token_type).toBeUndefined();
  const { payload } = await verified(jwt, web);
  expect(payload).toMatchObject({ aud: web.client_id, token_introspection: answer });
});

test('an API key in JWT form', async () => {
  const key = await run(['apikey', 'create', '--name', 'export', '--scope', 'orders:read', '--audience', API]);
  const { jwt, answer } = await introspectJwt(key.key!);
  expect(answer).toMatchObject({ active: true, token_type: 'api_key', aud: API, scope: 'orders:read', api_key_id: key.id });
  expect((await verified(jwt)).payload.token_introspection).toEqual(answer);
});

test('an inactive token: a signed { active: false }', async () => {
  for (const token of ['not-a-token', `${await clientCredentials({ resource: API })}x`]) {
    const { jwt, answer } = await introspectJwt(token);
    expect(answer).toEqual({ active: false });
    expect((await verified(jwt)).payload.token_introspection).toEqual({ active: false });
  }
});

test('a failed client authentication stays a JSON error (RFC 9701 section 4)', async () => {
  const response = await oauth.introspectionRequest(as, api, oauth.ClientSecretBasic('wrong'), 'anything', {
    ...insecure,
    requestJwtResponse: true,
  });
  expect(response.status).toBe(401);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(await response.json()).toMatchObject({ error: 'invalid_client' });
});

test('with SIGNING_KEY_ALG=RS256 the answer is signed RS256, and discovery says so', async () => {
  const rsa = await startServer({ SIGNING_KEY_ALG: 'RS256' });
  try {
    const issuer = new URL(rsa.url);
    const rsaAs = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
    expect(rsaAs.introspection_signing_alg_values_supported).toEqual(['RS256']);
    const resourceServer = (await cliJson<Record<string, string>>(
      ['client', 'create', '--name', 'rs', '--grant', 'client_credentials'],
      rsa.env,
    )) as Registered;
    const response = await oauth.introspectionRequest(
      rsaAs,
      resourceServer,
      oauth.ClientSecretBasic(resourceServer.client_secret),
      'not-a-token',
      { ...insecure, requestJwtResponse: true },
    );
    const jwt = await response.clone().text();
    expect(await oauth.processIntrospectionResponse(rsaAs, resourceServer, response)).toEqual({ active: false });
    await oauth.validateApplicationLevelSignature(rsaAs, response, insecure);
    expect(decodeProtectedHeader(jwt)).toMatchObject({ alg: 'RS256', typ: 'token-introspection+jwt' });
  } finally {
    await rsa.stop();
  }
});
