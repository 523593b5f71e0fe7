// Signing in through a connection, over real HTTP end to end: the server under test (in-process)
// sends the person to an upstream that is a second Portcullis (its own `portcullis serve` process
// and database, test/support/upstream.ts), the person signs in on the upstream's real pages, and
// the app gets a code from the server under test whose sub is a local account. Also: the account
// found again, linking to an existing account by its password, connection=NAME, the upstream's
// refusal, a wrong or replayed callback, an upstream that is down or never answers, a connection
// that makes no accounts, an OAuth 2.0 connection through the upstream's userinfo, and a sign-in
// begun on one instance and finished on another.
import crypto from 'node:crypto';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import * as OTPAuth from 'otpauth';
import { CLI_ACTOR } from '../../src/audit/index.ts';
import { adminCaller } from '../support/admin.ts';
import { csrfFrom, formAction, pkceAuthorization, UserAgent, type Step } from '../support/browser.ts';
import { startSecondInstance, startServer, type RunningServer } from '../support/server.ts';
import { signInUpstream, startUpstream, startWithUpstream, type Upstream } from '../support/upstream.ts';

const UPSTREAM_PASSWORD = 'the upstream passphrase';
const LOCAL_PASSWORD = 'a long enough local passphrase';
const REDIRECT = 'https://app.example.com/callback';

let upstream: Upstream;
let running: RunningServer;
let app: { client_id: string; client_secret?: string };
let people = 0;
/** The server under test's log lines: a failed step shows the latest warnings (the upstream's problem). */
const logs: string[] = [];

/** What a page says, without its markup (for a failure's message). */
const pageText = (body: string) =>
  (/<main[^>]*>([\s\S]*?)<\/main>/.exec(body)?.[1] ?? body)
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 400);
const recentWarnings = () =>
  logs
    .filter((line) => /"level":(40|50|60)|federation|upstream/i.test(line))
    .slice(-3)
    .join('\n');

const prisma = () => running.db.prisma;

/** A new person at the upstream (each test its own, so a first sign-in is a first one). */
async function upstreamPerson(name = 'Up Stream'): Promise<{ email: string; sub: string }> {
  people += 1;
  const email = `federated${people}@example.com`;
  return { email, sub: await upstream.createUser(email, UPSTREAM_PASSWORD, name) };
}

/** Every upstream client secret a connection here was given (none may be readable anywhere but upstream). */
const upstreamSecrets: string[] = [];

/** A connection to the upstream named `name`, with a client registered upstream for its callback. */
async function connect(server: RunningServer, name: string, extra: Record<string, unknown> = {}) {
  const registered = await upstream.createClient(`${server.url}/federation/${name}/callback`, `Downstream ${name}`);
  upstreamSecrets.push(registered.secret);
  return server.server.services.federation.connections.create(
    {
      name,
      type: 'oidc',
      display_name: 'Upstream',
      issuer: upstream.url,
      client_id: registered.clientId,
      client_secret: registered.secret,
      // The upstream's people are made by its administrator (verified), and it says so in email_verified.
      trust_email_verified: true,
      ...extra,
    } as never,
    CLI_ACTOR,
  );
}

async function appConfig(base = running.url, theApp = app) {
  return client.discovery(new URL(base), theApp.client_id, theApp.client_secret, client.ClientSecretBasic(theApp.client_secret!), {
    execute: [client.allowInsecureRequests],
  });
}

/** The app's authorization request (PKCE) and the first page it reaches, or the redirect to the upstream. */
async function begin(agent: UserAgent, parameters: Record<string, string> = {}, base = running.url, theApp = app) {
  const config = await appConfig(base, theApp);
  const request = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid email', ...parameters });
  const step = await agent.follow(request.url, upstream.url);
  return { step, request, config };
}

/** The login page's form for connection `name`, posted: the answer should send the agent upstream. */
async function choose(agent: UserAgent, page: Step, name = 'up'): Promise<Step> {
  return agent.request(formAction(page.body, `/federation/${name}`, page.url), { form: { csrf: csrfFrom(page.body) } });
}

/** Follows on from the upstream's answer at the server under test (until a page or the app). */
const comeBack = (agent: UserAgent, fromUpstream: Step): Promise<Step> => agent.follow(fromUpstream.location!, REDIRECT);

