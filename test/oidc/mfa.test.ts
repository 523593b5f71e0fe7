// Second factors in the sign-in, over real HTTP with openid-client as the app: the second step
// after a password (an authenticator app's code computed here from the enrolled secret, a
// recovery code), replay and lockout, adding a first factor in the sign-in when one is needed
// (MFA=required, a client registered with require_mfa, a person an administrator marked),
// step-up with acr_values and max_age, MFA=off, and what the tokens say (acr, amr, auth_time in
// the ID token, the JWT access token, userinfo and introspection).
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as client from 'openid-client';
import * as OTPAuth from 'otpauth';
import type { AddressInfo } from 'node:net';
import { createJwtApi } from '../../examples/resource-server-jwt.ts';
import { CLI_ACTOR } from '../../src/audit/index.ts';
import { basicAuth, csrfFrom, formAction, pkceAuthorization, UserAgent, type Step } from '../support/browser.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const PASSWORD = 'a long enough passphrase';
const REDIRECT = 'https://app.example.com/callback';
const API = 'https://api.example.com';
const ACR_PWD = 'urn:portcullis:acr:pwd';
const ACR_MFA = 'urn:portcullis:acr:mfa';

let running: RunningServer;
let app: { client_id: string; client_secret?: string };
let strictApp: { client_id: string; client_secret?: string };
let people = 0;

const services = () => running.server.services;

/** A new person (each test its own: TOTP steps are used up as they are accepted). */
async function person(server: RunningServer = running): Promise<{ id: string; email: string }> {
  people += 1;
  const email = `person${people}@example.com`;
  const { id } = await server.server.services.users.create({ email, password: PASSWORD }, CLI_ACTOR);
  return { id, email };
}

/** The person's authenticator app, set up and confirmed; returns a code maker (offset in 30-second steps). */
async function withApp(userId: string, email: string, server: RunningServer = running) {
  const enrolment = await server.server.services.factors.totp.begin(userId, email);
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(enrolment.secret), digits: 6, period: 30, algorithm: 'SHA1' });
  const code = (offset = 0) => totp.generate({ timestamp: Date.now() + offset * 30_000 });
  const confirmed = await server.server.services.factors.totp.confirm(userId, code(-1), CLI_ACTOR);
  if (!confirmed.ok) throw new Error(`could not confirm: ${confirmed.problem}`);
  return { code, recoveryCodes: confirmed.recoveryCodes ?? [] };
}

async function appConfig(clientId: string, secret: string | undefined, base = running.url) {
  return client.discovery(new URL(base), clientId, secret, client.ClientSecretBasic(secret!), { execute: [client.allowInsecureRequests] });
}

/** The authorization request's first page (login, second factor, or enrolment). */
async function begin(agent: UserAgent, clientId: string, parameters: Record<string, string> = {}, base = running.url) {
  const config = await appConfig(clientId, clientId === strictApp.client_id ? strictApp.client_secret : app.client_secret, base);
  const request = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid', ...parameters });
  const step = await agent.follow(request.url, REDIRECT);
  return { step, request, config };
}

/** Posts a sign-in step's form (the one whose action ends with `suffix`) and follows to the next page or the app. */
async function post(agent: UserAgent, page: Step, suffix: string, fields: Record<string, string>): Promise<Step> {
  const action = formAction(page.body, suffix, page.url);
  const answer = await agent.postLogin(action, { form: { csrf: csrfFrom(page.body), ...fields } });
  if (answer.status === 303 && answer.location) return agent.follow(answer.location, REDIRECT);
  return answer;
}

/** Consent if asked, then the code exchanged by openid-client (which validates the ID token). */
async function finish(agent: UserAgent, step: Step, request: { verifier: string }, config: client.Configuration) {
  let last = step;
  if (!last.location?.startsWith(REDIRECT) && last.body.includes('/confirm"')) last = await post(agent, last, '/confirm', {});
  if (!last.location?.startsWith(REDIRECT)) throw new Error(`the sign-in stopped at ${last.status}: ${last.body.slice(0, 400)}`);
  return client.authorizationCodeGrant(config, new URL(last.location), { pkceCodeVerifier: request.verifier });
}

