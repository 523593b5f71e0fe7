// Forgotten passwords and invitations end to end over HTTP and a real SMTP server, the password
// rule on the CLI and the admin API, unverified accounts an administrator makes, and two
// instances on one database (a link made by one works on the other).
import * as client from 'openid-client';
import { adminCaller } from '../support/admin.ts';
import { logInWithCode, pkceAuthorization, signIn, UserAgent } from '../support/browser.ts';
import { cli, cliJson } from '../support/cli.ts';
import { linkIn } from '../support/mail.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { hiddenField, Person, startWorld, STRONG_PASSWORD, textOf, type World } from './support.ts';

const REDIRECT = 'http://127.0.0.1:8123/callback';
let world: World;
let second: RunningServer;
let config: client.Configuration;

beforeAll(async () => {
  world = await startWorld();
  // A second instance on the same database and issuer, sending to the same mail server.
  second = await startServer({
    SIGNUP: 'open',
    SMTP_URL: world.mail.url,
    TRUST_PROXY_HOPS: '1',
    DATABASE_URL: world.running.testDatabase.url,
    ISSUER: world.running.url,
  });
  const app = await cliJson<{ client_id: string; client_secret: string }>(
    [
      'client',
      'create',
      '--name',
      'Notes',
      '--grant',
      'authorization_code',
      '--grant',
      'refresh_token',
      '--redirect-uri',
      REDIRECT,
      '--scope',
      'openid',
    ],
    world.running.env,
  );
  config = await client.discovery(new URL(world.running.url), app.client_id, app.client_secret, undefined, {
    execute: [client.allowInsecureRequests],
  });
});
afterAll(async () => {
  await second.server.close();
  await second.db.close();
  await second.testDatabase.drop();
  await world.stop();
});

const unique = (label: string) => `${label}.${Math.random().toString(36).slice(2, 8)}@example.com`;

async function makeUser(email: string, password = STRONG_PASSWORD) {
  return cliJson<{ id: string }>(['user', 'create', '--email', email, '--password-stdin'], world.running.env, password);
}

async function tryLogIn(email: string, password: string) {
  const { url } = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid' });
  return signIn(new UserAgent(), url, { email, password, redirectUri: REDIRECT });
}

async function askForReset(person: Person, email: string) {
  return person.submit(await person.open('/forgot-password'), '/forgot-password', { email });
}