/** Consent on the server under test if it asks, then the code exchanged by openid-client (which validates the ID token). */
async function finish(agent: UserAgent, step: Step, request: { verifier: string }, config: client.Configuration) {
  let last = step;
  if (!last.location?.startsWith(REDIRECT) && last.status === 200 && last.body.includes('/confirm"'))
    last = await agent.follow(formAction(last.body, '/confirm', last.url), REDIRECT, { form: { csrf: csrfFrom(last.body) } });
  if (!last.location?.startsWith(REDIRECT)) {
    const failure = await prisma().auditEvent.findFirst({ where: { outcome: 'failure' }, orderBy: { at: 'desc' } });
    throw new Error(
      `the sign-in stopped at ${last.status} ${last.url}: ${pageText(last.body)}\nlast failure: ${JSON.stringify(failure)}\n${recentWarnings()}`,
    );
  }
  return client.authorizationCodeGrant(config, new URL(last.location), { pkceCodeVerifier: request.verifier });
}

/** The whole sign-in through `connection` with a fresh agent: login page, its button, the upstream, back, the code. */
async function signInThrough(someone: { email: string }, connection = 'up') {
  const agent = new UserAgent();
  const { step, request, config } = await begin(agent);
  const fromUpstream = await signInUpstream(agent, upstream, await choose(agent, step, connection), {
    email: someone.email,
    password: UPSTREAM_PASSWORD,
  });
  const back = await comeBack(agent, fromUpstream);
  return { agent, tokens: await finish(agent, back, request, config), fromUpstream };
}

/** The error page an answer ends on, with its status. */
const isErrorPage = (step: Step) => !step.location && !step.body.includes('name="password"');

beforeAll(async () => {
  [upstream, running] = await startWithUpstream(startServer({ LOG_LEVEL: 'info' }, { logs }));
  await connect(running, 'up');
  app = await running.server.services.clients.create(
    { name: 'Web app', grant_types: ['authorization_code'], redirect_uris: [REDIRECT] },
    CLI_ACTOR,
  );
}, 120_000);
afterAll(async () => {
  await Promise.allSettled([running?.stop(), upstream?.stop()]);
}, 60_000);

describe('a first sign-in through an OpenID Connect upstream', () => {
  test('the button goes upstream; back with a code whose sub is a new local account without a password, amr fed, linked and audited', async () => {
    const someone = await upstreamPerson('Ada Upstream');
    const agent = new UserAgent();
    const { step, request, config } = await begin(agent);
    expect(step.status).toBe(200);
    const form = /<form[^>]*action="\/interaction\/[^"]+\/federation\/up"[^>]*>([\s\S]*?)<\/form>/.exec(step.body);
    expect(form).not.toBeNull();
    expect(/<button[^>]*>([\s\S]*?)<\/button>/.exec(form![1]!)?.[1]).toContain('Upstream');

    const toUpstream = await choose(agent, step);
    expect(toUpstream.status).toBe(303);
    const authorization = new URL(toUpstream.location!);
    expect(`${authorization.origin}${authorization.pathname}`).toBe(`${upstream.url}/auth`);
    const connection = await running.server.services.federation.connections.get('up');
    expect(Object.fromEntries(authorization.searchParams)).toMatchObject({
      client_id: connection.client_id,
      redirect_uri: `${running.url}/federation/up/callback`,
      response_type: 'code',
      code_challenge_method: 'S256',
    });
    expect(authorization.searchParams.get('state')).toBeTruthy();
    expect(authorization.searchParams.get('nonce')).toBeTruthy();

    const fromUpstream = await signInUpstream(agent, upstream, toUpstream, { email: someone.email, password: UPSTREAM_PASSWORD });
    expect(fromUpstream.location!.startsWith(`${running.url}/federation/up/callback?`)).toBe(true);
    expect(new URL(fromUpstream.location!).searchParams.get('code')).toBeTruthy();
    const tokens = await finish(agent, await comeBack(agent, fromUpstream), request, config);
    const claims = tokens.claims()!;
    expect(claims.amr).toContain('fed');
    expect(claims.sub).not.toBe(someone.sub);

    const user = await prisma().user.findUnique({ where: { id: claims.sub } });
    expect(user).toMatchObject({ email: someone.email, passwordHash: null, name: 'Ada Upstream' });
    const identities = await prisma().federatedIdentity.findMany({ where: { userId: claims.sub } });
    expect(identities).toEqual([expect.objectContaining({ connectionId: connection.id, subject: someone.sub, email: someone.email })]);
    const logins = await prisma().auditEvent.findMany({ where: { type: 'login' } });
    const login = logins.find((event) => event.actorId === claims.sub || event.subject === claims.sub);
    expect(login?.details).toMatchObject({ method: 'federation', connection: 'up' });
    expect(login?.outcome).toBe('success');
  });

  test('a second sign-in of the same upstream person finds the same account (one User row, one link)', async () => {
    const someone = await upstreamPerson();
    const first = await signInThrough(someone);
    const second = await signInThrough(someone);
    expect(second.tokens.claims()!.sub).toBe(first.tokens.claims()!.sub);
    expect(await prisma().user.count({ where: { email: someone.email } })).toBe(1);
    expect(await prisma().federatedIdentity.count({ where: { userId: first.tokens.claims()!.sub } })).toBe(1);
  });

  test('an account made through the connection has no password: a password sign-in with its email is refused', async () => {
    const someone = await upstreamPerson();
    await signInThrough(someone);
    for (const password of [UPSTREAM_PASSWORD, 'anything at all, long enough']) {
      const agent = new UserAgent();
      const { step } = await begin(agent);
      const answer = await agent.postLogin(formAction(step.body, '/login', step.url), {
        form: { csrf: csrfFrom(step.body), email: someone.email, password },
      });
      expect(answer.status).toBe(401);
      expect(answer.location?.startsWith(REDIRECT)).not.toBe(true);
    }
  });

  test('login_hint is passed on to the upstream', async () => {
    const agent = new UserAgent();
    const config = await appConfig();
    const request = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid', login_hint: 'hinted@example.com' });
    const page = await agent.follow(request.url, upstream.url);
    const toUpstream = await choose(agent, page);
    expect(new URL(toUpstream.location!).searchParams.get('login_hint')).toBe('hinted@example.com');
  });

  test('connection=up as an authorization parameter goes straight to the upstream, without the login page', async () => {
    const someone = await upstreamPerson();
    const agent = new UserAgent();
    const config = await appConfig();
    const request = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid', connection: 'up' });
    const atAuthorization = await agent.request(request.url);
    expect(atAuthorization.status).toBe(303);
    expect(new URL(atAuthorization.location!).pathname).toMatch(/^\/interaction\/[^/]+$/);
    const atInteraction = await agent.request(atAuthorization.location!);
    expect(atInteraction.status).toBe(303);
    expect(atInteraction.location!.startsWith(`${upstream.url}/auth?`)).toBe(true);
    const fromUpstream = await signInUpstream(agent, upstream, atInteraction, { email: someone.email, password: UPSTREAM_PASSWORD });
    const tokens = await finish(agent, await comeBack(agent, fromUpstream), request, config);
    expect(tokens.claims()!.amr).toContain('fed');
  });
});