const isSecondFactorPage = (step: Step) => step.body.includes('/second-factor/');
const isEnrolmentPage = (step: Step) => step.body.includes('/enrol/totp');
const isPasswordPage = (step: Step) => step.body.includes('name="password"');

/** The base32 secret shown on the enrolment page (grouped by four). */
const secretOnPage = (body: string) => /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(body)![1]!.replaceAll(' ', '');

beforeAll(async () => {
  running = await startServer();
  await services().resources.create({ audience: API, scope: 'read' }, CLI_ACTOR);
  app = await services().clients.create(
    { name: 'Web app', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT], scope: 'read' },
    CLI_ACTOR,
  );
  strictApp = await services().clients.create(
    { name: 'Bank app', grant_types: ['authorization_code'], redirect_uris: [REDIRECT], require_mfa: true } as never,
    CLI_ACTOR,
  );
}, 60_000);
afterAll(() => running.stop());

describe('discovery', () => {
  test('advertises both authentication context classes and the claims that say how a person signed in', async () => {
    const metadata = (await (await fetch(`${running.url}/.well-known/openid-configuration`)).json()) as Record<string, string[]>;
    expect(metadata.acr_values_supported).toEqual([ACR_PWD, ACR_MFA]);
    expect(metadata.claims_supported).toEqual(expect.arrayContaining(['acr', 'amr', 'auth_time']));
  });
});