describe('forgot password', () => {
  test('the login page links to it (and to sign-up, which is open); a failed login puts focus on the password', async () => {
    const { url } = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid' });
    const agent = new UserAgent();
    const login = await agent.follow(url);
    expect(login.body).toMatch(/<a href="\/forgot-password\?interaction=[^"]+">Forgot your password\?<\/a>/);
    expect(login.body).toMatch(/<a href="\/signup\?interaction=[^"]+">Create an account<\/a>/);
    expect(login.body).toMatch(/id="email"[^>]*autofocus/);
    const failed = await signIn(agent, url, { email: 'nobody@example.com', password: 'wrong password', redirectUri: REDIRECT });
    expect(failed.status).toBe(401);
    expect(failed.body).toMatch(/id="password"[^>]*autofocus/);
    expect(failed.body).not.toMatch(/id="email"[^>]*autofocus/);
  });

  test('the same answer whether or not the address has an account; mail only to the one that has', async () => {
    const known = unique('known');
    await makeUser(known);
    const person = new Person(world.running.url);
    const unknown = unique('unknown');
    const a = await askForReset(person, known);
    const b = await askForReset(person, unknown);
    expect(a.post.status).toBe(303);
    expect(b.post.location).toBe(a.post.location);
    expect(b.page.body).toBe(a.page.body);
    const mail = await world.mail.next(known);
    expect(mail.subject).toBe('Reset your Portcullis password');
    expect(mail.text).toContain('for 30 minutes');
    await world.running.server.services.outbox.flush();
    expect(world.mail.to(unknown)).toHaveLength(0);
    expect(await world.running.db.prisma.outboxMessage.count({ where: { to: unknown } })).toBe(0);
  });

  test('a new password through the link ends every session, refresh token and grant; a notice is sent; once only', async () => {
    const email = unique('reset');
    const { id } = await makeUser(email);
    const { tokens } = await logInWithCode(
      config,
      { scope: 'openid offline_access', prompt: 'consent' },
      { email, password: STRONG_PASSWORD, redirectUri: REDIRECT },
    );
    expect(tokens.refresh_token).toBeDefined();
    const person = new Person(world.running.url);
    await askForReset(person, email);
    const link = linkIn(await world.mail.next(email), `${world.running.url}/reset-password?token=`);

    const form = await person.open(link);
    expect(form.status).toBe(200);
    expect(form.body).toContain(email);
    // The rule holds here too; the problem is shown after the redirect and the link still works.
    const weak = await person.submit(form, '/reset-password', { token: hiddenField(form.body, 'token'), password: 'password' });
    expect(weak.post.status).toBe(303);
    expect(weak.page.body).toContain('one of the most common');
    const done = await person.submit(weak.page, '/reset-password', {
      token: hiddenField(weak.page.body, 'token'),
      password: 'my new river walk',
    });
    expect(done.page.url).toMatch(/\/reset-password\/done$/);

    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await world.running.db.prisma.providerArtifact.count({ where: { accountId: id } })).toBe(0);
    expect((await tryLogIn(email, STRONG_PASSWORD)).status).toBe(401);
    expect((await tryLogIn(email, 'my new river walk')).location).toMatch(/callback\?code=/);

    const notice = await world.mail.next(email, { subject: /was changed/ });
    expect(notice.text).toContain('you were signed out everywhere');
    const events = await world.running.server.services.audit.query({ type: 'user.password_reset', limit: 50 });
    const event = events.events.find((e) => e.subject === id);
    expect(event).toMatchObject({ actorType: 'user', actorId: id, outcome: 'success' });
    expect(JSON.stringify(event)).not.toContain(link.split('token=')[1]);

    const reused = await person.open(link);
    expect(reused.status).toBe(410);
    expect(textOf(reused.body)).toContain('This link was already used');
    expect(reused.body).toContain('action="/forgot-password"');
  });

  test('an expired reset link gets a page that sends a new one', async () => {
    const email = unique('expired');
    await makeUser(email);
    const person = new Person(world.running.url);
    await askForReset(person, email);
    const link = linkIn(await world.mail.next(email), `${world.running.url}/reset-password?token=`);
    await world.running.db.prisma.accountToken.updateMany({ where: { email }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const expired = await person.open(link);
    expect(expired.status).toBe(410);
    expect(expired.body).toContain('This link has expired');
    const again = await person.submit(expired, '/forgot-password', { email });
    expect(again.page.url).toMatch(/\/forgot-password\/sent$/);
    expect(linkIn(await world.mail.next(email, { after: 1 }), `${world.running.url}/reset-password?token=`)).not.toBe(link);
  });

  test('mails from one source are limited, whatever the addresses', async () => {
    const person = new Person(world.running.url, '192.0.2.77');
    let last;
    for (let i = 0; i < 31; i += 1) last = await askForReset(person, unique(`source${i}`));
    expect(last!.post.location).toMatch(/\/forgot-password$/);
    expect(last!.page.body).toMatch(/Too many mails were asked for/);
  });
});

describe('two instances on one database', () => {
  test('a reset link made by one instance works on the other', async () => {
    const email = unique('twin');
    await makeUser(email);
    const person = new Person(world.running.url);
    await askForReset(person, email);
    const link = linkIn(await world.mail.next(email), `${world.running.url}/reset-password?token=`);
    // The same path, on the second instance.
    const other = new Person(second.url);
    const form = await other.open(link.replace(world.running.url, second.url));
    expect(form.status).toBe(200);
    const done = await other.submit(form, '/reset-password', { token: hiddenField(form.body, 'token'), password: 'twin river walks' });
    expect(done.page.url).toMatch(/\/reset-password\/done$/);
    // Used on the second: the first says so.
    expect((await person.open(link)).status).toBe(410);
  });

  test('a sign-up made on one instance is verified on the other', async () => {
    const email = unique('twinsignup');
    const person = new Person(second.url);
    await person.submit(await person.open('/signup'), '/signup', { email, password: STRONG_PASSWORD });
    const link = linkIn(await world.mail.next(email), `${world.running.url}/verify-email?token=`);
    const first = new Person(world.running.url);
    const confirm = await first.open(link);
    const done = await first.submit(confirm, '/verify-email', { token: hiddenField(confirm.body, 'token') });
    expect(done.page.url).toMatch(/\/verify-email\/done$/);
  });
});

describe('invitations', () => {
  test('portcullis user invite --json mails a link; the person sets a password and is verified', async () => {
    const email = unique('invitee');
    const invited = await cliJson<{ id: string; email: string; name: string; expires_at: string }>(
      ['user', 'invite', '--email', email, '--name', 'Grace Hopper', '--expires-in', '2h'],
      world.running.env,
    );
    expect(invited).toMatchObject({ email, name: 'Grace Hopper' });
    const hours = (Date.parse(invited.expires_at) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(1.9);
    expect(hours).toBeLessThanOrEqual(2);
    const mail = await world.mail.next(email);
    expect(mail.subject).toBe('You are invited to Portcullis');
    expect(mail.text).toContain('Hello Grace Hopper,');
    const link = linkIn(mail, `${world.running.url}/invitation?token=`);

    const person = new Person(world.running.url);
    const form = await person.open(link);
    expect(form.status).toBe(200);
    expect(form.body).toContain('value="Grace Hopper"');
    const weak = await person.submit(form, '/invitation', {
      token: hiddenField(form.body, 'token'),
      name: 'Grace Hopper',
      password: 'short',
    });
    expect(weak.page.body).toContain('too short');
    const done = await person.submit(weak.page, '/invitation', {
      token: hiddenField(weak.page.body, 'token'),
      name: 'Grace Hopper',
      password: STRONG_PASSWORD,
    });
    expect(done.page.url).toMatch(/\/invitation\/done$/);
    const user = await world.running.db.prisma.user.findUnique({ where: { email } });
    expect(user).toMatchObject({ name: 'Grace Hopper', emailVerified: true });
    expect((await tryLogIn(email, STRONG_PASSWORD)).location).toMatch(/callback\?code=/);
    // Used: the page says so and offers the way back in.
    const reused = await person.open(link);
    expect(reused.status).toBe(410);
    expect(reused.body).toContain('href="/forgot-password"');
  });

  test('the admin API invites too; an expired invitation can be sent again to the same address', async () => {
    const admin = await adminCaller(world.running, 'admin:write');
    const email = unique('api');
    const response = await fetch(`${world.running.url}/admin/users/invitations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email, expires_in: 3600, lang: 'de' }),
    });
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ email, name: null });
    const mail = await world.mail.next(email);
    expect(mail.subject).toBe('Sie sind zu Portcullis eingeladen');
    const link = linkIn(mail, `${world.running.url}/invitation?token=`);
    await world.running.db.prisma.accountToken.updateMany({ where: { email }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const person = new Person(world.running.url);
    const expired = await person.open(link);
    expect(expired.status).toBe(410);
    const renewed = await person.submit(expired, '/invitation/renew', { token: hiddenField(expired.body, 'token') });
    expect(renewed.page.url).toMatch(/\/invitation\/sent$/);
    const fresh = linkIn(await world.mail.next(email, { after: 1 }), `${world.running.url}/invitation?token=`);
    expect((await person.open(fresh)).status).toBe(200);

    const bad = await fetch(`${world.running.url}/admin/users/invitations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email, expires_in: 999_999_999 }),
    });
    expect(bad.status).toBe(400);
  });

  test('SIGNUP=closed: no invitations', async () => {
    const result = await cli(['user', 'invite', '--email', unique('closed'), '--json'], { ...world.running.env, SIGNUP: 'closed' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('SIGNUP');
  });
});

describe('the password rule and verification on the CLI and the admin API', () => {
  test('the CLI refuses a common password and the email itself; --unverified makes an unverified account', async () => {
    const email = unique('cli');
    const common = await cli(['user', 'create', '--email', email, '--password-stdin', '--json'], world.running.env, 'password1');
    expect(common.code).not.toBe(0);
    expect(common.stderr).toContain('common');
    const itself = await cli(['user', 'create', '--email', email, '--password-stdin', '--json'], world.running.env, email);
    expect(itself.stderr).toContain('must not be your email address');
    await cliJson(['user', 'create', '--email', email, '--password-stdin', '--unverified'], world.running.env, STRONG_PASSWORD);
    const listed = await cliJson<{ email: string; email_verified: boolean }[]>(['user', 'list'], world.running.env);
    expect(listed.find((user) => user.email === email)).toMatchObject({ email_verified: false });
    // Unverified and EMAIL_VERIFICATION=required: refused at login, with the way to resend.
    const refused = await tryLogIn(email, STRONG_PASSWORD);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('/verify-email/resend');
  });

  test('the admin API refuses a common password on create and on reset', async () => {
    const admin = await adminCaller(world.running, 'admin:write');
    const call = (path: string, body: unknown) =>
      fetch(`${world.running.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const email = unique('adminrule');
    const refused = await call('/admin/users', { email, password: 'qwertyuiop' });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(await refused.json())).toContain('common');
    const created = await call('/admin/users', { email, password: STRONG_PASSWORD });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    expect((await call(`/admin/users/${id}/password`, { password: email })).status).toBe(400);
  });
});
