// Apps that send people to log in, end to end: openid-client (which knows nothing of Portcullis)
// drives discovery, PKCE, the code exchange, ID token validation, userinfo, refresh, revocation
// and logout; a scripted user agent fills in the real login and consent pages.
import * as client from 'openid-client';
import { decodeProtectedHeader, jwtVerify, createRemoteJWKSet } from 'jose';
import { cli, cliJson } from '../support/cli.ts';
import { csrfFrom, formAction, signIn, UserAgent, basicAuth, logInWithCode } from '../support/browser.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const REDIRECT = 'http://127.0.0.1:8123/callback';
const AFTER_LOGOUT = 'http://127.0.0.1:8123/bye';
const API = 'https://notes.example.com';
const EMAIL = 'ada@example.com';
const PASSWORD = 'correct horse battery staple';
let running: RunningServer;
let app: { client_id: string; client_secret: string };
let config: client.Configuration;

/** The CLI against this file's server, with --json; a failure throws. */
const run = (args: string[], stdin = '') => cliJson<Record<string, string>>(args, running.env, stdin);

beforeAll(async () => {
  running = await startServer();
  await run(['user', 'create', '--email', EMAIL, '--name', 'Ada Lovelace', '--password-stdin'], PASSWORD);
  await run(['resource', 'create', '--audience', API, '--scope', 'notes:read notes:write']);
  app = (await run([
    'client',
    'create',
    '--name',
    'Notes App',
    '--grant',
    'authorization_code',
    '--grant',
    'refresh_token',
    '--redirect-uri',
    REDIRECT,
    '--post-logout-redirect-uri',
    AFTER_LOGOUT,
    '--scope',
    'notes:read',
  ])) as typeof app;
  config = await client.discovery(new URL(running.url), app.client_id, app.client_secret, undefined, {
    execute: [client.allowInsecureRequests],
  });
});
afterAll(() => running.stop());

interface Started {
  url: string;
  verifier: string;
  state: string;
  nonce: string;
}

async function authorizationRequest(parameters: Record<string, string> = {}): Promise<Started> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid profile email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    prompt: 'consent',
    ...parameters,
  });
  return { url: url.toString(), verifier, state, nonce };
}

async function logIn(agent = new UserAgent(), parameters: Record<string, string> = {}) {
  const started = await authorizationRequest(parameters);
  const step = await signIn(agent, started.url, { email: EMAIL, password: PASSWORD, redirectUri: REDIRECT });
  expect(step.location).toMatch(/^http:\/\/127\.0\.0\.1:8123\/callback\?code=/);
  const tokens = await client.authorizationCodeGrant(config, new URL(step.location!), {
    pkceCodeVerifier: started.verifier,
    expectedState: started.state,
    expectedNonce: started.nonce,
  });
  return { agent, tokens, callback: step.location!, started };
}

const userinfoStatus = async (accessToken: string) =>
  (await fetch(`${running.url}/me`, { headers: { authorization: `Bearer ${accessToken}` } })).status;