describe('the upstream tokens, kept only when the connection asks (store_tokens)', () => {
  test('kept sealed, handed to an administrator (audited) and accepted by the upstream; not kept otherwise (404)', async () => {
    await connect(running, 'keep', { display_name: 'Keeping upstream', store_tokens: true });
    const admin = await adminCaller(running, 'admin:write');
    const tokensOf = (userId: string, identityId: string) =>
      fetch(`${running.url}/admin/users/${userId}/identities/${identityId}/tokens`, {
        headers: { authorization: `Bearer ${admin.token}` },
      });

    const someone = await upstreamPerson();
    const { tokens } = await signInThrough(someone, 'keep');
    const userId = tokens.claims()!.sub;
    const [identity] = await prisma().federatedIdentity.findMany({ where: { userId } });
    expect(identity!.tokens).toBeTruthy();
    const answer = await tokensOf(userId, identity!.id);
    expect(answer.status).toBe(200);
    const kept = (await answer.json()) as { access_token: string };
    expect(kept.access_token).toBeTruthy();
    // Sealed at rest: neither the token nor the JSON around it is readable in the column.
    expect(identity!.tokens).not.toContain(kept.access_token);
    expect(identity!.tokens).not.toContain('access_token');
    // The real thing: the upstream answers its userinfo for it, about the same person.
    const info = await fetch(`${upstream.url}/me`, { headers: { authorization: `Bearer ${kept.access_token}` } });
    expect(info.status).toBe(200);
    expect(((await info.json()) as { sub: string }).sub).toBe(someone.sub);
    const reads = await prisma().auditEvent.findMany({ where: { type: 'identity.tokens_read' } });
    expect(reads.some((event) => event.subject === userId || JSON.stringify(event.details).includes(identity!.id))).toBe(true);
    expect(JSON.stringify(reads)).not.toContain(kept.access_token);

    const other = await upstreamPerson();
    const { tokens: plain } = await signInThrough(other, 'up');
    const [notKept] = await prisma().federatedIdentity.findMany({ where: { userId: plain.claims()!.sub } });
    expect(notKept!.tokens).toBeNull();
    expect((await tokensOf(plain.claims()!.sub, notKept!.id)).status).toBe(404);
  });
});