describe('a password alone', () => {
  test('tokens say pwd: acr, amr and auth_time in the ID token, the JWT access token, userinfo and introspection', async () => {
    const someone = await person();
    const agent = new UserAgent();
    const before = Math.floor(Date.now() / 1000);
    const { step, request, config } = await begin(agent, app.client_id, { resource: API, scope: 'openid read' });
    expect(isPasswordPage(step)).toBe(true);
    const tokens = await finish(agent, await post(agent, step, '/login', { email: someone.email, password: PASSWORD }), request, config);
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ acr: ACR_PWD, amr: ['pwd'] });
    expect(claims.auth_time).toBeGreaterThanOrEqual(before - 1);
    const access = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${running.url}/jwks`)), { audience: API });
    expect(access.payload).toMatchObject({ acr: ACR_PWD, amr: ['pwd'], auth_time: claims.auth_time });
    const introspected = await fetch(`${running.url}/token/introspection`, {
      method: 'POST',
      headers: { ...basicAuth(app.client_id, app.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.access_token }),
    });
    expect(await introspected.json()).toMatchObject({ active: true, acr: ACR_PWD, amr: ['pwd'] });
  });

  test('an opaque access token (no resource) is introspected and answered at userinfo with the same acr and amr', async () => {
    const someone = await person();
    const agent = new UserAgent();
    const { step, request, config } = await begin(agent, app.client_id);
    const tokens = await finish(agent, await post(agent, step, '/login', { email: someone.email, password: PASSWORD }), request, config);
    const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    expect(info).toMatchObject({ sub: someone.id, acr: ACR_PWD, amr: ['pwd'] });
    const introspected = await fetch(`${running.url}/token/introspection`, {
      method: 'POST',
      headers: { ...basicAuth(app.client_id, app.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.access_token }),
    });
    expect(await introspected.json()).toMatchObject({ active: true, acr: ACR_PWD, amr: ['pwd'] });
  });
});

describe('an authenticator app as the second factor', () => {
  test('after the password comes the code; a right one gives pwd+otp+mfa, and the refreshed tokens keep saying so', async () => {
    const someone = await person();
    const { code } = await withApp(someone.id, someone.email);
    const agent = new UserAgent();
    const { step, request, config } = await begin(agent, app.client_id, { scope: 'openid offline_access', prompt: 'consent' });
    const second = await post(agent, step, '/login', { email: someone.email, password: PASSWORD });
    expect(second.status).toBe(200);
    expect(isSecondFactorPage(second)).toBe(true);
    expect(isPasswordPage(second)).toBe(false);
    const tokens = await finish(agent, await post(agent, second, '/second-factor/totp', { code: code() }), request, config);
    expect(tokens.claims()).toMatchObject({ acr: ACR_MFA, amr: expect.arrayContaining(['pwd', 'otp', 'mfa']) });
    expect(tokens.refresh_token).toBeDefined();
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(decodeJwt(refreshed.id_token!)).toMatchObject({ acr: ACR_MFA, amr: expect.arrayContaining(['otp']) });
    const events = await running.db.prisma.auditEvent.findMany({ where: { type: 'login.second_factor', subject: someone.id } });
    expect(events.map((event) => event.outcome)).toEqual(['success']);
    expect(JSON.stringify(events)).not.toContain(code());
  });

  test('a wrong code, a code with letters or of the wrong length are refused on the page, never a 500; the code still works after', async () => {
    const someone = await person();
    const { code } = await withApp(someone.id, someone.email);
    const agent = new UserAgent();
    const { step, request, config } = await begin(agent, app.client_id);
    const second = await post(agent, step, '/login', { email: someone.email, password: PASSWORD });
    const right = code();
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
    const refused = await post(agent, second, '/second-factor/totp', { code: wrong });
    expect(refused.status).toBe(401);
    expect(refused.body).toContain('That code is not right');
    for (const bad of ['12345', '12a456', '1234567', '']) {
      const malformed = await post(agent, refused, '/second-factor/totp', { code: bad });
      expect(malformed.status).toBe(400);
      expect(malformed.body).toContain('six digits');
    }
    const tokens = await finish(agent, await post(agent, refused, '/second-factor/totp', { code: right }), request, config);
    expect(tokens.claims()!.acr).toBe(ACR_MFA);
    const failures = await running.db.prisma.auditEvent.findMany({
      where: { type: 'login.second_factor', subject: someone.id, outcome: 'failure' },
    });
    expect(failures.length).toBe(5);
  });

  test('a code accepted once is refused the second time, in another sign-in; a code a step ahead (clock drift) is accepted', async () => {
    const someone = await person();
    const { code } = await withApp(someone.id, someone.email);
    const used = code();
    const first = new UserAgent();
    const one = await begin(first, app.client_id);
    const firstSecond = await post(first, one.step, '/login', { email: someone.email, password: PASSWORD });
    await finish(first, await post(first, firstSecond, '/second-factor/totp', { code: used }), one.request, one.config);

    const second = new UserAgent();
    const two = await begin(second, app.client_id);
    const secondStep = await post(second, two.step, '/login', { email: someone.email, password: PASSWORD });
    const replayed = await post(second, secondStep, '/second-factor/totp', { code: used });
    expect(replayed.status).toBe(401);
    const drifted = await post(second, replayed, '/second-factor/totp', { code: code(1) });
    const tokens = await finish(second, drifted, two.request, two.config);
    expect(tokens.claims()!.amr).toEqual(expect.arrayContaining(['otp']));
  });

  test('wrong codes lock the account for the network like wrong passwords, and a right password does not buy more tries', async () => {
    const someone = await person();
    const { code } = await withApp(someone.id, someone.email);
    const agent = new UserAgent();
    const { step } = await begin(agent, app.client_id);
    let page = await post(agent, step, '/login', { email: someone.email, password: PASSWORD });
    const wrong = String((Number(code()) + 7) % 1_000_000).padStart(6, '0');
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 6; attempt += 1) {
      page = await post(agent, page, '/second-factor/totp', { code: wrong });
      statuses.push(page.status);
    }
    // The right password gave its attempt back but cleared nothing: LOGIN_MAX_FAILURES (5) wrong codes, then locked.
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    expect(page.headers.get('retry-after')).toMatch(/^\d+$/);
    // The right code is not even checked while locked, and neither is the password in a new sign-in.
    expect((await post(agent, page, '/second-factor/totp', { code: code() })).status).toBe(429);
    const again = new UserAgent();
    const fresh = await begin(again, app.client_id);
    expect((await post(again, fresh.step, '/login', { email: someone.email, password: PASSWORD })).status).toBe(429);
  });

  test('a recovery code signs in once, is mailed about and audited; the same code again is refused', async () => {
    const someone = await person();
    const { recoveryCodes } = await withApp(someone.id, someone.email);
    expect(recoveryCodes).toHaveLength(10);
    const agent = new UserAgent();
    const { step, request, config } = await begin(agent, app.client_id);
    const second = await post(agent, step, '/login', { email: someone.email, password: PASSWORD });
    expect(second.body).toContain('recovery_code');
    const tokens = await finish(
      agent,
      await post(agent, second, '/second-factor/recovery-code', { recovery_code: recoveryCodes[0]! }),
      request,
      config,
    );
    expect(tokens.claims()).toMatchObject({ acr: ACR_MFA, amr: expect.arrayContaining(['pwd', 'otp', 'mfa']) });
    expect(await running.db.prisma.auditEvent.count({ where: { type: 'mfa.recovery_code.used', subject: someone.id } })).toBe(1);
    expect(await running.db.prisma.outboxMessage.count()).toBeGreaterThan(0);

    const later = new UserAgent();
    const two = await begin(later, app.client_id);
    const again = await post(later, two.step, '/login', { email: someone.email, password: PASSWORD });
    const refused = await post(later, again, '/second-factor/recovery-code', { recovery_code: recoveryCodes[0]! });
    expect(refused.status).toBe(401);
    const malformed = await post(later, refused, '/second-factor/recovery-code', { recovery_code: 'not a code at all!' });
    expect(malformed.status).toBe(400);
  });

  test('the second step cannot be skipped: the sign-in page without the code does not reach the app, and another browser has no pending step', async () => {
    const someone = await person();
    await withApp(someone.id, someone.email);
    const agent = new UserAgent();
    const { step } = await begin(agent, app.client_id);
    const second = await post(agent, step, '/login', { email: someone.email, password: PASSWORD });
    // Resuming the authorization without the code comes back to the second step.
    const resumed = await agent.follow(second.url, REDIRECT);
    expect(isSecondFactorPage(resumed)).toBe(true);
    // The page's form, posted from a browser without this sign-in's cookie, is refused.
    const stranger = new UserAgent();
    const forged = await stranger.request(formAction(second.body, '/second-factor/totp', second.url), {
      form: { csrf: csrfFrom(second.body), code: '000000' },
    });
    expect(forged.status).toBeGreaterThanOrEqual(400);
    expect(forged.status).toBeLessThan(500);
  });
});

describe('adding a first factor in the sign-in', () => {
  test('a client registered with require_mfa leads a person without a factor through adding an app, the recovery codes once, then the app', async () => {
    const someone = await person();
    const agent = new UserAgent();
    const { step, request, config } = await begin(agent, strictApp.client_id);
    const enrol = await post(agent, step, '/login', { email: someone.email, password: PASSWORD });
    expect(isEnrolmentPage(enrol)).toBe(true);
    expect(enrol.body).toContain('<svg');
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secretOnPage(enrol.body)) });
    const wrong = await post(agent, enrol, '/enrol/totp', { code: String((Number(totp.generate()) + 1) % 1_000_000).padStart(6, '0') });
    expect(wrong.status).toBe(401);
    expect(isEnrolmentPage(wrong)).toBe(true);
    const codes = await post(agent, wrong, '/enrol/totp', { code: totp.generate() });
    expect(codes.status).toBe(200);
    const shown = [...codes.body.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((match) => match[1]);
    expect(shown).toHaveLength(10);
    // Shown once: the same page again lists none.
    const reloaded = await agent.request(codes.url);
    expect(reloaded.body).not.toContain(shown[0]!);
    const tokens = await finish(agent, await post(agent, reloaded, '/continue', {}), request, config);
    expect(tokens.claims()).toMatchObject({ acr: ACR_MFA, amr: expect.arrayContaining(['pwd', 'otp', 'mfa']) });
    expect(await services().factors.hasSecondFactor(someone.id)).toBe(true);
  });

  test('a person an administrator marked must add a factor even for an app that does not ask', async () => {
    const someone = await person();
    await running.db.prisma.user.update({ where: { id: someone.id }, data: { mfaRequired: true } });
    const agent = new UserAgent();
    const { step } = await begin(agent, app.client_id);
    expect(isEnrolmentPage(await post(agent, step, '/login', { email: someone.email, password: PASSWORD }))).toBe(true);
  });

  test('MFA=required: everyone is led through adding a factor', async () => {
    const strict = await startServer({ MFA: 'required' });
    try {
      const { id, email } = await person(strict);
      const own = await strict.server.services.clients.create(
        { name: 'App', grant_types: ['authorization_code'], redirect_uris: [REDIRECT] },
        CLI_ACTOR,
      );
      const agent = new UserAgent();
      const config = await appConfig(own.client_id, own.client_secret, strict.url);
      const request = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid' });
      const step = await agent.follow(request.url, REDIRECT);
      const enrol = await post(agent, step, '/login', { email, password: PASSWORD });
      expect(isEnrolmentPage(enrol)).toBe(true);
      const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secretOnPage(enrol.body)) });
      const codes = await post(agent, enrol, '/enrol/totp', { code: totp.generate() });
      const tokens = await finish(agent, await post(agent, codes, '/continue', {}), request, config);
      expect(tokens.claims()!.acr).toBe(ACR_MFA);
      expect(await strict.server.services.factors.hasSecondFactor(id)).toBe(true);
    } finally {
      await strict.stop();
    }
  });
});

describe('step-up', () => {
  test('acr_values asking for a second factor makes a person signed in with a password prove one, without the password again', async () => {
    const someone = await person();
    const agent = new UserAgent();
    const first = await begin(agent, app.client_id);
    const signedIn = await finish(
      agent,
      await post(agent, first.step, '/login', { email: someone.email, password: PASSWORD }),
      first.request,
      first.config,
    );
    expect(signedIn.claims()!.acr).toBe(ACR_PWD);
    // A request for the password class is answered by the session as it is.
    const same = await begin(agent, app.client_id, { acr_values: ACR_PWD });
    expect(same.step.location?.startsWith(REDIRECT)).toBe(true);
    // The person adds an app (on their account page, say); from now on they are asked for it.
    const { code } = await withApp(someone.id, someone.email);

    const stepUp = await begin(agent, app.client_id, { acr_values: ACR_MFA });
    expect(isSecondFactorPage(stepUp.step)).toBe(true);
    expect(isPasswordPage(stepUp.step)).toBe(false);
    const tokens = await finish(
      agent,
      await post(agent, stepUp.step, '/second-factor/totp', { code: code() }),
      stepUp.request,
      stepUp.config,
    );
    expect(tokens.claims()).toMatchObject({ sub: someone.id, acr: ACR_MFA, amr: expect.arrayContaining(['pwd', 'otp', 'mfa']) });
    expect(tokens.claims()!.auth_time).toBeGreaterThanOrEqual(signedIn.claims()!.auth_time!);

    // Now the session has both: the same request goes straight through.
    const after = await begin(agent, app.client_id, { acr_values: ACR_MFA });
    expect(after.step.location?.startsWith(REDIRECT)).toBe(true);
  });

  test('the claims parameter with an essential acr: the mfa class steps up; an unknown class is unmet_authentication_requirements', async () => {
    const someone = await person();
    const agent = new UserAgent();
    const first = await begin(agent, app.client_id);
    await finish(agent, await post(agent, first.step, '/login', { email: someone.email, password: PASSWORD }), first.request, first.config);
    await withApp(someone.id, someone.email);
    const essential = await begin(agent, app.client_id, {
      claims: JSON.stringify({ id_token: { acr: { essential: true, value: ACR_MFA } } }),
    });
    expect(isSecondFactorPage(essential.step)).toBe(true);
    const unknown = await begin(agent, app.client_id, {
      claims: JSON.stringify({ id_token: { acr: { essential: true, values: ['urn:other:gold'] } } }),
    });
    expect(unknown.step.location).toContain('error=unmet_authentication_requirements');
  });

  test('max_age older than the sign-in asks for the password again', async () => {
    const someone = await person();
    const agent = new UserAgent();
    const first = await begin(agent, app.client_id);
    await finish(agent, await post(agent, first.step, '/login', { email: someone.email, password: PASSWORD }), first.request, first.config);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const again = await begin(agent, app.client_id, { max_age: '0' });
    expect(isPasswordPage(again.step)).toBe(true);
    const tokens = await finish(
      agent,
      await post(agent, again.step, '/login', { email: someone.email, password: PASSWORD }),
      again.request,
      again.config,
    );
    expect(tokens.claims()!.auth_time).toBeGreaterThan(Math.floor(Date.now() / 1000) - 5);
  });
});

describe('MFA=off', () => {
  test('only the password class is advertised, nobody is asked for a factor, and a client that needs one gets unmet_authentication_requirements', async () => {
    const off = await startServer({ MFA: 'off' });
    try {
      const metadata = (await (await fetch(`${off.url}/.well-known/openid-configuration`)).json()) as Record<string, string[]>;
      expect(metadata.acr_values_supported).toEqual([ACR_PWD]);
      const { email, id } = await person(off);
      await withApp(id, email, off);
      const strict = await off.server.services.clients.create(
        { name: 'Bank', grant_types: ['authorization_code'], redirect_uris: [REDIRECT], require_mfa: true } as never,
        CLI_ACTOR,
      );
      const plain = await off.server.services.clients.create(
        { name: 'App', grant_types: ['authorization_code'], redirect_uris: [REDIRECT] },
        CLI_ACTOR,
      );
      const agent = new UserAgent();
      const config = await appConfig(plain.client_id, plain.client_secret, off.url);
      const request = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid', acr_values: ACR_MFA });
      const step = await agent.follow(request.url, REDIRECT);
      expect(step.body).not.toContain('webauthn-options');
      const tokens = await finish(agent, await post(agent, step, '/login', { email, password: PASSWORD }), request, config);
      expect(tokens.claims()).toMatchObject({ acr: ACR_PWD, amr: ['pwd'] });

      const other = new UserAgent();
      const strictConfig = await appConfig(strict.client_id, strict.client_secret, off.url);
      const strictRequest = await pkceAuthorization(strictConfig, { redirect_uri: REDIRECT, scope: 'openid' });
      const strictStep = await other.follow(strictRequest.url, REDIRECT);
      const refused = await post(other, strictStep, '/login', { email, password: PASSWORD });
      expect(refused.location).toContain('error=unmet_authentication_requirements');
    } finally {
      await off.stop();
    }
  });
});

describe('an API that needs a second factor (examples/resource-server-jwt.ts)', () => {
  test('refuses a token of a password-only sign-in with RFC 9470 insufficient_user_authentication, and takes one with a second factor', async () => {
    const api = await createJwtApi({ issuer: running.url, audience: API, routes: { '/refund': { scope: 'read', secondFactor: true } } });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    try {
      const someone = await person();
      const agent = new UserAgent();
      const first = await begin(agent, app.client_id, { resource: API, scope: 'openid read' });
      const weak = await finish(
        agent,
        await post(agent, first.step, '/login', { email: someone.email, password: PASSWORD }),
        first.request,
        first.config,
      );
      const refused = await fetch(`${base}/refund`, { headers: { authorization: `Bearer ${weak.access_token}` } });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toContain('error="insufficient_user_authentication"');
      expect(refused.headers.get('www-authenticate')).toContain(`acr_values="${ACR_MFA}"`);

      // The app does what the challenge says: the same person, asked only for the second factor.
      const { code } = await withApp(someone.id, someone.email);
      const stepUp = await begin(agent, app.client_id, { resource: API, scope: 'openid read', acr_values: ACR_MFA });
      const strong = await finish(
        agent,
        await post(agent, stepUp.step, '/second-factor/totp', { code: code() }),
        stepUp.request,
        stepUp.config,
      );
      const taken = await fetch(`${base}/refund`, { headers: { authorization: `Bearer ${strong.access_token}` } });
      expect(taken.status).toBe(200);
      expect(await taken.json()).toMatchObject({ caller: someone.id, acr: ACR_MFA });
    } finally {
      await new Promise((resolve) => api.close(resolve));
    }
  });
});