describe('authorization code with PKCE, OpenID Connect', () => {
  test('log in, consent, exchange the code: a valid ID token, userinfo, and a refresh token', async () => {
    const { tokens } = await logIn();
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: running.url, aud: app.client_id });
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('ES256');
    expect(tokens.refresh_token).toBeDefined();
    expect(tokens.expires_in).toBe(900);
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(userinfo).toMatchObject({ sub: claims.sub, email: EMAIL, name: 'Ada Lovelace' });
  });

  test('refresh rotates; a reused refresh token revokes the grant and everything from it', async () => {
    const { tokens } = await logIn();
    const first = tokens.refresh_token!;
    const second = await client.refreshTokenGrant(config, first);
    expect(second.refresh_token).toBeDefined();
    expect(second.refresh_token).not.toBe(first);
    expect(await userinfoStatus(second.access_token)).toBe(200);
    const third = await client.refreshTokenGrant(config, second.refresh_token!);

    // An attacker replays the first refresh token.
    await expect(client.refreshTokenGrant(config, first)).rejects.toMatchObject({ error: 'invalid_grant' });
    // The whole grant is gone: the newest refresh token and the access tokens stop working.
    await expect(client.refreshTokenGrant(config, third.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await userinfoStatus(third.access_token)).toBe(401);
    expect(await userinfoStatus(tokens.access_token)).toBe(401);
    const events = (await running.server.services.audit.query({ limit: 500, type: 'refresh_token.reused' })).events;
    expect(events[0]).toMatchObject({ actorId: app.client_id, outcome: 'failure' });
  });

  test('consent is remembered across browsers: a second browser signs in without being asked again', async () => {
    await logIn(new UserAgent(), { scope: 'openid', prompt: '' });
    const other = new UserAgent();
    const started = await authorizationRequest({ scope: 'openid', prompt: '' });
    const step = await signIn(other, started.url, { email: EMAIL, password: PASSWORD, redirectUri: REDIRECT, consent: false });
    expect(step.location).toMatch(/^http:\/\/127\.0\.0\.1:8123\/callback\?code=/);
  });

  test('consent is asked once and remembered; asking for more asks again', async () => {
    const agent = new UserAgent();
    await logIn(agent, { scope: 'openid email', prompt: '' });
    // Same session, same scope: straight back to the app, no page at all.
    const again = await authorizationRequest({ scope: 'openid email', prompt: '' });
    const step = await agent.follow(again.url, REDIRECT);
    expect(step.location).toMatch(/^http:\/\/127\.0\.0\.1:8123\/callback\?code=/);
    // More scope: the consent page comes back, naming only what is new.
    const more = await authorizationRequest({ scope: 'openid email profile', prompt: '' });
    const page = await agent.follow(more.url, REDIRECT);
    expect(page.status).toBe(200);
    expect(page.body).toContain('See your name');
    expect(page.body).not.toContain('See your email address');
  });

  test("with a resource the access token is an RFC 9068 JWT for that API, limited to the client's scopes", async () => {
    const { tokens } = await logIn(new UserAgent(), { resource: API, scope: 'openid notes:read notes:write' });
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${running.url}/jwks`)), {
      issuer: running.url,
      audience: API,
      typ: 'at+jwt',
    });
    expect(payload.scope).toBe('notes:read');
    expect(payload.client_id).toBe(app.client_id);
    expect(payload.sub).toBe(tokens.claims()!.sub);
  });

  test('disabling a person stops their refresh tokens at once on the instance that did it (the account cache forgets them)', async () => {
    const { tokens } = await logIn();
    const sub = tokens.claims()!.sub;
    // A first refresh puts the account in the one-second cache.
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    await running.server.services.users.setDisabled(sub, true, { type: 'admin' });
    try {
      await expect(client.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    } finally {
      await running.server.services.users.setDisabled(sub, false, { type: 'admin' });
    }
  });

  test('revocation ends a refresh token and its grant', async () => {
    const { tokens } = await logIn();
    await client.tokenRevocation(config, tokens.refresh_token!);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await userinfoStatus(tokens.access_token)).toBe(401);
  });

  test('RP-initiated logout confirms, ends the session, and returns to the registered URI', async () => {
    const { agent, tokens } = await logIn();
    const endSession = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: AFTER_LOGOUT,
      state: 'bye-1',
    });
    const page = await agent.follow(endSession.toString());
    expect(page.status).toBe(200);
    expect(page.body).toContain('Sign out?');
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.body)![1]!;
    const done = await agent.request(formAction(page.body, '/session/end/confirm', page.url), { form: { xsrf, logout: 'yes' } });
    expect(done.location).toBe(`${AFTER_LOGOUT}?state=bye-1`);
    // The session is gone: a new authorization request asks for the password again.
    const next = await authorizationRequest();
    const login = await agent.follow(next.url, REDIRECT);
    expect(login.body).toContain('name="password"');
  });

  test('a public client logs in with PKCE and no secret', async () => {
    const spa = await run(['client', 'create', '--name', 'SPA', '--public', '--grant', 'authorization_code', '--redirect-uri', REDIRECT]);
    const publicConfig = await client.discovery(new URL(running.url), spa.client_id!, undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
    const { tokens } = await logInWithCode(
      publicConfig,
      { scope: 'openid', state: 's' },
      { email: EMAIL, password: PASSWORD, redirectUri: REDIRECT },
    );
    expect(tokens.claims()!.aud).toBe(spa.client_id);
    expect(tokens.refresh_token).toBeUndefined();
  });
});

describe('bad input', () => {
  async function codeFor(parameters: Record<string, string> = {}) {
    const started = await authorizationRequest(parameters);
    const step = await signIn(new UserAgent(), started.url, { email: EMAIL, password: PASSWORD, redirectUri: REDIRECT });
    return { code: new URL(step.location!).searchParams.get('code')!, started };
  }

  async function exchange(code: string, verifier?: string) {
    return fetch(`${running.url}/token`, {
      method: 'POST',
      headers: basicAuth(app.client_id, app.client_secret),
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        ...(verifier ? { code_verifier: verifier } : {}),
      }),
    });
  }

  test('a missing code_verifier is invalid_grant', async () => {
    const { code } = await codeFor();
    const response = await exchange(code);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' });
  });

  test('a wrong code_verifier is invalid_grant', async () => {
    const { code } = await codeFor();
    const response = await exchange(code, client.randomPKCECodeVerifier());
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' });
  });

  test('an authorization request without PKCE is refused', async () => {
    const url = new URL(`${running.url}/auth`);
    url.search = new URLSearchParams({
      client_id: app.client_id,
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope: 'openid',
    }).toString();
    const step = await new UserAgent().request(url.toString());
    expect(step.location).toMatch(/error=invalid_request/);
    expect(decodeURIComponent(step.location!)).toMatch(/PKCE/);
  });

  test('a reused code is invalid_grant and revokes the tokens it issued', async () => {
    const { code, started } = await codeFor();
    const first = await exchange(code, started.verifier);
    expect(first.status).toBe(200);
    const { access_token } = (await first.json()) as { access_token: string };
    expect(await userinfoStatus(access_token)).toBe(200);
    const second = await exchange(code, started.verifier);
    expect(second.status).toBe(400);
    expect(await second.json()).toMatchObject({ error: 'invalid_grant' });
    expect(await userinfoStatus(access_token)).toBe(401);
  });

  test('a redirect URI that is not registered gets an error page, never a redirect', async () => {
    const started = await authorizationRequest({ redirect_uri: 'https://evil.example/callback' });
    const step = await new UserAgent().request(started.url);
    expect(step.status).toBe(400);
    expect(step.location).toBeUndefined();
    expect(step.body).toContain('Something went wrong');
    expect(step.body).toContain('redirect_uri');
  });

  test('an unknown client gets an error page', async () => {
    const step = await new UserAgent().request(
      `${running.url}/auth?client_id=nobody&response_type=code&redirect_uri=${encodeURIComponent(REDIRECT)}`,
    );
    expect(step.status).toBe(400);
    expect(step.body).toContain('invalid_client');
  });

  test('a wrong password and an unknown email get the same answer, and are audited', async () => {
    const answers = [];
    for (const [email, password] of [
      [EMAIL, 'wrong password'],
      ['nobody@example.com', PASSWORD],
    ]) {
      const started = await authorizationRequest();
      const step = await signIn(new UserAgent(), started.url, { email: email!, password: password!, redirectUri: REDIRECT });
      expect(step.status).toBe(401);
      // Without what was typed, the sign-in's own uid (in its form actions and links) and its passkey challenge.
      answers.push(
        step.body
          .replace(/"challenge":"[^"]*"/g, '')
          .replace(/value="[^"]*"/g, '')
          .replace(/\/interaction\/[^/"]+/g, '')
          .replace(/interaction=[^"]+/g, ''),
      );
    }
    expect(answers[0]).toBe(answers[1]);
    expect(answers[0]).toContain('That email and password do not match an account.');
    const failures = (await running.server.services.audit.query({ limit: 500, type: 'login' })).events;
    expect(failures.filter((event) => event.outcome === 'failure').length).toBeGreaterThanOrEqual(2);
  });

  test('a refused login answers with a redirect (post/redirect/get): its page says why once, and a reload sends nothing again', async () => {
    const agent = new UserAgent();
    const started = await authorizationRequest();
    const page = await agent.follow(started.url, REDIRECT);
    const action = formAction(page.body, '/login', page.url);
    const posted = await agent.request(action, { form: { csrf: csrfFrom(page.body), email: EMAIL, password: 'wrong password' } });
    expect(posted.status).toBe(303);
    expect(new URL(posted.location!).pathname).toBe(new URL(page.url).pathname);
    expect(posted.body).not.toContain('wrong password');
    const before = (await running.server.services.audit.query({ limit: 500, type: 'login' })).events.length;
    const shown = await agent.request(posted.location!);
    expect(shown.status).toBe(401);
    expect(shown.body).toContain('That email and password do not match an account.');
    // The address typed is kept, the password never.
    expect(shown.body).toContain(`value="${EMAIL}"`);
    expect(shown.body).not.toContain('wrong password');
    const reloaded = await agent.request(posted.location!);
    expect(reloaded.status).toBe(200);
    expect(reloaded.body).not.toContain('That email and password do not match an account.');
    // Neither showing nor reloading checked a password again.
    expect((await running.server.services.audit.query({ limit: 500, type: 'login' })).events.length).toBe(before);
  });

  test('a forged CSRF token is refused with 403 and no login happens', async () => {
    const agent = new UserAgent();
    const started = await authorizationRequest();
    const page = await agent.follow(started.url, REDIRECT);
    const step = await agent.postLogin(formAction(page.body, '/login', page.url), {
      form: { csrf: 'forged', email: EMAIL, password: PASSWORD },
    });
    expect(step.status).toBe(403);
    expect(step.location).toBeUndefined();
    expect(step.body).toContain('invalid_csrf_token');
    // ...nor without any token at all.
    const missing = await agent.request(formAction(page.body, '/login', page.url), { form: { email: EMAIL, password: PASSWORD } });
    expect(missing.status).toBe(403);
  });

  test('consent and cancel forms refuse a forged CSRF token', async () => {
    const agent = new UserAgent();
    const started = await authorizationRequest();
    const login = await agent.follow(started.url, REDIRECT);
    const consent = await agent.follow(formAction(login.body, '/login', login.url), REDIRECT, {
      form: { csrf: csrfFrom(login.body), email: EMAIL, password: PASSWORD },
    });
    expect(consent.body).toContain('/confirm"');
    for (const suffix of ['/confirm', '/abort']) {
      const forged = await agent.request(formAction(consent.body, suffix, consent.url), { form: { csrf: 'forged' } });
      expect(forged.status).toBe(403);
      expect(forged.location).toBeUndefined();
    }
    // Cancel with a good token goes back to the app with access_denied.
    const cancelled = await agent.follow(formAction(consent.body, '/abort', consent.url), REDIRECT, {
      form: { csrf: csrfFrom(consent.body) },
    });
    expect(cancelled.location).toMatch(/error=access_denied/);
  });

  test('broken, expired, oversized and out-of-order steps get an error page, never a 500', async () => {
    const stranger = await new UserAgent().request(`${running.url}/interaction/nope`);
    expect(stranger.status).toBe(400);
    expect(stranger.body).toContain('has expired or was already used');

    const agent = new UserAgent();
    const started = await authorizationRequest();
    const login = await agent.follow(started.url, REDIRECT);
    const uid = /\/interaction\/([^/"]+)\/login/.exec(login.body)![1]!;
    const wrongUid = await agent.request(`${running.url}/interaction/${uid}x`);
    expect(wrongUid.status).toBe(400);
    const tooEarly = await agent.request(`${running.url}/interaction/${uid}/confirm`, { form: { csrf: csrfFrom(login.body) } });
    expect(tooEarly.status).toBe(400);
    const huge = await agent.request(`${running.url}/interaction/${uid}/login`, {
      form: { csrf: csrfFrom(login.body), email: 'x'.repeat(20_000), password: 'y' },
    });
    expect(huge.status).toBe(413);
    expect(huge.body).toContain('Something went wrong');

    const consent = await agent.follow(formAction(login.body, '/login', login.url), REDIRECT, {
      form: { csrf: csrfFrom(login.body), email: EMAIL, password: PASSWORD },
    });
    const allow = formAction(consent.body, '/confirm', consent.url);
    const done = await agent.follow(allow, REDIRECT, { form: { csrf: csrfFrom(consent.body) } });
    expect(done.location).toMatch(/code=/);
    // The back button: posting Allow again after the flow finished.
    const replay = await agent.request(allow, { form: { csrf: csrfFrom(consent.body) } });
    expect(replay.status).toBe(400);
    expect(replay.body).toContain('has expired or was already used');
  });

  test('a sign-in that expired while its page was open gets the expired page (400), and no login happens', async () => {
    const agent = new UserAgent();
    const started = await authorizationRequest();
    const login = await agent.follow(started.url, REDIRECT);
    expect(login.body).toContain('name="password"');
    // The browser still holds the interaction cookie; the interaction behind it has expired.
    await running.db.prisma.providerArtifact.updateMany({
      where: { kind: 'Interaction' },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    const reload = await agent.request(login.url);
    expect(reload.status).toBe(400);
    expect(reload.body).toContain('has expired or was already used');
    const submitted = await agent.postLogin(formAction(login.body, '/login', login.url), {
      form: { csrf: csrfFrom(login.body), email: EMAIL, password: PASSWORD },
    });
    expect(submitted.status).toBe(400);
    expect(submitted.location).toBeUndefined();
    expect(submitted.body).toContain('has expired or was already used');
  });

  test('page output is escaped: a hostile email is shown as text', async () => {
    const started = await authorizationRequest();
    const step = await signIn(new UserAgent(), started.url, {
      email: '"><script>alert(1)</script>@x',
      password: 'whatever-password',
      redirectUri: REDIRECT,
    });
    expect(step.body).not.toContain('<script>alert(1)</script>');
    expect(step.body).toContain('&lt;script&gt;');
  });
});

describe('account page', () => {
  test('lists the apps a user granted and revokes one, ending its tokens', async () => {
    const { agent, tokens } = await logIn();
    const page = await agent.request(`${running.url}/account`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Notes App');
    expect(page.body).toContain(EMAIL);
    const revoke = formAction(page.body, `/account/apps/${encodeURIComponent(app.client_id)}/revoke`, page.url);
    const forged = await agent.request(revoke, { form: { csrf: 'forged' } });
    expect(forged.status).toBe(403);
    const done = await agent.request(revoke, { form: { csrf: csrfFrom(page.body) } });
    expect(done.status).toBe(303);
    expect((await agent.request(done.location!)).body).toContain('Access revoked');
    expect(await userinfoStatus(tokens.access_token)).toBe(401);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  test('pages carry a strict Content-Security-Policy and cannot be framed', async () => {
    const started = await authorizationRequest();
    const page = await new UserAgent().follow(started.url, REDIRECT);
    expect(page.status).toBe(200);
    expect(page.body).toContain('name="password"');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
  });

  test('without a session the account page starts a sign-in (test/account covers the way back)', async () => {
    const page = await new UserAgent().request(`${running.url}/account`);
    expect(page.status).toBe(303);
    expect(page.location).toMatch(new RegExp(`^${running.url}/auth\\?client_id=portcullis-account&`));
  });
});

describe('portcullis demo', () => {
  test('one command gives a newcomer a user, an app, and an authorization URL that works', async () => {
    const demo = await run(['demo']);
    expect(demo.password!.length).toBeGreaterThanOrEqual(16);
    const step = await signIn(new UserAgent(), demo.authorization_url!, {
      email: demo.email!,
      password: demo.password!,
      redirectUri: demo.redirect_uri!,
    });
    const code = new URL(step.location!).searchParams.get('code')!;
    const response = await fetch(demo.token_endpoint!, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: demo.client_id!,
        redirect_uri: demo.redirect_uri!,
        code_verifier: demo.code_verifier!,
        code,
      }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ token_type: 'Bearer', id_token: expect.any(String), refresh_token: expect.any(String) });
  });
});

test('a password hashed with older parameters is rehashed at login', async () => {
  const argon2 = (await import('argon2')).default;
  const user = await run(['user', 'create', '--email', 'old@example.com', '--password-stdin'], 'an old-fashioned password');
  const weak = await argon2.hash('an old-fashioned password', { type: argon2.argon2id, memoryCost: 4096, timeCost: 3, parallelism: 1 });
  await running.db.prisma.user.update({ where: { id: user.id! }, data: { passwordHash: weak } });
  const started = await authorizationRequest();
  const step = await signIn(new UserAgent(), started.url, {
    email: 'old@example.com',
    password: 'an old-fashioned password',
    redirectUri: REDIRECT,
  });
  expect(step.location).toMatch(/code=/);
  const stored = await running.db.prisma.user.findUniqueOrThrow({ where: { id: user.id! } });
  expect(stored.passwordHash).not.toBe(weak);
  expect(stored.passwordHash).toMatch(/m=19456/);
});

test('token lifetimes follow the configuration', async () => {
  const custom = await startServer({ ACCESS_TOKEN_TTL_SECONDS: '300', ID_TOKEN_TTL_SECONDS: '600', REFRESH_TOKEN_IDLE_SECONDS: '120' });
  try {
    await cli(['user', 'create', '--email', EMAIL, '--password-stdin', '--json'], custom.env, PASSWORD);
    const created = (
      await cli(
        [
          'client',
          'create',
          '--name',
          'Short',
          '--grant',
          'authorization_code',
          '--grant',
          'refresh_token',
          '--redirect-uri',
          REDIRECT,
          '--json',
        ],
        custom.env,
      )
    ).json<{ client_id: string; client_secret: string }>();
    const shortConfig = await client.discovery(new URL(custom.url), created.client_id, created.client_secret, undefined, {
      execute: [client.allowInsecureRequests],
    });
    const { tokens } = await logInWithCode(
      shortConfig,
      { scope: 'openid offline_access', prompt: 'consent', state: 't' },
      { email: EMAIL, password: PASSWORD, redirectUri: REDIRECT },
    );
    expect(tokens.expires_in).toBe(300);
    const idToken = tokens.claims()!;
    expect(idToken.exp - idToken.iat).toBe(600);
    const refresh = await client.tokenIntrospection(shortConfig, tokens.refresh_token!);
    expect(refresh.active).toBe(true);
    expect(refresh.exp! - refresh.iat!).toBe(120);
  } finally {
    await custom.stop();
  }
});

test('repeated failed logins lock the account for a while, with the same answer for an unknown email', async () => {
  const guarded = await startServer({ LOGIN_MAX_FAILURES: '3', LOGIN_LOCK_SECONDS: '6' });
  try {
    await cli(['user', 'create', '--email', EMAIL, '--password-stdin', '--json'], guarded.env, PASSWORD);
    const created = (
      await cli(
        ['client', 'create', '--name', 'Guarded', '--grant', 'authorization_code', '--redirect-uri', REDIRECT, '--json'],
        guarded.env,
      )
    ).json<{ client_id: string; client_secret: string }>();
    const guardedConfig = await client.discovery(new URL(guarded.url), created.client_id, created.client_secret, undefined, {
      execute: [client.allowInsecureRequests],
    });
    const attempt = async (email: string, password: string) => {
      const url = client.buildAuthorizationUrl(guardedConfig, {
        redirect_uri: REDIRECT,
        scope: 'openid',
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      });
      return signIn(new UserAgent(), url.toString(), { email, password, redirectUri: REDIRECT });
    };
    for (const email of [EMAIL, 'nobody@example.com']) {
      for (let i = 0; i < 3; i += 1) expect((await attempt(email, 'wrong password')).status).toBe(401);
      const locked = await attempt(email, PASSWORD);
      expect(locked.status).toBe(429);
      expect(Number(locked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(locked.body).toContain('Too many attempts');
    }
    // The lock passes; the right password works again.
    await new Promise((resolve) => setTimeout(resolve, 6200));
    expect((await attempt(EMAIL, PASSWORD)).location).toMatch(/code=/);
    // Blocked logins are counted per account, network and minute: one row each, with its count.
    await guarded.server.services.auditAggregates.flush();
    const blocked = (await guarded.server.services.audit.query({ limit: 500, type: 'login.blocked' })).events;
    expect(blocked.length).toBe(2);
    expect(blocked.map((event) => event.details?.count)).toEqual([1, 1]);
  } finally {
    await guarded.stop();
  }
});
