// The OpenID Foundation conformance suite's FAPI 2.0 Security Profile plan (final), with
// private_key_jwt client authentication and DPoP sender-constraining, re-implemented as tests
// named after its modules (the suite needs Docker and MongoDB, which these machines cannot get).
// The client is oauth4webapi (it knows nothing of Portcullis); hand-made requests, for what it
// refuses to send, are signed with jose. A person signs in through the real pages.
import * as oauth from 'oauth4webapi';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { cliJson } from '../support/cli.ts';
import { signIn, UserAgent } from '../support/browser.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const API = 'https://accounts.example.com';
const REDIRECT = 'https://tpp.example.com/callback';
const EMAIL = 'fapi@example.com';
const PASSWORD = 'a long enough passphrase';
const insecure = { [oauth.allowInsecureRequests]: true } as const;

let running: RunningServer;
let as: oauth.AuthorizationServer;

interface FapiClient {
  client: oauth.Client;
  auth: oauth.ClientAuth;
  privateKey: CryptoKey;
  kid: string;
}
let first: FapiClient;
let second: FapiClient;

const run = <T = Record<string, string>>(args: string[], stdin = '') => cliJson<T>(args, running.env, stdin);

/** A fapi2 client; `api` makes that API the default resource of its tokens (else they are for userinfo). */
async function fapiClient(name: string, api?: string): Promise<FapiClient> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const kid = `${name}-key`;
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const created = await run([
    'client',
    'create',
    '--name',
    name,
    '--profile',
    'fapi2',
    '--auth-method',
    'private_key_jwt',
    '--jwks',
    JSON.stringify({ keys: [jwk] }),
    '--grant',
    'authorization_code',
    '--grant',
    'refresh_token',
    '--redirect-uri',
    REDIRECT,
    '--scope',
    'accounts:read',
    ...(api ? ['--default-resource', api] : []),
  ]);
  const client = { client_id: created.client_id!, token_endpoint_auth_method: 'private_key_jwt' };
  return { client, auth: oauth.PrivateKeyJwt({ key: privateKey, kid }), privateKey, kid };
}

/** Retries once when the server asks for a DPoP nonce (RFC 9449 section 8); oauth4webapi remembers it. */
async function withNonceRetry(request: () => Promise<Response>, process: (response: Response) => Promise<unknown>) {
  try {
    return await process(await request());
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) throw error;
    return process(await request());
  }
}

interface Pushed {
  requestUri: string;
  verifier: string;
  state: string;
  dpop: oauth.DPoPHandle;
}

/** A pushed authorization request (RFC 9126) as a FAPI 2.0 client makes it: PKCE S256, DPoP, private_key_jwt. */
async function push(fapi: FapiClient, extra: Record<string, string> = {}, given?: oauth.DPoPHandle) {
  const dpop = given ?? oauth.DPoP(fapi.client, await oauth.generateKeyPair('ES256'));
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const parameters = new URLSearchParams({
    redirect_uri: REDIRECT,
    scope: 'openid offline_access accounts:read',
    response_type: 'code',
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...extra,
  });
  const result = (await withNonceRetry(
    () => oauth.pushedAuthorizationRequest(as, fapi.client, fapi.auth, parameters, { DPoP: dpop, ...insecure }),
    (response) => oauth.processPushedAuthorizationResponse(as, fapi.client, response),
  )) as oauth.PushedAuthorizationResponse;
  return { requestUri: result.request_uri, verifier, state, dpop } satisfies Pushed;
}

const authorizeUrl = (clientId: string, requestUri: string) =>
  `${as.authorization_endpoint}?${new URLSearchParams({ client_id: clientId, request_uri: requestUri })}`;

/** Sends the person through the login and consent pages with a pushed request; the redirect back. */
async function authorize(fapi: FapiClient, pushed: Pushed, agent = new UserAgent()) {
  const step = await signIn(agent, authorizeUrl(fapi.client.client_id, pushed.requestUri), {
    email: EMAIL,
    password: PASSWORD,
    redirectUri: REDIRECT,
  });
  if (!step.location?.startsWith(REDIRECT)) throw new Error(`the login stopped at ${step.status} ${step.url}: ${step.body.slice(0, 300)}`);
  return new URL(step.location);
}

