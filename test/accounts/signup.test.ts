// Sign-up and email verification end to end: a person signs up on the pages, the mail arrives at
// a real SMTP server, its link or code is followed, and only then may they sign in, with
// email_verified true in their tokens. A taken address gets the same answer and its owner a
// notice; links are single-use and every bad one gets a page offering a new one.
import * as client from 'openid-client';
import { cliJson } from '../support/cli.ts';
import { logInWithCode, signIn, UserAgent } from '../support/browser.ts';
import { codeIn, linkIn } from '../support/mail.ts';
import { hiddenField, Person, startWorld, STRONG_PASSWORD, textOf, type World } from './support.ts';

const REDIRECT = 'http://127.0.0.1:8123/callback';
let world: World;
let config: client.Configuration;
let app: { client_id: string; client_secret: string };

beforeAll(async () => {
  world = await startWorld();
  app = await cliJson(
    ['client', 'create', '--name', 'Notes', '--grant', 'authorization_code', '--redirect-uri', REDIRECT],
    world.running.env,
  );
  config = await client.discovery(new URL(world.running.url), app.client_id, app.client_secret, undefined, {
    execute: [client.allowInsecureRequests],
  });
});
afterAll(() => world.stop());

const unique = (label: string) => `${label}.${Math.random().toString(36).slice(2, 8)}@example.com`;

async function signUp(person: Person, email: string, password = STRONG_PASSWORD, name = 'Ada Lovelace') {
  const form = await person.open('/signup');
  expect(form.status).toBe(200);
  return person.submit(form, '/signup', { email, password, name });
}

/** A sign-in through the app; the page it stopped at, or the redirect with a code. */
async function tryLogIn(email: string, password = STRONG_PASSWORD) {
  const { url } = await import('../support/browser.ts').then(({ pkceAuthorization }) =>
    pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid email' }),
  );
  return signIn(new UserAgent(), url, { email, password, redirectUri: REDIRECT });
}