describe('a second factor of the local account', () => {
  test('an upstream sign-in to an account with an authenticator app still asks for its code: amr fed and otp, acr mfa', async () => {
    const someone = await upstreamPerson();
    const { tokens: first } = await signInThrough(someone);
    const userId = first.claims()!.sub;
    const factors = running.server.services.factors;
    const enrolment = await factors.totp.begin(userId, someone.email);
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(enrolment.secret), digits: 6, period: 30, algorithm: 'SHA1' });
    const confirmed = await factors.totp.confirm(userId, totp.generate({ timestamp: Date.now() - 30_000 }), CLI_ACTOR);
    expect(confirmed.ok).toBe(true);

    const agent = new UserAgent();
    const { step, request, config } = await begin(agent);
    const fromUpstream = await signInUpstream(agent, upstream, await choose(agent, step), {
      email: someone.email,
      password: UPSTREAM_PASSWORD,
    });
    const second = await comeBack(agent, fromUpstream);
    expect(second.status).toBe(200);
    expect(second.body).toContain('/second-factor/totp"');
    expect(second.location).toBeUndefined();
    const wrong = await agent.postLogin(formAction(second.body, '/second-factor/totp', second.url), {
      form: { csrf: csrfFrom(second.body), code: totp.generate({ timestamp: Date.now() - 3600_000 }) },
    });
    expect(wrong.location?.startsWith(REDIRECT)).not.toBe(true);
    const page = wrong.body.includes('/second-factor/totp"') ? wrong : second;
    const right = await agent.request(formAction(page.body, '/second-factor/totp', page.url), {
      form: { csrf: csrfFrom(page.body), code: totp.generate() },
    });
    const tokens = await finish(agent, right.location ? await agent.follow(right.location, REDIRECT) : right, request, config);
    const claims = tokens.claims()!;
    expect(claims.sub).toBe(userId);
    expect(claims.amr).toEqual(expect.arrayContaining(['fed', 'otp']));
    expect(claims.acr).toBe('urn:portcullis:acr:mfa');
  });
});

describe('an upstream person whose email is an existing local account', () => {
  test('is asked for that account’s password: a wrong one links nothing, the right one links and signs in to it', async () => {
    const someone = await upstreamPerson();
    const local = await running.server.services.users.create({ email: someone.email, password: LOCAL_PASSWORD }, CLI_ACTOR);
    const agent = new UserAgent();
    const { step, request, config } = await begin(agent);
    const fromUpstream = await signInUpstream(agent, upstream, await choose(agent, step), {
      email: someone.email,
      password: UPSTREAM_PASSWORD,
    });
    const linkStep = await comeBack(agent, fromUpstream);
    expect(linkStep.status).toBe(200);
    expect(new URL(linkStep.url).pathname).toMatch(/^\/interaction\/[^/]+$/);
    expect(linkStep.body).toContain(someone.email);
    expect(linkStep.body).toContain('name="password"');
    expect(await prisma().federatedIdentity.count({ where: { userId: local.id } })).toBe(0);
    expect(await prisma().user.count({ where: { email: someone.email } })).toBe(1);

    const wrong = await agent.postLogin(formAction(linkStep.body, '/login', linkStep.url), {
      form: { csrf: csrfFrom(linkStep.body), email: someone.email, password: 'not the local passphrase' },
    });
    expect(wrong.location?.startsWith(REDIRECT)).not.toBe(true);
    expect(wrong.status).toBeGreaterThanOrEqual(400);
    expect(await prisma().federatedIdentity.count({ where: { userId: local.id } })).toBe(0);

    const page = wrong.body.includes('name="password"') ? wrong : linkStep;
    const right = await agent.postLogin(formAction(page.body, '/login', page.url), {
      form: { csrf: csrfFrom(page.body), email: someone.email, password: LOCAL_PASSWORD },
    });
    const onward = right.location ? await agent.follow(right.location, REDIRECT) : right;
    const tokens = await finish(agent, onward, request, config);
    expect(tokens.claims()!.sub).toBe(local.id);
    const identities = await prisma().federatedIdentity.findMany({ where: { userId: local.id } });
    expect(identities).toEqual([expect.objectContaining({ subject: someone.sub })]);
    expect(await prisma().user.count({ where: { email: someone.email } })).toBe(1);

    // Linked now: the next sign-in through the upstream goes straight to that account.
    const again = await signInThrough(someone);
    expect(again.tokens.claims()!.sub).toBe(local.id);
  });
});

describe('the link step declined', () => {
  test('cancel forgets the upstream identity: the plain login page, and the password signs in without linking', async () => {
    const someone = await upstreamPerson();
    const local = await running.server.services.users.create({ email: someone.email, password: LOCAL_PASSWORD }, CLI_ACTOR);
    const agent = new UserAgent();
    const { step, request, config } = await begin(agent);
    const fromUpstream = await signInUpstream(agent, upstream, await choose(agent, step), {
      email: someone.email,
      password: UPSTREAM_PASSWORD,
    });
    const linkStep = await comeBack(agent, fromUpstream);
    expect(linkStep.status).toBe(200);
    const cancelled = await agent.follow(formAction(linkStep.body, '/federation/cancel', linkStep.url), REDIRECT, {
      form: { csrf: csrfFrom(linkStep.body) },
    });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toContain('name="password"');
    expect(cancelled.body).not.toContain('/federation/cancel"');
    const signedIn = await agent.postLogin(formAction(cancelled.body, '/login', cancelled.url), {
      form: { csrf: csrfFrom(cancelled.body), email: someone.email, password: LOCAL_PASSWORD },
    });
    const tokens = await finish(agent, signedIn.location ? await agent.follow(signedIn.location, REDIRECT) : signedIn, request, config);
    expect(tokens.claims()!.sub).toBe(local.id);
    expect(tokens.claims()!.amr).not.toContain('fed');
    expect(await prisma().federatedIdentity.count({ where: { userId: local.id } })).toBe(0);
  });
});

