// Account pre-hijacking through a connection that does not vouch for email addresses: someone who
// holds an upstream account claiming another person's address signs in through it first (an
// unverified account is made, linked to their upstream identity, and a code is mailed to the
// address); the address's real owner later proves they own it by mail (a password reset, the link
// in that mail). The upstream identity linked before that
// proof must not then sign in to the owner's account. And the owner themself, signing in through
// the same connection, finishes with the mailed code typed in the sign-in. Over real HTTP:
// a second Portcullis as the upstream (test/support/upstream.ts), and a real SMTP server for the
// owner's mail.
import * as client from 'openid-client';
import { CLI_ACTOR } from '../../src/audit/index.ts';
import { csrfFrom, formAction, pkceAuthorization, UserAgent, type Step } from '../support/browser.ts';
import { codeIn, linkIn } from '../support/mail.ts';
import { hiddenField, Person, startWorld, type World } from '../accounts/support.ts';
import { signInUpstream, startWithUpstream, type Upstream } from '../support/upstream.ts';

const UPSTREAM_PASSWORD = 'the upstream passphrase';
const REDIRECT = 'http://127.0.0.1:8123/callback';

let upstream: Upstream;
let world: World;
let app: { client_id: string; client_secret?: string };
let config: client.Configuration;

beforeAll(async () => {
  [upstream, world] = await startWithUpstream(startWorld());
  const registered = await upstream.createClient(`${world.running.url}/federation/lax/callback`);
  await world.running.server.services.federation.connections.create(
    {
      name: 'lax',
      type: 'oidc',
      display_name: 'Lax upstream',
      issuer: upstream.url,
      client_id: registered.clientId,
      client_secret: registered.secret,
      // Its email_verified is not believed: anyone there may claim any address.
      trust_email_verified: false,
    },
    CLI_ACTOR,
  );
  app = await world.running.server.services.clients.create(
    { name: 'Web app', grant_types: ['authorization_code'], redirect_uris: [REDIRECT] },
    CLI_ACTOR,
  );
  config = await client.discovery(
    new URL(world.running.url),
    app.client_id,
    app.client_secret,
    client.ClientSecretBasic(app.client_secret!),
    {
      execute: [client.allowInsecureRequests],
    },
  );
}, 120_000);
afterAll(async () => {
  await Promise.allSettled([world?.stop(), upstream?.stop()]);
}, 60_000);

/** A sign-in through the lax connection with a fresh browser: where it ends (the app's redirect or a page). */
async function throughLax(email: string): Promise<{ end: Step; verifier: string }> {
  const agent = new UserAgent();
  const request = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid' });
  const page = await agent.follow(request.url, REDIRECT);
  const toUpstream = await agent.request(formAction(page.body, '/federation/lax', page.url), { form: { csrf: csrfFrom(page.body) } });
  const fromUpstream = await signInUpstream(agent, upstream, toUpstream, { email, password: UPSTREAM_PASSWORD });
  let end = await agent.follow(fromUpstream.location!, REDIRECT);
  if (!end.location && end.status === 200 && end.body.includes('/confirm"'))
    end = await agent.follow(formAction(end.body, '/confirm', end.url), REDIRECT, { form: { csrf: csrfFrom(end.body) } });
  return { end, verifier: request.verifier };
}

/** How many mails have reached `email` so far (the next one to wait for comes after them). */
const mailsTo = (email: string) => world.mail.to(email).length;

/** The owner proves the address by a forgotten-password reset and sets a password. */
async function resetProof(email: string): Promise<void> {
  const owner = new Person(world.running.url);
  await owner.submit(await owner.open('/forgot-password'), '/forgot-password', { email });
  // `next` counts only the mails its subject matches: this address's first reset mail.
  const link = linkIn(await world.mail.next(email, { subject: /Reset/ }), `${world.running.url}/reset-password?token=`);
  const form = await owner.open(link);
  expect(form.status).toBe(200);
  const done = await owner.submit(form, '/reset-password', {
    token: hiddenField(form.body, 'token'),
    password: 'the owner’s own river walk',
  });
  expect(done.page.url).toMatch(/\/reset-password\/done$/);
  await expectResetEndedLink(email);
}

/** After a reset, the unproven link is gone, audited as such. */
async function expectResetEndedLink(email: string): Promise<void> {
  const owned = await world.running.db.prisma.user.findUnique({ where: { email } });
  expect(await world.running.db.prisma.federatedIdentity.count({ where: { userId: owned!.id } })).toBe(0);
  const unlinked = await world.running.db.prisma.auditEvent.findMany({ where: { type: 'identity.unlinked', subject: owned!.id } });
  expect(unlinked).toHaveLength(1);
}

/** The owner opens the link in the mail the other person's sign-in sent them (it confirms the address). */
async function linkInThatMail(email: string): Promise<void> {
  const owner = new Person(world.running.url);
  const mail = world.mail.to(email).at(-1)!;
  const page = await owner.open(linkIn(mail, `${world.running.url}/verify-email?token=`));
  expect(page.status).toBe(200);
  const done = await owner.submit(page, '/verify-email', { token: hiddenField(page.body, 'token') });
  expect(done.page.url).toMatch(/\/verify-email\/done$/);
}

