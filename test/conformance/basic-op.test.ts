// The OpenID Foundation conformance suite's Basic OP plan (oidcc-basic-certification-test-plan,
// static client, response_type=code), re-implemented: one describe per module of the plan, named
// as the suite names it, driving the authorization code flow through real HTTP. openid-client is
// the relying party (it validates state, iss, the ID token and its signature as the suite does)
// and the scripted user agent is the person at the login and consent pages. The suite needs
// Docker and MongoDB, which this machine cannot run; these tests are how we know what it would
// say. Modules the plan skips for a server like this one say why in a test of their own.
import { createRemoteJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import * as client from 'openid-client';
import { UserAgent } from '../support/browser.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import {
  authorizationRequest,
  callbackParameters,
  completeAuthorization,
  createPerson,
  createRelyingParty,
  exchange,
  isConsentPage,
  isLoginPage,
  REDIRECT,
  submitLogin,
  type Person,
  type Started,
} from './support.ts';

let running: RunningServer;
let ada: Person;
let grace: Person;
let rp: Awaited<ReturnType<typeof createRelyingParty>>;
let postRp: Awaited<ReturnType<typeof createRelyingParty>>;
/**
 * The first exchange of oidcc-codereuse-30seconds, made at the start so that the wait overlaps the
 * other modules; by its own client, whose grant no other module revokes.
 */
let early: { rp: typeof rp; started: Started; callback: URL; accessToken: string; at: number };

/** Asks for auth_time in the ID token (OpenID Connect Core section 5.5), which is otherwise there only with max_age. */
const AUTH_TIME = JSON.stringify({ id_token: { auth_time: { essential: true } } });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  running = await startServer();
  ada = await createPerson(running, 'ada@example.com', 'Ada Lovelace');
  grace = await createPerson(running, 'grace@example.com', 'Grace Hopper');
  rp = await createRelyingParty(running);
  postRp = await createRelyingParty(running, { authMethod: 'client_secret_post' });
  const earlyRp = await createRelyingParty(running);
  const started = await authorizationRequest(earlyRp.config);
  const { callback } = await completeAuthorization(new UserAgent(), started, ada.email);
  const tokens = await exchange(earlyRp.config, callback, started);
  early = { rp: earlyRp, started, callback, accessToken: tokens.access_token, at: Date.now() };
});
afterAll(() => running.stop());

/** A browser in which Ada has signed in (and consented to `scope`), and the ID token of that sign-in. */
async function signedIn(scope = 'openid', parameters: Record<string, string> = {}) {
  const agent = new UserAgent();
  const started = await authorizationRequest(rp.config, { scope, ...parameters });
  const { callback } = await completeAuthorization(agent, started, ada.email);
  const tokens = await exchange(rp.config, callback, started);
  return { agent, tokens, claims: tokens.claims()! };
}

/** The first step an authorization request reaches: a page, or the redirect back to the client. */
const firstStop = (agent: UserAgent, started: Started) => agent.follow(started.url, REDIRECT);

const userinfoStatus = async (accessToken: string) =>
  (await fetch(`${running.url}/me`, { headers: { authorization: `Bearer ${accessToken}` } })).status;

