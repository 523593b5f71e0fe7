// Discovery (RFC 8414, OpenID Connect Discovery) advertises exactly what works: every endpoint it
// names answers, every algorithm it lists is accepted, every grant type can be given to a client
// and used, and nothing is listed that is turned off. The list of metadata names is written out
// here, so turning a feature on (or off) fails this test until it is tested and listed.
import * as oauth from 'oauth4webapi';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { supportedGrantTypes } from '../../src/clients/index.ts';
import { cli, cliJson } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';

let running: RunningServer;
let metadata: Record<string, unknown>;
const insecure = { [oauth.allowInsecureRequests]: true } as const;

const run = <T = Record<string, string>>(args: string[]) => cliJson<T>(args, running.env);

/** What discovery says with the default configuration (CLIENT_REGISTRATION=off). */
const ADVERTISED = [
  'issuer',
  'acr_values_supported',
  'authorization_endpoint',
  'token_endpoint',
  'jwks_uri',
  'userinfo_endpoint',
  'end_session_endpoint',
  'introspection_endpoint',
  'revocation_endpoint',
  'pushed_authorization_request_endpoint',
  'device_authorization_endpoint',
  'grant_types_supported',
  'response_types_supported',
  'response_modes_supported',
  'scopes_supported',
  'claims_supported',
  'claim_types_supported',
  'ui_locales_supported',
  'claims_parameter_supported',
  'subject_types_supported',
  'code_challenge_methods_supported',
  'token_endpoint_auth_methods_supported',
  'token_endpoint_auth_signing_alg_values_supported',
  'id_token_signing_alg_values_supported',
  'request_parameter_supported',
  'request_uri_parameter_supported',
  'request_object_signing_alg_values_supported',
  'introspection_signing_alg_values_supported',
  'dpop_signing_alg_values_supported',
  'authorization_response_iss_parameter_supported',
];