describe('refusals', () => {
  test('the person denies at the upstream: access_denied comes back and the sign-in ends on a 403 page, audited', async () => {
    const someone = await upstreamPerson();
    const since = new Date(Date.now() - 1000);
    const agent = new UserAgent();
    const { step } = await begin(agent);
    const fromUpstream = await signInUpstream(agent, upstream, await choose(agent, step), {
      email: someone.email,
      password: UPSTREAM_PASSWORD,
      consent: 'deny',
    });
    expect(new URL(fromUpstream.location!).searchParams.get('error')).toBe('access_denied');
    const end = await comeBack(agent, fromUpstream);
    expect(end.status).toBe(403);
    expect(isErrorPage(end)).toBe(true);
    expect(await prisma().user.count({ where: { email: someone.email } })).toBe(0);
    const events = await prisma().auditEvent.findMany({ where: { at: { gte: since }, outcome: 'failure' } });
    expect(events.filter((event) => (event.details as { connection?: string } | null)?.connection === 'up')).not.toHaveLength(0);
  });

  test('a callback with another state is refused with 400, and nothing is made', async () => {
    const someone = await upstreamPerson();
    const agent = new UserAgent();
    const { step } = await begin(agent);
    const fromUpstream = await signInUpstream(agent, upstream, await choose(agent, step), {
      email: someone.email,
      password: UPSTREAM_PASSWORD,
    });
    const tampered = new URL(fromUpstream.location!);
    expect(tampered.searchParams.get('state')).toBeTruthy();
    tampered.searchParams.set('state', `${tampered.searchParams.get('state')}x`);
    const end = await agent.follow(tampered.toString(), REDIRECT);
    expect(end.status).toBe(400);
    expect(end.location?.startsWith(REDIRECT)).not.toBe(true);
    expect(await prisma().user.count({ where: { email: someone.email } })).toBe(0);
  });

  test('a callback whose iss names another issuer (RFC 9207, mix-up) is refused, and nothing is made', async () => {
    const someone = await upstreamPerson();
    const agent = new UserAgent();
    const { step } = await begin(agent);
    const fromUpstream = await signInUpstream(agent, upstream, await choose(agent, step), {
      email: someone.email,
      password: UPSTREAM_PASSWORD,
    });
    const mixedUp = new URL(fromUpstream.location!);
    expect(mixedUp.searchParams.get('iss')).toBe(upstream.url);
    mixedUp.searchParams.set('iss', 'https://attacker.example.com');
    const end = await agent.follow(mixedUp.toString(), REDIRECT);
    expect([400, 502]).toContain(end.status);
    expect(end.location?.startsWith(REDIRECT)).not.toBe(true);
    expect(await prisma().user.count({ where: { email: someone.email } })).toBe(0);
  });

  test('the callback in a browser that did not begin the sign-in is refused with 400; the one that did still finishes', async () => {
    const someone = await upstreamPerson();
    const agent = new UserAgent();
    const { step, request, config } = await begin(agent);
    const fromUpstream = await signInUpstream(agent, upstream, await choose(agent, step), {
      email: someone.email,
      password: UPSTREAM_PASSWORD,
    });
    // Login CSRF: someone else's browser handed this callback gets no session of it.
    const stranger = await new UserAgent().follow(fromUpstream.location!, REDIRECT);
    expect(stranger.status).toBe(400);
    expect(stranger.location?.startsWith(REDIRECT)).not.toBe(true);
    expect(await prisma().user.count({ where: { email: someone.email } })).toBe(0);
    const tokens = await finish(agent, await comeBack(agent, fromUpstream), request, config);
    expect(tokens.claims()!.amr).toContain('fed');
  });

  test('a finished sign-in’s callback replayed is refused with 400', async () => {
    const someone = await upstreamPerson();
    const { agent, fromUpstream, tokens } = await signInThrough(someone);
    expect(tokens.claims()!.sub).toBeTruthy();
    const replay = await agent.follow(fromUpstream.location!, REDIRECT);
    expect(replay.status).toBe(400);
    expect(replay.location?.startsWith(REDIRECT)).not.toBe(true);
    // And in a browser that never began it.
    const stranger = await new UserAgent().follow(fromUpstream.location!, REDIRECT);
    expect(stranger.status).toBe(400);
  });

  test('an upstream whose email the connection does not trust: the sign-in asks for the code mailed to the address, no code for the app yet', async () => {
    await connect(running, 'untrusted', { display_name: 'Untrusted upstream', trust_email_verified: false });
    const someone = await upstreamPerson();
    const agent = new UserAgent();
    const { step } = await begin(agent);
    const fromUpstream = await signInUpstream(agent, upstream, await choose(agent, step, 'untrusted'), {
      email: someone.email,
      password: UPSTREAM_PASSWORD,
    });
    const end = await comeBack(agent, fromUpstream);
    expect(end.status).toBe(200);
    expect(end.location).toBeUndefined();
    expect(end.body).toContain('/federation/code"');
    expect(end.body).toContain(someone.email);
    // (The code itself, typed in the sign-in, is test/federation/prehijack.test.ts's: it needs the mail.)
    const made = await prisma().user.findUnique({ where: { email: someone.email } });
    expect(made?.emailVerified).toBe(false);
    expect(await prisma().federatedIdentity.findMany({ where: { userId: made!.id } })).toEqual([
      expect.objectContaining({ subject: someone.sub, addressProven: false }),
    ]);
  });

  test('a turned-off connection: no button, and its form posted anyway does not go upstream', async () => {
    await connect(running, 'off', { display_name: 'Turned off' });
    await running.server.services.federation.connections.update('off', { enabled: false }, CLI_ACTOR);
    const agent = new UserAgent();
    const { step } = await begin(agent);
    expect(step.body).toContain('/federation/up"');
    expect(step.body).not.toContain('/federation/off"');
    const action = formAction(step.body, '/federation/up', step.url).replace(/\/up$/, '/off');
    const posted = await agent.request(action, { form: { csrf: csrfFrom(step.body) } });
    expect(posted.status).toBeGreaterThanOrEqual(400);
    expect(posted.location).toBeUndefined();
  });

  test('a disabled local account is not signed in through its link: 403, no code', async () => {
    const someone = await upstreamPerson();
    const { tokens } = await signInThrough(someone);
    const userId = tokens.claims()!.sub;
    await running.server.services.users.setDisabled(userId, true, CLI_ACTOR);
    const agent = new UserAgent();
    const { step } = await begin(agent);
    const fromUpstream = await signInUpstream(agent, upstream, await choose(agent, step), {
      email: someone.email,
      password: UPSTREAM_PASSWORD,
    });
    const end = await comeBack(agent, fromUpstream);
    expect(end.status).toBe(403);
    expect(end.location?.startsWith(REDIRECT)).not.toBe(true);
    expect(isErrorPage(end)).toBe(true);
  });

  test('a connection with create_accounts false and no matching account: 403, no account made', async () => {
    await connect(running, 'closed', { display_name: 'Closed upstream', create_accounts: false });
    const someone = await upstreamPerson();
    const agent = new UserAgent();
    const { step } = await begin(agent);
    const fromUpstream = await signInUpstream(agent, upstream, await choose(agent, step, 'closed'), {
      email: someone.email,
      password: UPSTREAM_PASSWORD,
    });
    const end = await comeBack(agent, fromUpstream);
    expect(end.status).toBe(403);
    expect(isErrorPage(end)).toBe(true);
    expect(await prisma().user.count({ where: { email: someone.email } })).toBe(0);
    expect(await prisma().federatedIdentity.count({ where: { subject: someone.sub } })).toBe(0);
  });
});

