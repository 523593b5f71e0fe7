// Authorization requests pushed (RFC 9126, PAR) and signed (RFC 9101, JAR), driven by
// openid-client (which knows nothing of Portcullis) through the real login pages; what
// openid-client will not send (unsigned or foreign request objects) is made with jose.
import * as client from 'openid-client';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey } from 'jose';
import { purgeExpiredArtifacts } from '../../src/artifacts/index.ts';
import { cliJson } from '../support/cli.ts';
import { signIn, UserAgent } from '../support/browser.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const REDIRECT = 'https://app.example.com/callback';
const EMAIL = 'requests@example.com';
const PASSWORD = 'a long enough passphrase';

let running: RunningServer;
let strict: RunningServer;

const run = <T = Record<string, string>>(server: RunningServer, args: string[], stdin = '') => cliJson<T>(args, server.env, stdin);

async function discover(server: RunningServer, clientId: string, secret?: string, auth?: client.ClientAuth) {
  return client.discovery(new URL(server.url), clientId, secret, auth, { execute: [client.allowInsecureRequests] });
}

/** Walks `url` through the login and consent pages; the redirect back, or the page it stopped at. */
async function authorize(url: URL | string) {
  return signIn(new UserAgent(), url.toString(), { email: EMAIL, password: PASSWORD, redirectUri: REDIRECT });
}

/** The OAuth error of a refused authorization request: at the redirect URI, or on the error page. */
function errorOf(step: { location?: string; body: string }): string | null {
  if (step.location?.startsWith(REDIRECT)) return new URL(step.location).searchParams.get('error');
  return /invalid_request_object|invalid_request_uri|invalid_request|unauthorized_client/.exec(step.body)?.[0] ?? null;
}

async function pkce() {
  const verifier = client.randomPKCECodeVerifier();
  return { verifier, parameters: { code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' } };
}

async function users(server: RunningServer) {
  await run(server, ['user', 'create', '--email', EMAIL, '--password-stdin'], PASSWORD);
}

async function webApp(server: RunningServer, extra: string[] = []) {
  return run<{ client_id: string; client_secret: string }>(server, [
    'client',
    'create',
    '--name',
    'web',
    '--grant',
    'authorization_code',
    '--redirect-uri',
    REDIRECT,
    ...extra,
  ]);
}

interface KeyClient {
  config: client.Configuration;
  privateKey: CryptoKey;
  kid: string;
}

/** A private_key_jwt client: its keys sign its client assertions and its request objects. */
async function keyClient(server: RunningServer): Promise<KeyClient> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const kid = 'jar-key';
  const created = await run(server, [
    'client',
    'create',
    '--name',
    'signed requests',
    '--auth-method',
    'private_key_jwt',
    '--jwks',
    JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] }),
    '--grant',
    'authorization_code',
    '--redirect-uri',
    REDIRECT,
  ]);
  const config = await discover(server, created.client_id!, undefined, client.PrivateKeyJwt({ key: privateKey, kid }));
  return { config, privateKey, kid };
}

/** A pushed request made by hand, authenticated with a client assertion of `signer`'s key (claims may override). */
async function pushSigned(signer: KeyClient, body: Record<string, string>, claims: Record<string, unknown> = {}) {
  const clientId = signer.config.clientMetadata().client_id;
  const now = Math.floor(Date.now() / 1000);
  const assertion = await new SignJWT({ jti: crypto.randomUUID(), ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: signer.kid })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(running.url)
    .setIssuedAt((claims.iat as number | undefined) ?? now)
    .setExpirationTime((claims.exp as number | undefined) ?? now + 60)
    .sign(signer.privateKey);
  return fetch(`${running.url}/request`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
      ...body,
    }),
  });
}

beforeAll(async () => {
  running = await startServer();
  strict = await startServer({ REQUIRE_PAR: 'true' });
  await users(running);
  await users(strict);
});
afterAll(async () => {
  await running.stop();
  await strict.stop();
});