describe('oidcc-server', () => {
  test('the code flow with client_secret_basic: a valid, signed ID token for the person, with the request nonce', async () => {
    const started = await authorizationRequest(rp.config);
    const { callback, pages } = await completeAuthorization(new UserAgent(), started, ada.email);
    // RFC 9207: the authorization response names its issuer; state comes back unchanged.
    expect(callbackParameters(callback)).toMatchObject({ iss: running.config.issuer, state: started.state });
    const tokens = await exchange(rp.config, callback, started);
    expect(pages).toContain('login');
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: running.config.issuer, aud: rp.clientId, sub: ada.id, nonce: started.nonce });
    expect(claims.exp).toBeGreaterThan(claims.iat);
  });

  test('the token response: JSON, never cached, a bearer token and an ID token signed by the JWKS (RFC 6749 section 5.1)', async () => {
    // By hand, to see the headers openid-client does not show (the suite's
    // CheckTokenEndpointCacheHeaders and CheckTokenEndpointReturnedJsonContentType).
    const started = await authorizationRequest(rp.config);
    const { callback } = await completeAuthorization(new UserAgent(), started, ada.email);
    const response = await fetch(rp.config.serverMetadata().token_endpoint!, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${rp.clientId}:${rp.clientSecret}`).toString('base64')}` },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code')!,
        redirect_uri: REDIRECT,
        code_verifier: started.verifier,
      }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json\b/);
    expect(response.headers.get('cache-control')).toMatch(/\bno-store\b/);
    const body = (await response.json()) as { token_type: string; access_token: string; id_token: string; expires_in: number };
    expect(body.token_type.toLowerCase()).toBe('bearer');
    expect(body.expires_in).toBeGreaterThan(0);
    const { payload } = await jwtVerify(body.id_token, createRemoteJWKSet(new URL(rp.config.serverMetadata().jwks_uri!)), {
      issuer: running.config.issuer,
      audience: rp.clientId,
    });
    expect(payload).toMatchObject({ sub: ada.id, nonce: started.nonce });
  });
});

describe('oidcc-response-type-missing', () => {
  test('a request without response_type gets an error, and no code', async () => {
    const started = await authorizationRequest(rp.config);
    const url = new URL(started.url);
    url.searchParams.delete('response_type');
    const step = await new UserAgent().follow(url.toString(), REDIRECT);
    // OpenID Connect Core section 3.1.2.6: the error goes to the registered redirect URI.
    expect(step.location).toBeDefined();
    const answer = callbackParameters(step.location!);
    expect(answer).toMatchObject({ error: 'invalid_request', state: started.state });
    expect(answer).not.toHaveProperty('code');
  });
});

describe('oidcc-id-token-signature', () => {
  test('the ID token is signed with an advertised algorithm by a key of the JWKS, named by kid', async () => {
    const { tokens } = await signedIn();
    const header = decodeProtectedHeader(tokens.id_token!);
    const metadata = rp.config.serverMetadata();
    expect(metadata.id_token_signing_alg_values_supported).toContain(header.alg);
    expect(typeof header.kid).toBe('string');
    const { payload, protectedHeader } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(metadata.jwks_uri!)), {
      issuer: running.config.issuer,
      audience: rp.clientId,
    });
    expect(protectedHeader.kid).toBe(header.kid);
    expect(payload.sub).toBe(ada.id);
  });
});

describe('oidcc-id-token-unsigned', () => {
  test('not applicable: alg none is never offered for ID tokens (the suite skips the module)', () => {
    expect(rp.config.serverMetadata().id_token_signing_alg_values_supported).not.toContain('none');
  });
});