beforeAll(async () => {
  running = await startServer();
  metadata = (await (await fetch(`${running.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
});
afterAll(() => running.stop());

test('the metadata names are exactly the advertised list (nothing on and unlisted, nothing listed and off)', () => {
  expect(Object.keys(metadata).sort()).toEqual([...ADVERTISED].sort());
  // Off by default: dynamic registration (CLIENT_REGISTRATION), and flows Portcullis does not run.
  for (const absent of [
    'registration_endpoint',
    'backchannel_authentication_endpoint',
    'backchannel_logout_supported',
    'frontchannel_logout_supported',
  ])
    expect(metadata).not.toHaveProperty(absent);
});

test('RFC 8414 section 3: the same document at /.well-known/oauth-authorization-server', async () => {
  const oauthMetadata = (await (await fetch(`${running.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
  expect(oauthMetadata.issuer).toBe(running.url);
  expect(oauthMetadata.token_endpoint).toBe(metadata.token_endpoint);
});

test('every endpoint named answers with the method its RFC gives it (none is a 404 or a 500)', async () => {
  // GET for what a browser or a verifier fetches; POST for what a client posts to. (Authorization
  // and logout by POST would need SameSite=None cookies, so oidc-provider's enableHttpPostMethods
  // stays off and only GET is advertised by use.)
  const methods: Record<string, string> = {
    authorization_endpoint: 'GET',
    end_session_endpoint: 'GET',
    jwks_uri: 'GET',
    userinfo_endpoint: 'GET',
    token_endpoint: 'POST',
    introspection_endpoint: 'POST',
    revocation_endpoint: 'POST',
    pushed_authorization_request_endpoint: 'POST',
    device_authorization_endpoint: 'POST',
  };
  const endpoints = Object.entries(metadata).filter(([name]) => name.endsWith('_endpoint') || name === 'jwks_uri');
  expect(endpoints.map(([name]) => name).sort()).toEqual(Object.keys(methods).sort());
  for (const [name, url] of endpoints) {
    expect(String(url).startsWith(`${running.url}/`)).toBe(true);
    const method = methods[name]!;
    const response = await fetch(String(url), {
      method,
      redirect: 'manual',
      ...(method === 'POST' ? { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' } : {}),
    });
    // An empty request: the endpoint's own refusal (400, 401) or answer (200), never a dead link or a crash.
    expect(`${name} ${response.status}`).toMatch(/ (200|400|401)$/);
    // And the other method is refused as a real endpoint refuses it, not by a crash.
    if (method === 'POST') expect(`${name} ${(await fetch(String(url))).status}`).toMatch(/ 405$/);
  }
});

test('grant types: discovery lists exactly those a client can be given, and each one runs', async () => {
  expect([...(metadata.grant_types_supported as string[])].sort()).toEqual([...supportedGrantTypes].sort());
  // Each is accepted by `client create` (the device and token-exchange grants by a public client,
  // the rest as the rules pair them) and reaches its handler: not unsupported_grant_type.
  const combos: Record<string, string[]> = {
    client_credentials: ['--grant', 'client_credentials'],
    authorization_code: ['--grant', 'authorization_code', '--redirect-uri', 'https://app.example.com/cb'],
    refresh_token: ['--grant', 'authorization_code', '--grant', 'refresh_token', '--redirect-uri', 'https://app.example.com/cb'],
    'urn:ietf:params:oauth:grant-type:token-exchange': ['--grant', 'urn:ietf:params:oauth:grant-type:token-exchange'],
    'urn:ietf:params:oauth:grant-type:device_code': ['--grant', 'urn:ietf:params:oauth:grant-type:device_code'],
  };
  for (const grant of supportedGrantTypes) {
    const created = await run(['client', 'create', '--name', `grant ${grant}`, ...combos[grant]!]);
    const response = await fetch(String(metadata.token_endpoint), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${created.client_id}:${created.client_secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: grant }),
    });
    const body = (await response.json()) as { error?: string; access_token?: string };
    expect({ grant, error: body.error }).not.toEqual({ grant, error: 'unsupported_grant_type' });
    expect({ grant, error: body.error }).not.toEqual({ grant, error: 'unauthorized_client' });
    expect(response.status).toBeLessThan(500);
  }
  // And one that is not listed is refused as RFC 6749 section 5.2 says.
  const refused = await cli(['client', 'create', '--name', 'x', '--grant', 'password'], running.env);
  expect(refused.code).not.toBe(0);
});

test('response types and PKCE methods: code and S256 only', () => {
  expect(metadata.response_types_supported).toEqual(['code']);
  expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
});

test('client assertions signed with each listed algorithm authenticate a client (RFC 7523)', async () => {
  const keyOptions: Record<string, Parameters<typeof generateKeyPair>[1]> = {
    RS256: { modulusLength: 2048 },
    PS256: { modulusLength: 2048 },
  };
  for (const alg of metadata.token_endpoint_auth_signing_alg_values_supported as string[]) {
    const { publicKey, privateKey } = await generateKeyPair(alg, keyOptions[alg]);
    const jwk = { ...(await exportJWK(publicKey)), kid: `k-${alg}`, alg, use: 'sig' };
    const created = await run([
      'client',
      'create',
      '--name',
      `assertion ${alg}`,
      '--grant',
      'client_credentials',
      '--auth-method',
      'private_key_jwt',
      '--jwks',
      JSON.stringify({ keys: [jwk] }),
    ]);
    const assertion = await new SignJWT({ jti: crypto.randomUUID() })
      .setProtectedHeader({ alg, kid: jwk.kid })
      .setIssuer(created.client_id!)
      .setSubject(created.client_id!)
      .setAudience(running.url)
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(privateKey);
    const response = await fetch(String(metadata.token_endpoint), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: created.client_id!,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      }),
    });
    expect({ alg, status: response.status }).toEqual({ alg, status: 200 });
  }
});

test('DPoP proofs signed with each listed algorithm bind a token (RFC 9449)', async () => {
  const service = await run(['client', 'create', '--name', 'dpop algs', '--grant', 'client_credentials']);
  const as = await oauth.processDiscoveryResponse(new URL(running.url), await oauth.discoveryRequest(new URL(running.url), insecure));
  const client: oauth.Client = { client_id: service.client_id! };
  for (const alg of metadata.dpop_signing_alg_values_supported as string[]) {
    const DPoP = oauth.DPoP(client, await oauth.generateKeyPair(alg));
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      client,
      oauth.ClientSecretBasic(service.client_secret!),
      {},
      { DPoP, ...insecure },
    );
    const tokens = await oauth.processClientCredentialsResponse(as, client, response);
    expect({ alg, type: tokens.token_type }).toEqual({ alg, type: 'dpop' });
  }
});

test('the JWKS holds only public, asymmetric signing keys, and the ID token algorithm is the signing key’s', async () => {
  const jwks = (await (await fetch(String(metadata.jwks_uri))).json()) as { keys: Record<string, unknown>[] };
  expect(jwks.keys.length).toBeGreaterThan(0);
  for (const key of jwks.keys) {
    for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key).not.toHaveProperty(secret);
    expect(key.kty).not.toBe('oct');
  }
  expect(metadata.id_token_signing_alg_values_supported).toEqual([running.config.signingKeyAlg]);
});