describe('pushed authorization requests (RFC 9126)', () => {
  test('discovery names the endpoint, and says PAR is optional unless REQUIRE_PAR=true', async () => {
    const metadata = (await (await fetch(`${running.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata.pushed_authorization_request_endpoint).toBe(`${running.url}/request`);
    // RFC 9126 section 5: absent means false.
    expect(metadata.require_pushed_authorization_requests ?? false).toBe(false);
    const strictMetadata = (await (await fetch(`${strict.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(strictMetadata.require_pushed_authorization_requests).toBe(true);
  });

  test('a confidential client pushes its request, the person signs in, the code is redeemed', async () => {
    const app = await webApp(running);
    const config = await discover(running, app.client_id, app.client_secret);
    const { verifier, parameters } = await pkce();
    const url = await client.buildAuthorizationUrlWithPAR(config, { redirect_uri: REDIRECT, scope: 'openid', ...parameters });
    // What the browser carries is only the client id and the pushed request's handle.
    expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    const step = await authorize(url);
    const tokens = await client.authorizationCodeGrant(config, new URL(step.location!), { pkceCodeVerifier: verifier });
    expect(tokens.claims()?.sub).toEqual(expect.any(String));
  });

  test('a public client may push too (no authentication, PKCE)', async () => {
    const app = await run<{ client_id: string }>(running, [
      'client',
      'create',
      '--name',
      'spa',
      '--public',
      '--grant',
      'authorization_code',
      '--redirect-uri',
      REDIRECT,
    ]);
    const config = await discover(running, app.client_id, undefined, client.None());
    const { verifier, parameters } = await pkce();
    const url = await client.buildAuthorizationUrlWithPAR(config, { redirect_uri: REDIRECT, scope: 'openid', ...parameters });
    const step = await authorize(url);
    const tokens = await client.authorizationCodeGrant(config, new URL(step.location!), { pkceCodeVerifier: verifier });
    expect(tokens.access_token).toEqual(expect.any(String));
  });

  test('a client created with --require-par cannot send a plain authorization request', async () => {
    const app = await webApp(running, ['--require-par']);
    const config = await discover(running, app.client_id, app.client_secret);
    const { parameters } = await pkce();
    const plain = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', ...parameters });
    const refused = await new UserAgent().request(plain.toString());
    expect(new URL(refused.location!).searchParams.get('error')).toBe('invalid_request');
    expect(new URL(refused.location!).searchParams.get('error_description')).toMatch(/Pushed Authorization Request must be used/);
    // Pushed, it works.
    const pushed = await client.buildAuthorizationUrlWithPAR(config, { redirect_uri: REDIRECT, scope: 'openid', ...parameters });
    expect((await authorize(pushed)).location).toMatch(/[?&]code=/);
  });

  test('REQUIRE_PAR=true: every client must push, one created without --require-par too', async () => {
    const app = await webApp(strict);
    const config = await discover(strict, app.client_id, app.client_secret);
    const { verifier, parameters } = await pkce();
    const plain = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', ...parameters });
    const refused = await new UserAgent().request(plain.toString());
    expect(new URL(refused.location!).searchParams.get('error')).toBe('invalid_request');
    const step = await authorize(
      await client.buildAuthorizationUrlWithPAR(config, { redirect_uri: REDIRECT, scope: 'openid', ...parameters }),
    );
    const tokens = await client.authorizationCodeGrant(config, new URL(step.location!), { pkceCodeVerifier: verifier });
    expect(tokens.access_token).toEqual(expect.any(String));
  });

  test('bad pushed requests get RFC 6749 errors, never a 500', async () => {
    const app = await webApp(running);
    const push = async (body: Record<string, string>, secret = app.client_secret) => {
      const response = await fetch(`${running.url}/request`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${app.client_id}:${secret}`).toString('base64')}`,
        },
        // RFC 9126 section 2.1: client_id is required here as in any authorization request.
        body: new URLSearchParams({ client_id: app.client_id, ...body }),
      });
      return { status: response.status, body: (await response.json()) as { error?: string; error_description?: string } };
    };
    const { parameters } = await pkce();
    const good = { response_type: 'code', redirect_uri: REDIRECT, scope: 'openid', ...parameters };
    // RFC 9126 section 2.3: the token endpoint's errors (RFC 6749 section 5.2), so invalid_request.
    expect(await push({ ...good, redirect_uri: 'https://evil.example.com/callback' })).toMatchObject({
      status: 400,
      body: { error: 'invalid_request', error_description: expect.stringMatching(/redirect_uri/) },
    });
    expect(await push({ ...good, request_uri: 'urn:ietf:params:oauth:request_uri:x' })).toMatchObject({
      status: 400,
      body: { error: 'request_uri_not_supported' },
    });
    expect(await push(good, 'not the secret')).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(await push({ ...good, response_type: 'token' })).toMatchObject({ status: 400 });
    expect(await push({ ...good, code_challenge_method: 'plain' })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    const unknown = await new UserAgent().request(
      `${running.url}/auth?${new URLSearchParams({ client_id: app.client_id, request_uri: 'urn:ietf:params:oauth:request_uri:nonesuch' })}`,
    );
    expect(unknown.status).toBeLessThan(500);
    expect(errorOf(unknown)).toBe('invalid_request_uri');
  });
});

test('a native app (RFC 8252) signs in with its private-use redirect URI', async () => {
  const native = 'com.example.notes:/callback';
  const app = await run<{ client_id: string }>(running, [
    'client',
    'create',
    '--name',
    'native notes',
    '--public',
    '--grant',
    'authorization_code',
    '--redirect-uri',
    native,
  ]);
  const config = await discover(running, app.client_id, undefined, client.None());
  const { verifier, parameters } = await pkce();
  const url = client.buildAuthorizationUrl(config, { redirect_uri: native, scope: 'openid', ...parameters });
  const step = await signIn(new UserAgent(), url.toString(), { email: EMAIL, password: PASSWORD, redirectUri: native });
  expect(step.location?.startsWith(`${native}?`)).toBe(true);
  const tokens = await client.authorizationCodeGrant(config, new URL(step.location!), { pkceCodeVerifier: verifier });
  expect(tokens.access_token).toEqual(expect.any(String));
});

describe('signed request objects (RFC 9101)', () => {
  test('discovery: request objects by value, signed with an asymmetric algorithm; none is not offered', async () => {
    const metadata = (await (await fetch(`${running.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata.request_parameter_supported).toBe(true);
    expect(metadata.request_object_signing_alg_values_supported).toEqual(['ES256', 'RS256', 'PS256', 'EdDSA']);
    // Only pushed requests are referenced by URI; no request_uri is ever fetched from elsewhere.
    expect(metadata.request_uri_parameter_supported).toBe(false);
  });

  test('a request object signed with the client’s registered key, by value', async () => {
    const signer = await keyClient(running);
    const { verifier, parameters } = await pkce();
    const url = await client.buildAuthorizationUrlWithJAR(
      signer.config,
      { redirect_uri: REDIRECT, scope: 'openid', ...parameters },
      { key: signer.privateKey, kid: signer.kid },
    );
    expect(url.searchParams.get('request')).toEqual(expect.any(String));
    const step = await authorize(url);
    const tokens = await client.authorizationCodeGrant(signer.config, new URL(step.location!), { pkceCodeVerifier: verifier });
    expect(tokens.access_token).toEqual(expect.any(String));
  });

  test('a signed request object inside a pushed request', async () => {
    const signer = await keyClient(running);
    const { verifier, parameters } = await pkce();
    const signed = await client.buildAuthorizationUrlWithJAR(
      signer.config,
      { redirect_uri: REDIRECT, scope: 'openid', ...parameters },
      { key: signer.privateKey, kid: signer.kid },
    );
    const url = await client.buildAuthorizationUrlWithPAR(signer.config, signed.searchParams);
    const step = await authorize(url);
    const tokens = await client.authorizationCodeGrant(signer.config, new URL(step.location!), { pkceCodeVerifier: verifier });
    expect(tokens.access_token).toEqual(expect.any(String));
  });

  describe('refused request objects', () => {
    let signer: KeyClient;
    const clientId = () => signer.config.clientMetadata().client_id;
    const claims = async () => ({
      client_id: clientId(),
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope: 'openid',
      ...(await pkce()).parameters,
    });
    const byValue = (request: string) =>
      new UserAgent().request(`${running.url}/auth?${new URLSearchParams({ client_id: clientId(), request, redirect_uri: REDIRECT })}`);
    beforeAll(async () => {
      signer = await keyClient(running);
    });

    test('unsigned (alg none)', async () => {
      const unsigned = new UnsecuredJWT(await claims())
        .setIssuer(clientId())
        .setAudience(running.url)
        .setIssuedAt()
        .setExpirationTime('5m')
        .encode();
      const step = await byValue(unsigned);
      expect(step.status).toBeLessThan(500);
      expect(errorOf(step)).toBe('invalid_request_object');
      expect(step.location ?? '').not.toMatch(/[?&]code=/);
    });

    test('signed by a key the client never registered', async () => {
      const foreign = await generateKeyPair('ES256');
      const forged = await new SignJWT(await claims())
        .setProtectedHeader({ alg: 'ES256', kid: signer.kid })
        .setIssuer(clientId())
        .setAudience(running.url)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(foreign.privateKey);
      expect(errorOf(await byValue(forged))).toBe('invalid_request_object');
    });

    test('signed with HS256 (a symmetric algorithm this server never accepts)', async () => {
      const symmetric = await new SignJWT(await claims())
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(clientId())
        .setAudience(running.url)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode('a shared secret that is long enough for HS256'));
      expect(errorOf(await byValue(symmetric))).toBe('invalid_request_object');
    });

    test('expired, or for another audience, or not a JWT', async () => {
      const sign = (jwt: SignJWT) =>
        jwt.setProtectedHeader({ alg: 'ES256', kid: signer.kid }).setIssuer(clientId()).sign(signer.privateKey);
      const expired = await sign(
        new SignJWT(await claims())
          .setAudience(running.url)
          .setIssuedAt(Math.floor(Date.now() / 1000) - 600)
          .setExpirationTime(Math.floor(Date.now() / 1000) - 300),
      );
      expect(errorOf(await byValue(expired))).toBe('invalid_request_object');
      const elsewhere = await sign(
        new SignJWT(await claims()).setAudience('https://other.example.com').setIssuedAt().setExpirationTime('5m'),
      );
      expect(errorOf(await byValue(elsewhere))).toBe('invalid_request_object');
      const garbage = await byValue('not.a.jwt');
      expect(garbage.status).toBeLessThan(500);
      expect(errorOf(garbage)).toBe('invalid_request_object');
    });

    test('pushed: an unsigned request object is refused at the PAR endpoint', async () => {
      const unsigned = new UnsecuredJWT(await claims())
        .setIssuer(clientId())
        .setAudience(running.url)
        .setIssuedAt()
        .setExpirationTime('5m')
        .encode();
      const response = await pushSigned(signer, { request: unsigned });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toBe('invalid_request_object');
    });
  });
});

test('every client, not only a fapi2 one: a client assertion whose iat is over 60 s ahead is refused, 10 s ahead accepted', async () => {
  const signer = await keyClient(running);
  const { parameters } = await pkce();
  const body = { response_type: 'code', redirect_uri: REDIRECT, scope: 'openid', ...parameters };
  const now = Math.floor(Date.now() / 1000);
  const ahead = await pushSigned(signer, body, { iat: now + 70, exp: now + 130 });
  expect(ahead.status).toBe(401);
  expect(((await ahead.json()) as { error: string }).error).toBe('invalid_client');
  expect((await pushSigned(signer, body, { iat: now + 10, exp: now + 70 })).status).toBe(201);
});

describe('stored like every other artifact (item 9)', () => {
  test('a pushed request is kept by the hash of its id, its payload sealed, and purged when it expires', async () => {
    const app = await webApp(running);
    const config = await discover(running, app.client_id, app.client_secret);
    const { parameters } = await pkce();
    const url = await client.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      state: 'state-marker-123',
      ...parameters,
    });
    const id = url.searchParams.get('request_uri')!.split(':').pop()!;
    const rows = await running.db.prisma.providerArtifact.findMany({ where: { kind: 'PushedAuthorizationRequest' } });
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.idHash).not.toContain(id);
      expect(row.payload).not.toContain(id);
      expect(row.payload).not.toContain('state-marker-123');
      expect(row.payload).not.toContain(REDIRECT);
      // RFC 9126 section 2.2: a short lifetime, 60 s (as the README says), give or take the clock's second.
      expect(row.expiresAt!.getTime() - row.createdAt.getTime()).toBeLessThanOrEqual(61_000);
    }
  });

  test('a client assertion’s jti is remembered by its hash (replay detection), and expired records are purged', async () => {
    const signer = await keyClient(running);
    const clientId = signer.config.clientMetadata().client_id;
    const jti = `jti-marker-${crypto.randomUUID()}`;
    const { parameters } = await pkce();
    const pushed = await pushSigned(signer, { response_type: 'code', redirect_uri: REDIRECT, scope: 'openid', ...parameters }, { jti });
    expect(pushed.status).toBe(201);
    const rows = await running.db.prisma.providerArtifact.findMany({ where: { kind: 'ReplayDetection' } });
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.idHash).not.toContain(jti);
      expect(row.payload).not.toContain(jti);
      expect(row.payload).not.toContain(clientId);
    }
    // Past their time (moved there), the purge removes pushed requests and replay records alike.
    await running.db.prisma.providerArtifact.updateMany({
      where: { kind: { in: ['ReplayDetection', 'PushedAuthorizationRequest'] } },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    expect(await purgeExpiredArtifacts(running.db.prisma)).toBeGreaterThan(0);
    expect(
      await running.db.prisma.providerArtifact.count({ where: { kind: { in: ['ReplayDetection', 'PushedAuthorizationRequest'] } } }),
    ).toBe(0);
  });
});