describe('oidcc-userinfo-get, oidcc-userinfo-post-header, oidcc-userinfo-post-body', () => {
  let accessToken: string;
  let sub: string;
  beforeAll(async () => {
    const { tokens, claims } = await signedIn('openid profile email');
    accessToken = tokens.access_token;
    sub = claims.sub;
  });

  const expectPerson = (body: Record<string, unknown>) =>
    expect(body).toMatchObject({ sub, name: ada.name, email: ada.email, email_verified: true });

  test('oidcc-userinfo-get: GET with the Authorization header (RFC 6750 section 2.1)', async () => {
    const answer = await client.fetchUserInfo(rp.config, accessToken, sub);
    expectPerson(answer as Record<string, unknown>);
  });

  test('oidcc-userinfo-post-header: POST with the Authorization header', async () => {
    const response = await fetch(`${running.url}/me`, { method: 'POST', headers: { authorization: `Bearer ${accessToken}` } });
    expect(response.status).toBe(200);
    expectPerson((await response.json()) as Record<string, unknown>);
  });

  test('oidcc-userinfo-post-body: POST with access_token in the form body (RFC 6750 section 2.2)', async () => {
    const response = await fetch(`${running.url}/me`, { method: 'POST', body: new URLSearchParams({ access_token: accessToken }) });
    expect(response.status).toBe(200);
    expectPerson((await response.json()) as Record<string, unknown>);
  });

  test('the token in the query string is refused (RFC 6750 section 2.3; RFC 9700 section 4.3.2), as is a second mechanism', async () => {
    const query = await fetch(`${running.url}/me?access_token=${encodeURIComponent(accessToken)}`);
    expect(query.status).toBe(400);
    expect(((await query.json()) as { error: string }).error).toBe('invalid_request');
    const twice = await fetch(`${running.url}/me`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}` },
      body: new URLSearchParams({ access_token: accessToken }),
    });
    expect(twice.status).toBe(400);
  });
});

describe('oidcc-ensure-request-without-nonce-succeeds-for-code-flow', () => {
  test('nonce is optional in the code flow: the ID token then carries none (OpenID Connect Core section 3.1.2.1)', async () => {
    const started = await authorizationRequest(rp.config, { nonce: '' });
    expect(new URL(started.url).searchParams.has('nonce')).toBe(false);
    const { callback } = await completeAuthorization(new UserAgent(), started, ada.email);
    // openid-client refuses an ID token with a nonce when none was sent.
    const tokens = await exchange(rp.config, callback, started);
    expect(tokens.claims()).not.toHaveProperty('nonce');
  });
});

describe('oidcc-scope-profile, oidcc-scope-email, oidcc-scope-address, oidcc-scope-phone, oidcc-scope-all', () => {
  const claimsFor = async (scope: string) => {
    const { tokens, claims } = await signedIn(scope);
    return { userinfo: (await client.fetchUserInfo(rp.config, tokens.access_token, claims.sub)) as Record<string, unknown>, tokens };
  };

  test('oidcc-scope-profile: profile releases the name, not the email (OpenID Connect Core section 5.4)', async () => {
    const { userinfo } = await claimsFor('openid profile');
    expect(userinfo).toMatchObject({ sub: ada.id, name: ada.name });
    expect(userinfo).not.toHaveProperty('email');
  });

  test('oidcc-scope-email: email releases email and email_verified, not the name', async () => {
    const { userinfo } = await claimsFor('openid email');
    expect(userinfo).toMatchObject({ sub: ada.id, email: ada.email, email_verified: true });
    expect(userinfo).not.toHaveProperty('name');
  });

  test('oidcc-scope-address, oidcc-scope-phone: not offered, so the suite skips them; asking is no error', async () => {
    const scopes = rp.config.serverMetadata().scopes_supported!;
    expect(scopes).not.toContain('address');
    expect(scopes).not.toContain('phone');
  });

  test('oidcc-scope-all: every scope at once (unsupported ones ignored), every supported claim released', async () => {
    const { userinfo, tokens } = await claimsFor('openid profile email address phone');
    expect(userinfo).toMatchObject({ sub: ada.id, name: ada.name, email: ada.email });
    expect(userinfo).not.toHaveProperty('address');
    expect(userinfo).not.toHaveProperty('phone_number');
    expect(tokens.scope?.split(' ').sort()).toEqual(['email', 'openid', 'profile']);
  });
});

describe('oidcc-ensure-other-scope-order-succeeds', () => {
  test('scopes in another order mean the same (RFC 6749 section 3.3: the order does not matter)', async () => {
    const { tokens, claims } = await signedIn('email openid');
    expect(claims.sub).toBe(ada.id);
    const userinfo = await client.fetchUserInfo(rp.config, tokens.access_token, claims.sub);
    expect(userinfo).toMatchObject({ email: ada.email });
  });
});

describe('oidcc-display-page, oidcc-display-popup', () => {
  test.each(['page', 'popup'])('display=%s: the login page is shown and the flow completes', async (display) => {
    const started = await authorizationRequest(rp.config, { display });
    const { callback, pages } = await completeAuthorization(new UserAgent(), started, ada.email);
    expect(pages[0]).toBe('login');
    expect((await exchange(rp.config, callback, started)).claims()!.sub).toBe(ada.id);
  });
});

describe('oidcc-prompt-login', () => {
  test('prompt=login shows the login page again though the browser is signed in; auth_time moves on', async () => {
    const { agent, claims: first } = await signedIn('openid', { claims: AUTH_TIME });
    // Without prompt the session is used: no page at all.
    const plain = await firstStop(agent, await authorizationRequest(rp.config));
    expect(plain.location).toMatch(/^http:\/\/127\.0\.0\.1:8123\/callback\?code=/);
    await sleep(1100); // auth_time is in seconds
    const started = await authorizationRequest(rp.config, { prompt: 'login', claims: AUTH_TIME });
    const { callback, pages } = await completeAuthorization(agent, started, ada.email);
    expect(pages).toEqual(['login']);
    const second = (await exchange(rp.config, callback, started)).claims()!;
    expect(second.sub).toBe(first.sub);
    expect(second.auth_time!).toBeGreaterThan(first.auth_time!);
  });
});

describe('oidcc-prompt-none-not-logged-in', () => {
  test('prompt=none without a session: login_required at the redirect URI, with state (OpenID Connect Core section 3.1.2.6)', async () => {
    const started = await authorizationRequest(rp.config, { prompt: 'none' });
    const step = await firstStop(new UserAgent(), started);
    expect(step.location?.startsWith(REDIRECT)).toBe(true);
    const answer = callbackParameters(step.location!);
    expect(answer).toMatchObject({ error: 'login_required', state: started.state, iss: running.config.issuer });
    expect(answer).not.toHaveProperty('code');
  });
});

describe('oidcc-prompt-none-logged-in', () => {
  test('prompt=none with a session: a code at once, no page, for the same person', async () => {
    const { agent, claims: first } = await signedIn('openid', { claims: AUTH_TIME });
    const started = await authorizationRequest(rp.config, { prompt: 'none', claims: AUTH_TIME });
    const step = await firstStop(agent, started);
    expect(step.location).toMatch(/^http:\/\/127\.0\.0\.1:8123\/callback\?code=/);
    const second = (await exchange(rp.config, new URL(step.location!), started)).claims()!;
    expect(second.sub).toBe(first.sub);
    expect(second.auth_time).toBe(first.auth_time);
  });
});

describe('oidcc-max-age-1', () => {
  test('max_age=1 two seconds after signing in: the login page again, and a later auth_time (OpenID Connect Core section 3.1.2.1)', async () => {
    const { agent, claims: first } = await signedIn('openid', { claims: AUTH_TIME });
    await sleep(2100);
    const started = await authorizationRequest(rp.config, { max_age: '1' });
    const { callback, pages } = await completeAuthorization(agent, started, ada.email);
    expect(pages).toEqual(['login']);
    // openid-client checks auth_time is present and no older than max_age.
    const second = (await exchange(rp.config, callback, started, { maxAge: 1 })).claims()!;
    expect(second.auth_time!).toBeGreaterThan(first.auth_time!);
  });
});

describe('oidcc-max-age-10000', () => {
  test('max_age=10000 after a recent sign-in: no page, and the ID token carries the first auth_time', async () => {
    const { agent, claims: first } = await signedIn('openid', { claims: AUTH_TIME });
    const started = await authorizationRequest(rp.config, { max_age: '10000' });
    const step = await firstStop(agent, started);
    expect(step.location).toMatch(/^http:\/\/127\.0\.0\.1:8123\/callback\?code=/);
    const second = (await exchange(rp.config, new URL(step.location!), started, { maxAge: 10000 })).claims()!;
    expect(second.auth_time).toBe(first.auth_time);
  });
});

describe('oidcc-ensure-request-with-unknown-parameter-succeeds', () => {
  test('an unknown parameter is ignored (OpenID Connect Core section 3.1.2.1; RFC 6749 section 3.1)', async () => {
    const started = await authorizationRequest(rp.config, { extra: 'foobar', 'x-unknown': '1' });
    const { callback } = await completeAuthorization(new UserAgent(), started, ada.email);
    expect((await exchange(rp.config, callback, started)).claims()!.sub).toBe(ada.id);
  });
});

describe('oidcc-id-token-hint', () => {
  test("prompt=none with the first sign-in's ID token as id_token_hint: a code at once, the same sub", async () => {
    const { agent, tokens, claims: first } = await signedIn('openid', { claims: AUTH_TIME });
    const started = await authorizationRequest(rp.config, { prompt: 'none', id_token_hint: tokens.id_token!, claims: AUTH_TIME });
    const step = await firstStop(agent, started);
    expect(step.location).toMatch(/^http:\/\/127\.0\.0\.1:8123\/callback\?code=/);
    const second = (await exchange(rp.config, new URL(step.location!), started)).claims()!;
    expect(second.sub).toBe(first.sub);
    expect(second.auth_time).toBe(first.auth_time);
  });

  test('an id_token_hint naming another person than the signed-in one: login_required with prompt=none', async () => {
    const { agent } = await signedIn();
    const other = await authorizationRequest(rp.config);
    const { callback } = await completeAuthorization(new UserAgent(), other, grace.email);
    const graceToken = (await exchange(rp.config, callback, other)).id_token!;
    const started = await authorizationRequest(rp.config, { prompt: 'none', id_token_hint: graceToken });
    const step = await firstStop(agent, started);
    expect(callbackParameters(step.location!)).toMatchObject({ error: 'login_required', state: started.state });
  });

  test('an id_token_hint this server did not sign is refused, and no code is issued', async () => {
    const { agent } = await signedIn();
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const foreign = await new SignJWT({ sub: ada.id })
      .setProtectedHeader({ alg: 'ES256', kid: (await exportJWK(publicKey)).x!.slice(0, 8) })
      .setIssuer(running.config.issuer)
      .setAudience(rp.clientId)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const started = await authorizationRequest(rp.config, { prompt: 'none', id_token_hint: foreign });
    const step = await firstStop(agent, started);
    const answer = callbackParameters(step.location!);
    expect(answer).toMatchObject({ error: 'invalid_request', state: started.state });
    expect(answer).not.toHaveProperty('code');
  });
});

describe('oidcc-login-hint', () => {
  test('login_hint fills in the email on the login page (OpenID Connect Core section 3.1.2.1)', async () => {
    const started = await authorizationRequest(rp.config, { login_hint: 'grace@example.com' });
    const page = await firstStop(new UserAgent(), started);
    expect(isLoginPage(page)).toBe(true);
    expect(page.body).toMatch(/<input id="email" name="email"[^>]*value="grace@example\.com"/);
  });

  test('the hint is text in an attribute: escaped, and an over-long one is not shown', async () => {
    const hostile = await firstStop(new UserAgent(), await authorizationRequest(rp.config, { login_hint: '"><script>x</script>' }));
    expect(hostile.body).not.toContain('<script>x');
    expect(hostile.body).toContain('value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"');
    const long = await firstStop(new UserAgent(), await authorizationRequest(rp.config, { login_hint: `${'a'.repeat(400)}@example.com` }));
    expect(long.body).toMatch(/<input id="email" name="email"[^>]*value=""/);
  });
});

describe('oidcc-ui-locales', () => {
  test('ui_locales is no error; the pages are in the first shipped language asked for, and say so in their lang', async () => {
    // OpenID Connect Core section 3.1.2.1: an unsupported locale must not cause an error.
    const swedish = await authorizationRequest(rp.config, { ui_locales: 'se' });
    const page = await firstStop(new UserAgent(), swedish);
    expect(isLoginPage(page)).toBe(true);
    expect(page.body).toContain('<html lang="en">');
    const british = await firstStop(new UserAgent(), await authorizationRequest(rp.config, { ui_locales: 'fr-CA en-GB de' }));
    expect(british.body).toContain('<html lang="en">');
    const austrian = await firstStop(new UserAgent(), await authorizationRequest(rp.config, { ui_locales: 'fr-CA de-AT en' }));
    expect(austrian.body).toContain('<html lang="de">');
    const { callback } = await completeAuthorization(new UserAgent(), swedish, ada.email);
    expect((await exchange(rp.config, callback, swedish)).claims()!.sub).toBe(ada.id);
  });
});

describe('oidcc-claims-locales', () => {
  test('claims_locales is no error (OpenID Connect Core section 5.2)', async () => {
    const started = await authorizationRequest(rp.config, { claims_locales: 'se' });
    const { callback } = await completeAuthorization(new UserAgent(), started, ada.email);
    expect((await exchange(rp.config, callback, started)).claims()!.sub).toBe(ada.id);
  });
});

describe('oidcc-ensure-request-with-acr-values-succeeds', () => {
  test('acr_values is a voluntary request: no error (OpenID Connect Core section 3.1.2.1)', async () => {
    const started = await authorizationRequest(rp.config, { acr_values: '1 2' });
    const { callback } = await completeAuthorization(new UserAgent(), started, ada.email);
    expect((await exchange(rp.config, callback, started)).claims()!.sub).toBe(ada.id);
  });
});

describe('oidcc-codereuse', () => {
  test('a code used twice: invalid_grant, and the tokens of its first use are revoked (RFC 6749 section 4.1.2)', async () => {
    const started = await authorizationRequest(rp.config);
    const { callback } = await completeAuthorization(new UserAgent(), started, ada.email);
    const tokens = await exchange(rp.config, callback, started);
    expect(await userinfoStatus(tokens.access_token)).toBe(200);
    await expect(exchange(rp.config, callback, started)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await userinfoStatus(tokens.access_token)).toBe(401);
  });
});

describe('oidcc-ensure-registered-redirect-uri', () => {
  test('an unregistered redirect_uri: an error page here, and no redirect anywhere (OpenID Connect Core section 3.1.2.1)', async () => {
    const started = await authorizationRequest(rp.config, { redirect_uri: 'https://attacker.example/callback' });
    const step = await new UserAgent().request(started.url);
    expect(step.status).toBe(400);
    expect(step.location).toBeUndefined();
    expect(step.headers.get('content-type')).toMatch(/^text\/html/);
    expect(step.body).toContain('redirect_uri');
    // A registered one with something added is just as unregistered (exact match).
    const added = await new UserAgent().request((await authorizationRequest(rp.config, { redirect_uri: `${REDIRECT}?x=1` })).url);
    expect(added.status).toBe(400);
    expect(added.location).toBeUndefined();
  });
});

describe('oidcc-ensure-redirect-uri-in-authorization-request', () => {
  test('no redirect_uri in an OpenID request: an error page, though the client registered only one', async () => {
    const started = await authorizationRequest(rp.config);
    const url = new URL(started.url);
    url.searchParams.delete('redirect_uri');
    const step = await new UserAgent().request(url.toString());
    expect(step.location).toBeUndefined();
    expect(step.status).toBe(400);
  });
});

describe('oidcc-ensure-post-request-succeeds', () => {
  test('KNOWN GAP: the authorization request as a form POST is refused (OpenID Connect Core section 3.1.2.1 asks for it)', async () => {
    // oidc-provider serves POST /auth only with enableHttpPostMethods, which requires the session
    // cookie to be SameSite=None: sent on every cross-site request, and (browsers require Secure
    // with None) lost over plain http on localhost. Portcullis keeps SameSite=Lax and GET only;
    // the suite would fail this module. The same request by GET succeeds.
    const started = await authorizationRequest(rp.config);
    const url = new URL(started.url);
    const posted = await new UserAgent().request(`${url.origin}${url.pathname}`, { form: Object.fromEntries(url.searchParams) });
    expect(posted.status).toBeGreaterThanOrEqual(400);
    expect(posted.location).toBeUndefined();
    const { callback } = await completeAuthorization(new UserAgent(), started, ada.email);
    expect((await exchange(rp.config, callback, started)).claims()!.sub).toBe(ada.id);
  });
});

describe('oidcc-server-client-secret-post', () => {
  test('the code flow with client_secret_post (RFC 6749 section 2.3.1)', async () => {
    expect(postRp.config.clientMetadata().token_endpoint_auth_method).toBe('client_secret_post');
    const started = await authorizationRequest(postRp.config);
    const { callback } = await completeAuthorization(new UserAgent(), started, ada.email);
    const tokens = await exchange(postRp.config, callback, started);
    expect(tokens.claims()).toMatchObject({ aud: postRp.clientId, sub: ada.id });
  });
});

describe('oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported', () => {
  test('request_uri is not supported, as discovery says: request_uri_not_supported (OpenID Connect Core section 3.1.2.6)', async () => {
    expect(rp.config.serverMetadata().request_uri_parameter_supported).toBe(false);
    const started = await authorizationRequest(rp.config, { request_uri: 'https://rp.example/request.jwt' });
    const step = await firstStop(new UserAgent(), started);
    const answer = callbackParameters(step.location!);
    expect(answer).toMatchObject({ error: 'request_uri_not_supported', state: started.state });
    expect(answer).not.toHaveProperty('code');
  });
});

describe('oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported', () => {
  test('an unsigned request object (alg none) is refused, never obeyed; none is not advertised, so the suite skips', async () => {
    expect(rp.config.serverMetadata().request_object_signing_alg_values_supported).not.toContain('none');
    const started = await authorizationRequest(rp.config);
    const url = new URL(started.url);
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const claims = { ...Object.fromEntries(url.searchParams), iss: rp.clientId, aud: running.config.issuer, scope: 'openid email' };
    const request = `${encode({ alg: 'none' })}.${encode(claims)}.`;
    const step = await firstStop(new UserAgent(), {
      ...started,
      url: `${url.origin}${url.pathname}?${new URLSearchParams({ client_id: rp.clientId, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT, state: started.state, request })}`,
    });
    const answer = callbackParameters(step.location!);
    expect(answer.error).toMatch(/^(invalid_request_object|request_not_supported)$/);
    expect(answer).not.toHaveProperty('code');
  });
});

describe('oidcc-ensure-request-object-with-redirect-uri', () => {
  test('not applicable: the suite runs it only when unsigned request objects are accepted (see the module above)', () => {
    expect(rp.config.serverMetadata().request_object_signing_alg_values_supported).not.toContain('none');
  });
});

describe('oidcc-claims-essential', () => {
  test('claims={"id_token":{"email":{"essential":true}}} with scope openid: the consent page says so, and the ID token carries the email', async () => {
    // A person who has not yet shared anything but `openid` with a fresh app.
    const app = await createRelyingParty(running);
    const claims = JSON.stringify({ id_token: { email: { essential: true } } });
    const started = await authorizationRequest(app.config, { claims });
    const agent = new UserAgent();
    const loginPage = await firstStop(agent, started);
    const consentPage = await submitLogin(agent, loginPage, grace.email);
    expect(isConsentPage(consentPage)).toBe(true);
    expect(consentPage.body).toContain('See your email address');
    const { callback } = await completeAuthorization(agent, started, grace.email);
    const idToken = (await exchange(app.config, callback, started)).claims()!;
    expect(idToken).toMatchObject({ sub: grace.id, email: grace.email });
    expect(idToken).not.toHaveProperty('name');
  });

  test('claims={"userinfo":{"name":{"essential":true}}}: the name at userinfo, as the suite asks (OpenID Connect Core section 5.5)', async () => {
    const app = await createRelyingParty(running);
    const started = await authorizationRequest(app.config, { claims: JSON.stringify({ userinfo: { name: { essential: true } } }) });
    const { callback, pages } = await completeAuthorization(new UserAgent(), started, grace.email);
    expect(pages).toEqual(['login', 'consent']);
    const tokens = await exchange(app.config, callback, started);
    const userinfo = await client.fetchUserInfo(app.config, tokens.access_token, grace.id);
    expect(userinfo).toMatchObject({ sub: grace.id, name: grace.name });
    expect(userinfo).not.toHaveProperty('email');
    expect(tokens.claims()).not.toHaveProperty('name');
  });
});

describe('oidcc-refresh-token', () => {
  test('refresh with offline_access: new tokens for the same person, rotated; the old refresh token refused (RFC 6749 section 6)', async () => {
    const started = await authorizationRequest(rp.config, { scope: 'openid offline_access', prompt: 'consent' });
    const { callback } = await completeAuthorization(new UserAgent(), started, ada.email);
    const tokens = await exchange(rp.config, callback, started);
    const first = tokens.refresh_token!;
    expect(first).toBeDefined();
    const refreshed = await client.refreshTokenGrant(rp.config, first);
    // OpenID Connect Core section 12.2: an ID token from a refresh names the same iss, sub, aud.
    expect(refreshed.claims()).toMatchObject({ iss: running.config.issuer, sub: ada.id, aud: rp.clientId });
    expect(refreshed.claims()!.auth_time).toBe(tokens.claims()!.auth_time);
    expect(refreshed.refresh_token).toBeDefined();
    expect(refreshed.refresh_token).not.toBe(first);
    expect(await userinfoStatus(refreshed.access_token)).toBe(200);
    // The used one is refused, and (RFC 9700 section 4.14.2) its reuse revokes the grant.
    await expect(client.refreshTokenGrant(rp.config, first)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(client.refreshTokenGrant(rp.config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  test('a refresh token belongs to its client: another client presenting it gets invalid_grant', async () => {
    const started = await authorizationRequest(rp.config, { scope: 'openid offline_access', prompt: 'consent' });
    const { callback } = await completeAuthorization(new UserAgent(), started, ada.email);
    const { refresh_token } = await exchange(rp.config, callback, started);
    await expect(client.refreshTokenGrant(postRp.config, refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});

describe('oidcc-ensure-request-with-valid-pkce-succeeds', () => {
  test('PKCE S256 succeeds, and the code with a wrong verifier is refused (RFC 7636 section 4.6)', async () => {
    const started = await authorizationRequest(rp.config);
    expect(new URL(started.url).searchParams.get('code_challenge_method')).toBe('S256');
    const { callback } = await completeAuthorization(new UserAgent(), started, ada.email);
    await expect(exchange(rp.config, callback, { ...started, verifier: client.randomPKCECodeVerifier() })).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    const again = await authorizationRequest(rp.config);
    const second = await completeAuthorization(new UserAgent(), again, ada.email);
    expect((await exchange(rp.config, second.callback, again)).claims()!.sub).toBe(ada.id);
  });
});

// Last: its first exchange was made in beforeAll, so most of the 30 seconds have passed by now.
describe('oidcc-codereuse-30seconds', () => {
  test('a code used again 30 seconds later: invalid_grant, and the tokens of its first use are revoked', async () => {
    expect(await userinfoStatus(early.accessToken)).toBe(200);
    await sleep(Math.max(0, early.at + 30_500 - Date.now()));
    expect(Date.now() - early.at).toBeGreaterThanOrEqual(30_000);
    await expect(exchange(early.rp.config, early.callback, early.started)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await userinfoStatus(early.accessToken)).toBe(401);
  }, 60_000);
});