async function codeGrant(fapi: FapiClient, pushed: Pushed, callback: URL, verifier = pushed.verifier) {
  const parameters = oauth.validateAuthResponse(as, fapi.client, callback, pushed.state);
  return withNonceRetry(
    () =>
      oauth.authorizationCodeGrantRequest(as, fapi.client, fapi.auth, parameters, REDIRECT, verifier, { DPoP: pushed.dpop, ...insecure }),
    (response) => oauth.processAuthorizationCodeResponse(as, fapi.client, response),
  ) as Promise<oauth.TokenEndpointResponse>;
}

/** A client assertion (RFC 7523) signed by hand, for claims oauth4webapi would never send. */
async function assertion(fapi: FapiClient, claims: Record<string, unknown>, key = fapi.privateKey) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ jti: crypto.randomUUID(), ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: fapi.kid })
    .setIssuer(fapi.client.client_id)
    .setSubject(fapi.client.client_id)
    .setAudience(as.issuer)
    .setIssuedAt((claims.iat as number | undefined) ?? now)
    .setExpirationTime((claims.exp as number | undefined) ?? now + 60)
    .sign(key);
}

/** A raw PAR request with a hand-made client assertion. */
async function rawPush(fapi: FapiClient, body: Record<string, string>, clientAssertion?: string) {
  const response = await fetch(as.pushed_authorization_request_endpoint!, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: fapi.client.client_id,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: clientAssertion ?? (await assertion(fapi, {})),
      ...body,
    }),
  });
  return { status: response.status, body: (await response.json()) as { error?: string; error_description?: string; request_uri?: string } };
}

const pkceParameters = { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };

beforeAll(async () => {
  running = await startServer();
  const issuer = new URL(running.url);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  await run(['resource', 'create', '--audience', API, '--scope', 'accounts:read']);
  await run(['user', 'create', '--email', EMAIL, '--password-stdin'], PASSWORD);
  first = await fapiClient('tpp-one', API);
  second = await fapiClient('tpp-two');
});
afterAll(() => running.stop());