/** The page asking for the mailed code: a 200 with its form, not the app. */
const isCodePage = (step: Step) => step.status === 200 && step.body.includes('/federation/code"') && !step.location;

test.each([
  ['a forgotten-password reset', 'owner-reset@example.com', resetProof],
  ['the link in the mail that sign-in sent', 'owner-clicks@example.com', linkInThatMail],
])(
  'an upstream identity linked before the owner proved the address (%s) does not sign in to the owner’s account',
  async (_proof, email, prove) => {
    // The upstream account that claims the owner's address is not the owner's.
    await upstream.createUser(email, UPSTREAM_PASSWORD, 'Not The Owner');
    const before = mailsTo(email);
    const first = await throughLax(email);
    // The upstream's word is not enough: a code goes to the address, which the other person cannot read.
    expect(isCodePage(first.end)).toBe(true);
    expect(first.end.body).toContain(email);
    await world.mail.next(email, { after: before });
    const prisma = world.running.db.prisma;

    const owner = await prisma.user.findUnique({ where: { email } });
    expect(owner).not.toBeNull();
    const linksBefore = await prisma.federatedIdentity.count({ where: { userId: owner!.id } });

    await prove(email);

    // The upstream account again: it must not reach the app as the owner; it meets the link step
    // (the owner's login page with its notice), which needs the owner's password.
    const again = await throughLax(email);
    expect(again.end.status).toBe(200);
    expect(again.end.location).toBeUndefined();
    expect(again.end.body).toContain('name="password"');
    expect(again.end.body).toContain(email);
    expect(again.end.body).toContain('/federation/cancel"');
    expect(again.end.body).not.toContain('/federation/code"');
    expect(await prisma.federatedIdentity.count({ where: { userId: owner!.id } })).toBeLessThanOrEqual(linksBefore);
    const reached = again.end.location?.startsWith(REDIRECT) ? new URL(again.end.location) : undefined;
    let sub: string | undefined;
    if (reached?.searchParams.get('code')) {
      const tokens = await client.authorizationCodeGrant(config, reached, { pkceCodeVerifier: again.verifier }).catch(() => undefined);
      sub = tokens?.claims()?.sub;
    }
    const owned = await prisma.user.findUnique({ where: { email } });
    expect(owned).not.toBeNull();
    expect({
      reachedApp: Boolean(reached?.searchParams.get('code')),
      sub,
      provenLinks: await prisma.federatedIdentity.count({ where: { userId: owned!.id, addressProven: true } }),
    }).toEqual({ reachedApp: false, sub: undefined, provenLinks: 0 });
  },
);

test('the address’s owner at the upstream types the mailed code in the sign-in: signed in, address verified, link proven; a wrong code is refused', async () => {
  const email = 'real-owner@example.com';
  const upstreamSub = await upstream.createUser(email, UPSTREAM_PASSWORD, 'Real Owner');
  const agent = new UserAgent();
  const request = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid' });
  const page = await agent.follow(request.url, REDIRECT);
  const before = mailsTo(email);
  const toUpstream = await agent.request(formAction(page.body, '/federation/lax', page.url), { form: { csrf: csrfFrom(page.body) } });
  const fromUpstream = await signInUpstream(agent, upstream, toUpstream, { email, password: UPSTREAM_PASSWORD });
  const codePage = await agent.follow(fromUpstream.location!, REDIRECT);
  expect(isCodePage(codePage)).toBe(true);
  const mail = await world.mail.next(email, { after: before });
  const code = codeIn(mail);

  const wrongCode = code === '000000' ? '111111' : '000000';
  const wrong = await agent.postLogin(formAction(codePage.body, '/federation/code', codePage.url), {
    form: { csrf: csrfFrom(codePage.body), code: wrongCode },
  });
  expect(wrong.status).toBe(401);
  expect(isCodePage({ ...wrong, status: 200 })).toBe(true);

  const right = await agent.request(formAction(wrong.body, '/federation/code', wrong.url), { form: { csrf: csrfFrom(wrong.body), code } });
  let end = right.location ? await agent.follow(right.location, REDIRECT) : right;
  if (!end.location && end.status === 200 && end.body.includes('/confirm"'))
    end = await agent.follow(formAction(end.body, '/confirm', end.url), REDIRECT, { form: { csrf: csrfFrom(end.body) } });
  expect(end.location?.startsWith(REDIRECT)).toBe(true);
  const tokens = await client.authorizationCodeGrant(config, new URL(end.location!), { pkceCodeVerifier: request.verifier });
  const claims = tokens.claims()!;
  expect(claims.amr).toContain('fed');
  const prisma = world.running.db.prisma;
  expect(await prisma.user.findUnique({ where: { id: claims.sub } })).toMatchObject({ email, emailVerified: true, passwordHash: null });
  expect(await prisma.federatedIdentity.findMany({ where: { userId: claims.sub } })).toEqual([
    expect.objectContaining({ subject: upstreamSub, addressProven: true }),
  ]);

  // Proven once: the next sign-in needs no code.
  const mailsBefore = mailsTo(email);
  const next = await throughLax(email);
  expect(next.end.location?.startsWith(REDIRECT)).toBe(true);
  expect(mailsTo(email)).toBe(mailsBefore);
});