describe('a client whose only way in is the connection (login_connection)', () => {
  test('every sign-in goes straight to the upstream, and the password form’s POST is refused', async () => {
    const only = await running.server.services.clients.create(
      { name: 'Partner app', grant_types: ['authorization_code'], redirect_uris: [REDIRECT], login_connection: 'up' } as never,
      CLI_ACTOR,
    );
    const localEmail = `local-only${people}@example.com`;
    const local = await running.server.services.users.create({ email: localEmail, password: LOCAL_PASSWORD }, CLI_ACTOR);
    const agent = new UserAgent();
    const config = await appConfig(running.url, only);
    const request = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid' });
    const atAuthorization = await agent.request(request.url);
    const interactionUrl = atAuthorization.location!;
    const atInteraction = await agent.request(interactionUrl);
    expect(atInteraction.status).toBe(303);
    expect(atInteraction.location!.startsWith(`${upstream.url}/auth?`)).toBe(true);

    // A right password posted anyway, with the interaction's real CSRF token (the form is not
    // offered, so the token is made here as src/pages/csrf.ts makes it): refused, nobody signed in.
    const uid = new URL(interactionUrl).pathname.split('/')[2]!;
    const csrf = crypto.createHmac('sha256', running.config.cookieKeys[0]!).update(`csrf:interaction:${uid}`).digest('base64url');
    const refused = await agent.request(`${interactionUrl}/login`, { form: { csrf, email: localEmail, password: LOCAL_PASSWORD } });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.location).toBeUndefined();
    expect(pageText(refused.body)).not.toMatch(/csrf|expired/i);
    // The same token is good for what the client allows: its connection's form.
    const allowed = await agent.request(`${interactionUrl}/federation/up`, { form: { csrf } });
    expect(allowed.status).toBe(303);
    expect(allowed.location!.startsWith(`${upstream.url}/auth?`)).toBe(true);
    const logins = await prisma().auditEvent.findMany({ where: { type: 'login', outcome: 'success' } });
    expect(logins.filter((event) => event.actorId === local.id || event.subject === local.id)).toHaveLength(0);

    const someone = await upstreamPerson();
    // The latest trip upstream is the one the sign-in waits for.
    const fromUpstream = await signInUpstream(agent, upstream, allowed, { email: someone.email, password: UPSTREAM_PASSWORD });
    const tokens = await finish(agent, await comeBack(agent, fromUpstream), request, config);
    expect(tokens.claims()!.amr).toContain('fed');
  });
});