describe('FAPI 2.0 Security Profile, private_key_jwt + DPoP', () => {
  test('fapi2-security-profile-final-happy-flow: PAR, login, code with PKCE, DPoP-bound tokens, an ID token, refresh', async () => {
    // OpenID Connect Core section 11: offline_access is granted only with prompt=consent.
    const pushed = await push(first, { prompt: 'consent' });
    expect(pushed.requestUri).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    const callback = await authorize(first, pushed);
    // RFC 9207: the issuer is in the authorization response (validateAuthResponse checks it).
    expect(callback.searchParams.get('iss')).toBe(as.issuer);
    const tokens = await codeGrant(first, pushed, callback);
    expect(tokens.token_type).toBe('dpop');
    expect(tokens.id_token).toBeDefined();
    const [, payload] = tokens.access_token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as { cnf?: { jkt?: string }; aud?: string };
    expect(claims.aud).toBe(API);
    expect(claims.cnf?.jkt).toEqual(expect.any(String));

    // Section 5.3.2.1: refresh tokens are not rotated. They are the confidential client's, bound
    // to its authentication (RFC 9449 section 5: not to a DPoP key), and every access token
    // from them is bound to the key of the proof that came with the refresh.
    const other = oauth.DPoP(first.client, await oauth.generateKeyPair('ES256'));
    const refreshed = (await withNonceRetry(
      () => oauth.refreshTokenGrantRequest(as, first.client, first.auth, tokens.refresh_token!, { DPoP: other, ...insecure }),
      (response) => oauth.processRefreshTokenResponse(as, first.client, response),
    )) as oauth.TokenEndpointResponse;
    expect(refreshed.token_type).toBe('dpop');
    expect(refreshed.refresh_token ?? tokens.refresh_token).toBe(tokens.refresh_token);
    const refreshedClaims = JSON.parse(Buffer.from(refreshed.access_token.split('.')[1]!, 'base64url').toString()) as {
      cnf?: { jkt?: string };
    };
    expect(refreshedClaims.cnf?.jkt).toEqual(expect.any(String));
    expect(refreshedClaims.cnf?.jkt).not.toBe(claims.cnf?.jkt);
    // Another client cannot use it.
    const stolen = await withNonceRetry(
      () => oauth.refreshTokenGrantRequest(as, second.client, second.auth, tokens.refresh_token!, { DPoP: other, ...insecure }),
      (response) => oauth.processRefreshTokenResponse(as, second.client, response),
    ).catch((error: unknown) => error);
    expect(stolen).toMatchObject({ cause: { error: 'invalid_grant' } });
  });

  test('fapi2-security-profile-final-ensure-authorization-request-without-par-fails: a plain authorization request is refused', async () => {
    const url = `${as.authorization_endpoint}?${new URLSearchParams({
      client_id: first.client.client_id,
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'openid',
      ...pkceParameters,
    })}`;
    const step = await new UserAgent().request(url);
    // Refused at the authorization endpoint, and told to the client at its (registered) redirect URI.
    const location = new URL(step.location ?? 'http://none.invalid/');
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toMatch(/pushed authorization request/i);
  });

  test('fapi2-security-profile-final-ensure-pkce-required: a pushed request without code_challenge is refused', async () => {
    const result = await rawPush(first, { redirect_uri: REDIRECT, response_type: 'code', scope: 'openid' });
    expect(result.status).toBe(400);
    expect(result.body.error).toBe('invalid_request');
    expect(result.body.error_description).toMatch(/PKCE/);
  });

  test('fapi2-security-profile-final-ensure-plain-pkce-rejected: code_challenge_method=plain is refused', async () => {
    const result = await rawPush(first, {
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'openid',
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'plain',
    });
    expect(result.status).toBe(400);
    expect(result.body.error).toBe('invalid_request');
  });

  test('fapi2-security-profile-final-incorrect-pkce-code-verifier-rejected: a wrong verifier gets invalid_grant', async () => {
    const pushed = await push(first);
    const callback = await authorize(first, pushed);
    await expect(codeGrant(first, pushed, callback, oauth.generateRandomCodeVerifier())).rejects.toMatchObject({
      cause: { error: 'invalid_grant' },
    });
  });

  test('fapi2-security-profile-final-ensure-authorization-code-is-bound-to-client: another client cannot redeem the code', async () => {
    const pushed = await push(first);
    const callback = await authorize(first, pushed);
    const parameters = oauth.validateAuthResponse(as, first.client, callback, pushed.state);
    const dpop = oauth.DPoP(second.client, await oauth.generateKeyPair('ES256'));
    const outcome = await withNonceRetry(
      () =>
        oauth.authorizationCodeGrantRequest(as, second.client, second.auth, parameters, REDIRECT, pushed.verifier, {
          DPoP: dpop,
          ...insecure,
        }),
      (response) => oauth.processAuthorizationCodeResponse(as, second.client, response),
    ).catch((error: unknown) => error);
    expect(outcome).toMatchObject({ cause: { error: 'invalid_grant' } });
  });

  test('fapi2-security-profile-final-attempt-reuse-authorization-code: a code is single use, and its tokens are revoked', async () => {
    const pushed = await push(first);
    const callback = await authorize(first, pushed);
    const tokens = await codeGrant(first, pushed, callback);
    await expect(codeGrant(first, pushed, callback)).rejects.toMatchObject({ cause: { error: 'invalid_grant' } });
    // RFC 6749 section 4.1.2: the tokens issued from a reused code are revoked.
    const introspected = await introspect(tokens.refresh_token!);
    expect(introspected.active).toBe(false);
  });

  test('fapi2-security-profile-final-ensure-expired-authorization-code-rejected: codes live 60 seconds', async () => {
    const pushed = await push(first);
    const before = Date.now();
    const callback = await authorize(first, pushed);
    // The lifetime as stored: at most 60 s from when the code was made (section 5.3.2.1).
    const row = await running.db.prisma.providerArtifact.findFirstOrThrow({
      where: { kind: 'AuthorizationCode', createdAt: { gte: new Date(before - 1000) } },
      orderBy: { createdAt: 'desc' },
    });
    expect(row.expiresAt!.getTime() - row.createdAt.getTime()).toBeLessThanOrEqual(60_000);
    // Past its lifetime (moved there rather than waited for), the code is refused.
    await running.db.prisma.providerArtifact.update({
      where: { kind_idHash: { kind: row.kind, idHash: row.idHash } },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    await expect(codeGrant(first, pushed, callback)).rejects.toMatchObject({ cause: { error: 'invalid_grant' } });
  });

  test('fapi2-security-profile-final-par-attempt-reuse-request-uri: a request_uri is single use', async () => {
    const pushed = await push(first);
    await authorize(first, pushed);
    const again = await new UserAgent().request(authorizeUrl(first.client.client_id, pushed.requestUri));
    const location = new URL(again.location ?? 'http://none.invalid/');
    // Without a valid request the redirect URI is unknown: an error page, or an error at the registered one.
    if (again.status === 400) expect(again.body).toMatch(/invalid_request_uri|request_uri/);
    else expect(location.searchParams.get('error')).toBe('invalid_request_uri');
  });

  test('fapi2-security-profile-final-par-attempt-to-use-request-uri-for-different-client: a request_uri is bound to its client', async () => {
    const pushed = await push(first);
    const step = await new UserAgent().request(authorizeUrl(second.client.client_id, pushed.requestUri));
    const location = step.location ? new URL(step.location) : undefined;
    expect(location?.searchParams.get('code') ?? null).toBeNull();
    if (location) expect(location.searchParams.get('error')).toBe('invalid_request_uri');
    else expect(step.status).toBe(400);
  });

  test('fapi2-security-profile-final-par-ensure-request-uri-in-par-fails: request_uri inside a pushed request is refused', async () => {
    const result = await rawPush(first, {
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'openid',
      request_uri: 'urn:ietf:params:oauth:request_uri:abc',
      ...pkceParameters,
    });
    expect(result.status).toBe(400);
    // OpenID Connect Core section 6.2's error for a request_uri this endpoint will not take
    // (RFC 9126 section 2.1 says only that it MUST NOT be sent).
    expect(result.body.error).toBe('request_uri_not_supported');
  });

  test('fapi2-security-profile-final-ensure-response-type-code-idtoken-fails: only response_type=code', async () => {
    for (const responseType of ['code id_token', 'token', 'id_token']) {
      const result = await rawPush(first, {
        redirect_uri: REDIRECT,
        response_type: responseType,
        scope: 'openid',
        nonce: 'n',
        ...pkceParameters,
      });
      expect(result.status).toBe(400);
      expect(['unsupported_response_type', 'invalid_request', 'unauthorized_client']).toContain(result.body.error);
    }
  });

  test('fapi2-security-profile-final-ensure-redirect-uri-in-authorization-request: a pushed request must name its redirect_uri', async () => {
    const result = await rawPush(first, { response_type: 'code', scope: 'openid', ...pkceParameters });
    expect(result.status).toBe(400);
    expect(result.body.error).toBe('invalid_request');
    expect(result.body.error_description).toMatch(/redirect_uri/);
  });

  describe('client assertions (section 5.3.2.1: iat and nbf up to 10 s ahead accepted, more than 60 s ahead refused)', () => {
    const now = () => Math.floor(Date.now() / 1000);
    const request = { redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', ...pkceParameters };

    test('fapi2-security-profile-final-ensure-client-assertion-with-iat-10s-in-future-succeeds', async () => {
      const result = await rawPush(first, request, await assertion(first, { iat: now() + 10, exp: now() + 70 }));
      expect(result.status).toBe(201);
    });

    test('fapi2-security-profile-final-ensure-client-assertion-with-nbf-10s-in-future-succeeds', async () => {
      const result = await rawPush(first, request, await assertion(first, { nbf: now() + 10, exp: now() + 70 }));
      expect(result.status).toBe(201);
    });

    test('fapi2-security-profile-final-ensure-client-assertion-with-iat-more-than-60s-in-future-fails', async () => {
      const result = await rawPush(first, request, await assertion(first, { iat: now() + 70, exp: now() + 130 }));
      expect(result.status).toBe(401);
      expect(result.body.error).toBe('invalid_client');
    });

    test('fapi2-security-profile-final-ensure-client-assertion-with-nbf-more-than-60s-in-future-fails', async () => {
      const result = await rawPush(first, request, await assertion(first, { nbf: now() + 70, exp: now() + 130 }));
      expect(result.status).toBe(401);
      expect(result.body.error).toBe('invalid_client');
    });

    test('fapi2-security-profile-final-ensure-client-assertion-with-exp-in-past-fails', async () => {
      const result = await rawPush(first, request, await assertion(first, { iat: now() - 120, exp: now() - 60 }));
      expect(result.status).toBe(401);
      expect(result.body.error).toBe('invalid_client');
    });

    test('fapi2-security-profile-final-ensure-client-assertion-with-aud-token-endpoint-fails: aud must be the issuer', async () => {
      const signed = await new SignJWT({ jti: crypto.randomUUID() })
        .setProtectedHeader({ alg: 'ES256', kid: first.kid })
        .setIssuer(first.client.client_id)
        .setSubject(first.client.client_id)
        .setAudience(as.token_endpoint!)
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(first.privateKey);
      const result = await rawPush(first, request, signed);
      expect(result.status).toBe(401);
      expect(result.body.error).toBe('invalid_client');
    });

    test('fapi2-security-profile-final-ensure-client-assertion-signed-by-another-key-fails', async () => {
      const result = await rawPush(first, request, await assertion(first, {}, second.privateKey));
      expect(result.status).toBe(401);
      expect(result.body.error).toBe('invalid_client');
    });

    test('fapi2-security-profile-final-ensure-client-assertion-replay-fails: a jti is single use', async () => {
      const signed = await assertion(first, {});
      expect((await rawPush(first, request, signed)).status).toBe(201);
      const replay = await rawPush(first, request, signed);
      expect(replay.status).toBe(401);
      expect(replay.body.error).toBe('invalid_client');
    });
  });

  describe('DPoP (section 5.3.2.2: sender-constrained tokens)', () => {
    test('fapi2-security-profile-final-ensure-token-endpoint-without-dpop-fails: a code without a proof is refused', async () => {
      const pushed = await push(first);
      const callback = await authorize(first, pushed);
      const parameters = oauth.validateAuthResponse(as, first.client, callback, pushed.state);
      const response = await oauth.authorizationCodeGrantRequest(
        as,
        first.client,
        first.auth,
        parameters,
        REDIRECT,
        pushed.verifier,
        insecure,
      );
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toBe('invalid_grant');
    });

    test('fapi2-security-profile-final-ensure-dpop-key-mismatch-with-par-fails: the code is bound to the key that pushed the request', async () => {
      const pushed = await push(first);
      const callback = await authorize(first, pushed);
      const other = { ...pushed, dpop: oauth.DPoP(first.client, await oauth.generateKeyPair('ES256')) };
      await expect(codeGrant(first, other, callback)).rejects.toMatchObject({
        cause: { error: expect.stringMatching(/invalid_grant|invalid_dpop_proof/) },
      });
    });

    test('fapi2-security-profile-final-dpop-bound-token-at-userinfo: the access token works with its proof and not as a Bearer token', async () => {
      // The second client names no API, so its access token is for userinfo (an opaque token).
      const pushed = await push(second, { scope: 'openid' });
      const callback = await authorize(second, pushed);
      const tokens = await codeGrant(second, pushed, callback);
      const userinfo = (await withNonceRetry(
        () => oauth.userInfoRequest(as, second.client, tokens.access_token, { DPoP: pushed.dpop, ...insecure }),
        (response) => oauth.processUserInfoResponse(as, second.client, oauth.skipSubjectCheck, response),
      )) as oauth.UserInfoResponse;
      expect(userinfo.sub).toEqual(expect.any(String));
      const bearer = await fetch(as.userinfo_endpoint!, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      expect(bearer.status).toBe(401);
      const wrongKey = await oauth.userInfoRequest(as, second.client, tokens.access_token, {
        DPoP: oauth.DPoP(second.client, await oauth.generateKeyPair('ES256')),
        ...insecure,
      });
      expect(wrongKey.status).toBe(401);
    });
  });
});

/** RFC 7662 introspection by a resource server (a confidential client of its own). */
let resourceServer: { client_id: string; client_secret: string } | undefined;
async function introspect(token: string): Promise<{ active: boolean }> {
  resourceServer ??= await run<{ client_id: string; client_secret: string }>([
    'client',
    'create',
    '--name',
    'rs',
    '--grant',
    'client_credentials',
  ]);
  const response = await fetch(as.introspection_endpoint!, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${resourceServer.client_id}:${resourceServer.client_secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ token }),
  });
  return (await response.json()) as { active: boolean };
}