describe('sign-up', () => {
  test('sign up, get the mail, follow its link: then sign in, with email_verified true', async () => {
    const person = new Person(world.running.url);
    const email = unique('ada');
    const { post, page } = await signUp(person, email);
    expect(post.status).toBe(303);
    expect(page.url).toMatch(/\/verify-email\/sent$/);
    expect(page.body).toContain('Check your email');

    const mail = await world.mail.next(email);
    expect(mail.subject).toBe('Confirm your email address for Portcullis');
    // A name typed at sign-up is not put in the mail: the mailbox's owner never vouched for it.
    expect(mail.text).toMatch(/^Hello,$/m);
    expect(mail.text).not.toContain('Ada Lovelace');
    expect(mail.html).toContain('Confirm my email address');
    const link = linkIn(mail, `${world.running.url}/verify-email?token=`);

    // Not yet verified: the password is right, but sign-in is refused with a way to resend.
    const refused = await tryLogIn(email);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('Your email address is not confirmed yet');
    expect(refused.body).toContain('href="/verify-email/resend');

    // The link's GET only shows a button (mail scanners must not use it up); the POST verifies.
    const confirm = await person.open(link);
    expect(confirm.status).toBe(200);
    const done = await person.submit(confirm, '/verify-email', { token: hiddenField(confirm.body, 'token') });
    expect(done.page.url).toMatch(/\/verify-email\/done$/);
    expect(done.page.body).toContain('Your email address is confirmed');

    const { tokens } = await logInWithCode(config, { scope: 'openid email' }, { email, password: STRONG_PASSWORD, redirectUri: REDIRECT });
    const sub = tokens.claims()!.sub;
    expect(await client.fetchUserInfo(config, tokens.access_token, sub)).toMatchObject({ email, email_verified: true });

    // Used once: the same link again is a page saying so, offering a new one (never a 500).
    const again = await person.open(link);
    expect(again.status).toBe(410);
    expect(textOf(again.body)).toContain('This link was already used');
    expect(again.body).toContain('action="/verify-email/resend"');
    const audit = await world.running.server.services.audit.query({ type: 'user.email_verified', limit: 50 });
    expect(audit.events.length).toBeGreaterThan(0);
    expect(JSON.stringify(audit.events)).not.toContain(link.split('token=')[1]);
  });

  test('the six-digit code verifies too; a wrong code does not', async () => {
    const person = new Person(world.running.url);
    const email = unique('code');
    const { page } = await signUp(person, email);
    const mail = await world.mail.next(email);
    const code = codeIn(mail);
    const wrong = code === '000000' ? '111111' : '000000';
    // The form is filled with the address just typed.
    expect(page.body).toContain(`value="${email}"`);
    const failed = await person.submit(page, '/verify-email/code', { email, code: wrong });
    expect(failed.page.body).toContain('That code does not work');
    expect((await tryLogIn(email)).status).toBe(403);
    const done = await person.submit(failed.page, '/verify-email/code', { email, code });
    expect(done.page.url).toMatch(/\/verify-email\/done$/);
    expect((await tryLogIn(email)).location).toMatch(/^http:\/\/127\.0\.0\.1:8123\/callback\?code=/);
  });

  test('an address that has an account: the same answer, no account change, and its owner is told', async () => {
    const email = unique('taken');
    await cliJson(['user', 'create', '--email', email, '--password-stdin'], world.running.env, 'the owner’s own passphrase');
    const person = new Person(world.running.url);
    const fresh = await signUp(person, unique('fresh'));
    const taken = await signUp(person, email, 'an attacker’s passphrase');
    expect(taken.post.status).toBe(fresh.post.status);
    expect(taken.post.location).toBe(fresh.post.location);
    expect(taken.page.status).toBe(fresh.page.status);
    // The pages differ only in the address they prefill.
    expect(taken.page.body.replace(email, 'X')).toBe(fresh.page.body.replace(/value="fresh[^"]*"/, 'value="X"'));

    const notice = await world.mail.next(email);
    expect(notice.subject).toBe('You already have a Portcullis account');
    expect(linkIn(notice, `${world.running.url}/forgot-password`)).toBeDefined();
    expect(notice.text).not.toMatch(/verify-email\?token=/);
    // The owner's password still works; the attacker's does not.
    expect((await tryLogIn(email, 'the owner’s own passphrase')).location).toMatch(/callback\?code=/);
    expect((await tryLogIn(email, 'an attacker’s passphrase')).status).toBe(401);
  });

  test('the password rule on the sign-up page: too short, common, the email itself; focus on the password', async () => {
    const person = new Person(world.running.url);
    const email = unique('rule');
    for (const [password, words] of [
      ['short', 'too short'],
      ['password123', 'most common'],
      [email, 'must not be your email address'],
    ] as const) {
      const { post, page } = await signUp(person, email, password);
      expect(post.status).toBe(303);
      expect(post.location).toMatch(/\/signup$/);
      expect(page.body).toContain(words);
      expect(page.body).toMatch(/id="password"[^>]*autofocus/);
      // What was typed is kept (not the password).
      expect(page.body).toContain(`value="${email}"`);
      if (password !== email) expect(page.body).not.toContain(`value="${password}"`);
    }
    // Reloaded, the page shows the form clean: the flash was read once.
    const reloaded = await person.open('/signup');
    expect(reloaded.body).not.toContain('too short');
    expect(world.mail.to(email)).toHaveLength(0);
  });

  test('a form without its CSRF token is refused, and nothing is sent', async () => {
    const person = new Person(world.running.url);
    await person.open('/signup');
    const email = unique('csrf');
    const forged = await person.request('/signup', { form: { email, password: STRONG_PASSWORD } });
    expect(forged.status).toBe(403);
    const stranger = new Person(world.running.url);
    const page = await stranger.open('/signup');
    // Another browser's token does not work in this one.
    const crossed = await person.request('/signup', { form: { csrf: hiddenField(page.body, 'csrf'), email, password: STRONG_PASSWORD } });
    expect(crossed.status).toBe(403);
    expect(await world.running.db.prisma.user.count({ where: { email } })).toBe(0);
  });

  test('tampered, foreign and expired links: a clear page offering a new one', async () => {
    const person = new Person(world.running.url);
    const email = unique('links');
    await signUp(person, email);
    const link = linkIn(await world.mail.next(email), `${world.running.url}/verify-email?token=`);
    const token = link.split('token=')[1]!;

    const tampered = await person.open(`/verify-email?token=${token.slice(0, -2)}xx`);
    expect(tampered.status).toBe(400);
    expect(tampered.body).toContain('This link is not one we sent');
    expect(tampered.body).toContain('action="/verify-email/resend"');
    // A verification token is no reset link.
    const foreign = await person.open(`/reset-password?token=${token}`);
    expect(foreign.status).toBe(400);
    expect(foreign.body).toContain('action="/forgot-password"');
    const none = await person.open('/verify-email');
    expect(none.status).toBe(400);

    await world.running.db.prisma.accountToken.updateMany({ where: { email }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const expired = await person.open(link);
    expect(expired.status).toBe(410);
    expect(expired.body).toContain('This link has expired');

    // Asking for a new one sends a new mail whose link works.
    const resent = await person.submit(expired, '/verify-email/resend', { email });
    expect(resent.page.url).toMatch(/\/verify-email\/sent$/);
    const fresh = linkIn(await world.mail.next(email, { after: 1 }), `${world.running.url}/verify-email?token=`);
    expect(fresh).not.toBe(link);
    const confirm = await person.open(fresh);
    const done = await person.submit(confirm, '/verify-email', { token: hiddenField(confirm.body, 'token') });
    expect(done.page.url).toMatch(/\/verify-email\/done$/);
  });

  test('mail in the page language: German page, German mail, the account keeps the language', async () => {
    const person = new Person(world.running.url, undefined, 'de-DE,de;q=0.9');
    const email = unique('de');
    const form = await person.open('/signup');
    expect(form.body).toContain('Konto anlegen');
    expect(form.body).toContain('lang="de"');
    await person.submit(form, '/signup', { email, password: STRONG_PASSWORD, name: 'Grete' });
    const mail = await world.mail.next(email);
    expect(mail.subject).toBe('Bestätigen Sie Ihre E-Mail-Adresse für Portcullis');
    expect(mail.text).toMatch(/^Guten Tag,$/m);
    expect(mail.html).toContain('lang="de"');
    expect((await world.running.db.prisma.user.findUnique({ where: { email } }))?.locale).toBe('de');
  });

  test('resending is limited per address; the limit says when to try again', async () => {
    const email = unique('limit');
    const person = new Person(world.running.url);
    await signUp(person, email);
    await world.mail.next(email);
    // Four more mails within the hour are allowed (five in all), each from a new source.
    let last;
    for (let i = 0; i < 5; i += 1) {
      const other = new Person(world.running.url, `203.0.113.${i + 10}`);
      // A request within a minute of the last link is taken for its retry; these are meant, so
      // each comes as if a minute later.
      await world.running.db.prisma.accountToken.updateMany({ where: { email }, data: { createdAt: new Date(Date.now() - 120_000) } });
      last = await other.submit(await other.open('/verify-email/resend'), '/verify-email/resend', { email });
    }
    expect(last!.post.location).toMatch(/\/verify-email\/resend$/);
    expect(last!.page.body).toMatch(/Too many mails were asked for. Try again in \d+ minutes?/);
    expect(world.mail.to(email).length).toBeLessThanOrEqual(5);
  });

  test('a retried request sends nothing twice, and the first link keeps working', async () => {
    const email = unique('retry');
    const person = new Person(world.running.url);
    await signUp(person, email);
    await world.mail.next(email);
    const page = await person.open('/verify-email/resend');
    const csrf = hiddenField(page.body, 'csrf');
    // The same request twice (a double click, a proxy's retry).
    // The sign-up's link is a minute old: asking again is meant, and sends a new one ...
    await world.running.db.prisma.accountToken.updateMany({ where: { email }, data: { createdAt: new Date(Date.now() - 120_000) } });
    await person.request('/verify-email/resend', { form: { csrf, email } });
    // ... and the same request again at once (a double click, a proxy's retry) sends nothing.
    await person.request('/verify-email/resend', { form: { csrf, email } });
    const second = await world.mail.next(email, { after: 1 });
    await world.running.server.services.selfService.settled();
    await world.running.server.services.outbox.flush();
    expect(world.mail.to(email)).toHaveLength(2);
    const confirm = await person.open(linkIn(second, `${world.running.url}/verify-email?token=`));
    expect(confirm.status).toBe(200);
  });
});