describe('an upstream that is down or does not answer', () => {
  test('reachable when saved, then stopped: choosing it is a 502 page', async () => {
    const gone = await startUpstream();
    try {
      const registered = await gone.createClient(`${running.url}/federation/gone/callback`);
      await running.server.services.federation.connections.create(
        {
          name: 'gone',
          type: 'oidc',
          display_name: 'Gone',
          issuer: gone.url,
          client_id: registered.clientId,
          client_secret: registered.secret,
        },
        CLI_ACTOR,
      );
    } finally {
      await gone.stop();
    }
    const agent = new UserAgent();
    const { step } = await begin(agent);
    expect(step.body).toContain('/federation/gone"');
    const end = await choose(agent, step, 'gone');
    expect(end.status).toBe(502);
    expect(isErrorPage(end)).toBe(true);
    await running.server.services.federation.connections.delete('gone', CLI_ACTOR);
  }, 90_000);

  test('a server that accepts the connection and never answers: 504 within FEDERATION_TIMEOUT_SECONDS (2 s)', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const hang = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const slow = await startServer({ FEDERATION_TIMEOUT_SECONDS: '2' });
    try {
      await slow.server.services.federation.connections.create(
        {
          name: 'hang',
          type: 'oauth2',
          display_name: 'Silent',
          authorization_url: `${hang}/authorize`,
          token_url: `${hang}/token`,
          userinfo_url: `${hang}/userinfo`,
          client_id: 'downstream',
          client_secret: 'a secret the silent server never checks',
        },
        CLI_ACTOR,
      );
      const slowApp = await slow.server.services.clients.create(
        { name: 'Web app', grant_types: ['authorization_code'], redirect_uris: [REDIRECT] },
        CLI_ACTOR,
      );
      const agent = new UserAgent();
      const config = await appConfig(slow.url, slowApp);
      const request = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid' });
      const page = await agent.follow(request.url, REDIRECT);
      const toSilent = await choose(agent, page, 'hang');
      expect(toSilent.status).toBe(303);
      expect(toSilent.location!.startsWith(`${hang}/authorize?`)).toBe(true);
      const state = new URL(toSilent.location!).searchParams.get('state')!;
      // As if the silent server had signed the person in: the callback, whose code exchange then hangs.
      const started = Date.now();
      const end = await agent.follow(`${slow.url}/federation/hang/callback?code=any-code&state=${encodeURIComponent(state)}`, REDIRECT);
      const elapsed = Date.now() - started;
      expect(end.status).toBe(504);
      expect(isErrorPage(end)).toBe(true);
      expect(elapsed).toBeGreaterThanOrEqual(1900);
      // Well under the default 10 s: the configured 2 s is what bounded it.
      expect(elapsed).toBeLessThan(4000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
      await slow.stop();
    }
  }, 60_000);
});

describe('an OAuth 2.0 connection (no discovery): the same upstream through its endpoints and userinfo', () => {
  const plain = async (name: string, scope: string) => {
    const registered = await upstream.createClient(`${running.url}/federation/${name}/callback`, `Downstream ${name}`);
    return running.server.services.federation.connections.create(
      {
        name,
        type: 'oauth2',
        display_name: `Plain ${name}`,
        authorization_url: `${upstream.url}/auth`,
        token_url: `${upstream.url}/token`,
        userinfo_url: `${upstream.url}/me`,
        scope,
        trust_email_verified: true,
        client_id: registered.clientId,
        client_secret: registered.secret,
      },
      CLI_ACTOR,
    );
  };

  test('with openid among its scopes (the upstream’s userinfo needs it): signed in by the userinfo answer', async () => {
    const connection = await plain('plain', 'openid email profile');
    const someone = await upstreamPerson('Plain Person');
    const { tokens } = await signInThrough(someone, 'plain');
    const claims = tokens.claims()!;
    expect(claims.amr).toContain('fed');
    expect(await prisma().user.findUnique({ where: { id: claims.sub } })).toMatchObject({ email: someone.email, passwordHash: null });
    expect(await prisma().federatedIdentity.findMany({ where: { userId: claims.sub } })).toEqual([
      expect.objectContaining({ connectionId: connection.id, subject: someone.sub }),
    ]);
  });

  test('without openid, the upstream’s userinfo refuses the access token (insufficient_scope): a 502 page, no account', async () => {
    await plain('plain-no-openid', 'email profile');
    const someone = await upstreamPerson();
    const agent = new UserAgent();
    const { step } = await begin(agent);
    const fromUpstream = await signInUpstream(agent, upstream, await choose(agent, step, 'plain-no-openid'), {
      email: someone.email,
      password: UPSTREAM_PASSWORD,
    });
    expect(new URL(fromUpstream.location!).searchParams.get('code')).toBeTruthy();
    const end = await comeBack(agent, fromUpstream);
    expect(end.status).toBe(502);
    expect(await prisma().user.count({ where: { email: someone.email } })).toBe(0);
  });
});

describe('two instances on one database', () => {
  test('a sign-in begun on one instance is finished by the other', async () => {
    // A second Portcullis on the first one's database, pepper and public issuer, as behind a load balancer.
    const second = await startSecondInstance(running);
    const secondOrigin = second.url;
    try {
      const someone = await upstreamPerson();
      const agent = new UserAgent();
      const { step, request, config: appAtFirst } = await begin(agent);
      const fromUpstream = await signInUpstream(agent, upstream, await choose(agent, step), {
        email: someone.email,
        password: UPSTREAM_PASSWORD,
      });
      // Every request from the callback on goes to the second instance (the cookies are the host's, whatever the port).
      const toSecond = (url: string) => {
        const target = new URL(url);
        if (target.origin !== running.url) return url;
        return `${secondOrigin}${target.pathname}${target.search}`;
      };
      let current = await agent.request(toSecond(fromUpstream.location!));
      expect(current.status).toBe(303);
      const seen: string[] = [];
      for (let hops = 0; hops < 10 && current.location && !current.location.startsWith(REDIRECT); hops += 1) {
        seen.push(new URL(current.location).pathname);
        current = await agent.request(toSecond(current.location));
      }
      if (!current.location?.startsWith(REDIRECT) && current.body.includes('/confirm"')) {
        current = await agent.request(toSecond(formAction(current.body, '/confirm', current.url)), {
          form: { csrf: csrfFrom(current.body) },
        });
        for (let hops = 0; hops < 10 && current.location && !current.location.startsWith(REDIRECT); hops += 1)
          current = await agent.request(toSecond(current.location));
      }
      expect(seen.some((path) => path.includes('/federation/up/callback'))).toBe(true);
      expect(current.location?.startsWith(REDIRECT)).toBe(true);
      const tokens = await client.authorizationCodeGrant(appAtFirst, new URL(current.location!), { pkceCodeVerifier: request.verifier });
      expect(tokens.claims()!.amr).toContain('fed');
      expect(await prisma().user.findUnique({ where: { id: tokens.claims()!.sub } })).toMatchObject({ email: someone.email });
    } finally {
      await second.stop();
    }
  });
});

describe('secrets, after every flow above', () => {
  test('no audit event, log line or column holds an upstream client secret, code or token in readable form', async () => {
    expect(upstreamSecrets.length).toBeGreaterThan(3);
    const events = JSON.stringify(await prisma().auditEvent.findMany());
    const logged = logs.join('\n');
    const connections = await prisma().connection.findMany();
    const identities = JSON.stringify(await prisma().federatedIdentity.findMany());
    for (const secret of upstreamSecrets) {
      expect(events).not.toContain(secret);
      expect(logged).not.toContain(secret);
      expect(identities).not.toContain(secret);
      for (const connection of connections) expect(connection.clientSecret).not.toContain(secret);
    }
    // The request log names paths, never a query: no upstream code, state or token is logged.
    expect(logged).toContain('/federation/');
    expect(logged).not.toMatch(/"access_token"|"refresh_token"|"id_token"|[?&]code=|code_verifier/);
    expect(events).not.toMatch(/access_token|refresh_token|id_token|code_verifier|[?&]code=/);
  });
});
