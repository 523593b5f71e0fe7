// The account page as a place of its own, over real HTTP on a real server and database, with a
// real SMTP server for the email change: signing in through the page's own client, the profile,
// the email address, the password, sessions, apps with access, export and deletion, each POST
// answered 303 with its result shown once.
import * as client from 'openid-client';
import { csrfFrom, formAction, logInWithCode, UserAgent } from '../support/browser.ts';
import { cli } from '../support/cli.ts';
import { linkIn, startMailServer, type MailServer } from '../support/mail.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { createUser, fieldValue, signInToAccount } from './support.ts';

const PASSWORD = 'a long and private passphrase';
const APP_REDIRECT = 'http://127.0.0.1:8126/callback';
let mail: MailServer;
let running: RunningServer;
let app: { client_id: string };
let appConfig: client.Configuration;

beforeAll(async () => {
  mail = await startMailServer();
  running = await startServer({ SMTP_URL: mail.url });
  app = (
    await cli(
      [
        'client',
        'create',
        '--name',
        'Notes App',
        '--public',
        '--grant',
        'authorization_code',
        '--grant',
        'refresh_token',
        '--redirect-uri',
        APP_REDIRECT,
        '--json',
      ],
      running.env,
    )
  ).json<{ client_id: string }>();
  appConfig = await client.discovery(new URL(running.url), app.client_id, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
});
afterAll(async () => {
  await running.stop();
  await mail.close();
});

const prisma = () => running.db.prisma;
const events = (type: string, subject?: string) => prisma().auditEvent.findMany({ where: { type, ...(subject ? { subject } : {}) } });

/** A form POST of a signed-in agent, with the CSRF token of the page it came from. */
async function post(agent: UserAgent, path: string, form: Record<string, string>, from = '/account') {
  const page = await agent.request(`${running.url}${from}`);
  return agent.request(`${running.url}${path}`, { form: { csrf: csrfFrom(page.body), ...form } });
}

describe('signing in', () => {
  test('signed out, /account starts a sign-in through the internal client with PKCE and comes back', async () => {
    await createUser(running.env, 'ada@example.com', PASSWORD, 'Ada');
    const agent = new UserAgent();
    const start = await agent.request(`${running.url}/account`);
    expect(start.status).toBe(303);
    const authorization = new URL(start.location!);
    expect(authorization.pathname).toBe('/auth');
    expect(Object.fromEntries(authorization.searchParams)).toMatchObject({
      client_id: 'portcullis-account',
      redirect_uri: `${running.url}/account/callback`,
      response_type: 'code',
      code_challenge_method: 'S256',
      code_challenge: expect.stringMatching(/^[\w-]{43}$/),
      state: expect.any(String),
    });
    const back = await signInToAccount(running.url, 'ada@example.com', PASSWORD, agent);
    expect(back.status).toBe(303);
    expect(back.location).toBe(`${running.url}/account`);
    const page = await agent.request(back.location!);
    expect(page.status).toBe(200);
    expect(page.body).toContain('ada@example.com');
    expect(page.body).toContain('href="/session/end"');
    expect(page.body).toContain('href="/account/keys"');
    // The account page's own client is not an app the person let in.
    expect(page.body).toContain('No app has access to your account.');
  });

  test('the developer page signed out comes back to the developer page', async () => {
    await createUser(running.env, 'dev@example.com', PASSWORD);
    const back = await signInToAccount(running.url, 'dev@example.com', PASSWORD, new UserAgent(), '/account/keys');
    expect(back.location).toBe(`${running.url}/account/keys`);
  });

  test("cancelling the account page's sign-in goes back to the issuer's home page, not to an error", async () => {
    const agent = new UserAgent();
    const start = await agent.request(`${running.url}/account`);
    const login = await agent.follow(start.location!, `${running.url}/account/callback`);
    expect(login.body).toContain('name="password"');
    const cancelled = await agent.follow(formAction(login.body, '/abort', login.url), `${running.url}/account/callback`, {
      form: { csrf: csrfFrom(login.body) },
    });
    expect(cancelled.location).toMatch(/error=access_denied/);
    const home = await agent.request(cancelled.location!);
    expect(home.status).toBe(303);
    expect(home.location).toBe(`${running.url}/`);
  });

  test('a replayed or forged callback is refused with a page, never a 500', async () => {
    const agent = new UserAgent();
    const start = await agent.request(`${running.url}/account`);
    const { signIn } = await import('../support/browser.ts');
    const step = await signIn(agent, start.location!, {
      email: 'ada@example.com',
      password: PASSWORD,
      redirectUri: `${running.url}/account/callback`,
      consent: false,
    });
    const callback = new URL(step.location!);
    const forged = new URL(callback);
    forged.searchParams.set('state', 'not-the-state');
    expect((await agent.request(forged.toString())).status).toBe(400);
    // The code that reached the callback with the wrong state is spent: nobody who sees the URL can use it.
    const spent = await running.server.live.current().provider.AuthorizationCode.find(callback.searchParams.get('code')!);
    expect(spent?.isValid ?? false).toBe(false);
    // The cookie went with the first try: the real callback no longer completes either.
    const replay = await agent.request(callback.toString());
    expect(replay.status).toBe(400);
    expect(replay.headers.get('content-type')).toMatch(/^text\/html/);
    // A code for another browser's sign-in is refused too.
    const other = new UserAgent();
    await other.request(`${running.url}/account`);
    const stolen = await other.request(callback.toString());
    expect(stolen.status).toBe(400);
  });
});

describe('the profile, the email address and the password', () => {
  let agent: UserAgent;
  let userId: string;
  beforeAll(async () => {
    userId = await createUser(running.env, 'grace@example.com', PASSWORD, 'Grace');
    agent = new UserAgent();
    await signInToAccount(running.url, 'grace@example.com', PASSWORD, agent);
  });

  test('the name is changed with post/redirect/get; its notice shows once; a bad name is refused with the focus on it', async () => {
    const saved = await post(agent, '/account/name', { name: 'Grace Hopper' });
    expect(saved.status).toBe(303);
    expect(saved.location).toBe(`${running.url}/account`);
    const page = await agent.request(saved.location!);
    expect(page.body).toContain('Your name is saved.');
    expect(fieldValue(page.body, 'name')).toBe('Grace Hopper');
    expect((await agent.request(`${running.url}/account`)).body).not.toContain('Your name is saved.');
    expect((await prisma().user.findUnique({ where: { id: userId } }))!.name).toBe('Grace Hopper');
    expect(await events('user.updated', userId)).toHaveLength(1);

    const refused = await post(agent, '/account/name', { name: 'x'.repeat(201) });
    expect(refused.status).toBe(303);
    const shown = await agent.request(refused.location!);
    expect(shown.body).toContain('at most 200 characters');
    expect(shown.body).toMatch(/id="name"[^>]*autofocus aria-invalid="true"/);
    expect((await prisma().user.findUnique({ where: { id: userId } }))!.name).toBe('Grace Hopper');
    // One line, as at sign-up: no line separator (U+2028) or C1 control that would start a new line in a mail.
    for (const name of ['Grace\u2028Your account is suspended', 'Grace\u0085Hopper']) {
      await post(agent, '/account/name', { name });
      expect((await prisma().user.findUnique({ where: { id: userId } }))!.name).toBe('Grace Hopper');
    }
  });

  test('the email changes only through the link to the new address; the old one is told; the link works once', async () => {
    const asked = await post(agent, '/account/email', { email: 'Grace.New@Example.com' });
    expect(asked.status).toBe(303);
    expect((await agent.request(asked.location!)).body).toContain('We sent a link to grace.new@example.com');
    const notice = await mail.next('grace@example.com', { subject: /being changed/ });
    expect(notice.text).toContain('g•••@example.com');
    expect(notice.text).not.toContain('grace.new@example.com');
    const confirmation = await mail.next('grace.new@example.com', { subject: /Confirm your new email/ });
    // The new address's reader never vouched for the account's name: the mail does not carry it.
    expect(confirmation.text).not.toContain('Grace');
    const link = linkIn(confirmation, `${running.url}/account/email/confirm?token=`);
    // Until the link is followed, the account keeps its address.
    expect((await prisma().user.findUnique({ where: { id: userId } }))!.email).toBe('grace@example.com');

    // Opening the link changes nothing (mail scanners open links); the button does.
    const other = new UserAgent();
    const page = await other.request(link);
    expect(page.status).toBe(200);
    expect(page.body).toContain('grace.new@example.com');
    expect((await prisma().user.findUnique({ where: { id: userId } }))!.email).toBe('grace@example.com');
    const token = new URL(link).searchParams.get('token')!;
    const forged = await other.request(`${running.url}/account/email/confirm`, { form: { csrf: 'forged', token } });
    expect(forged.status).toBe(403);
    const done = await other.request(`${running.url}/account/email/confirm`, { form: { csrf: csrfFrom(page.body), token } });
    expect(done.status).toBe(303);
    expect((await other.request(done.location!)).body).toContain('Your email address is changed');
    const user = (await prisma().user.findUnique({ where: { id: userId } }))!;
    expect(user).toMatchObject({ email: 'grace.new@example.com', emailVerified: true });
    expect(await events('user.email_changed', userId)).toHaveLength(1);

    const again = await other.request(link);
    expect(again.status).toBe(400);
    expect(again.body).toContain('This link was already used');
    const tampered = await other.request(`${link}x`);
    expect(tampered.status).toBe(400);
    expect(tampered.body).toContain('This link does not work');
    // The new address signs in.
    await signInToAccount(running.url, 'grace.new@example.com', PASSWORD);
  });

  test('a change asked twice at once sends one link, and that first link keeps working', async () => {
    const before = mail.to('grace.twice@example.com').length;
    await post(agent, '/account/email', { email: 'grace.twice@example.com' });
    await post(agent, '/account/email', { email: 'grace.twice@example.com' });
    const confirmation = await mail.next('grace.twice@example.com', { subject: /Confirm your new email/ });
    await running.server.services.outbox.flush();
    expect(mail.to('grace.twice@example.com').length).toBe(before + 1);
    const link = linkIn(confirmation, `${running.url}/account/email/confirm?token=`);
    const page = await new UserAgent().request(link);
    expect(page.status).toBe(200);
    expect(await prisma().accountToken.count({ where: { purpose: 'change_email', email: 'grace.twice@example.com' } })).toBe(1);
  });

  test('an address that belongs to another account reads the same, and no link is made for it', async () => {
    const before = mail.to('ada@example.com').length;
    const asked = await post(agent, '/account/email', { email: 'ada@example.com' });
    expect((await agent.request(asked.location!)).body).toContain('We sent a link to ada@example.com');
    await mail.next('grace.new@example.com', { subject: /being changed/, after: 0 });
    expect(await prisma().accountToken.count({ where: { purpose: 'change_email', email: 'ada@example.com' } })).toBe(0);
    expect(mail.to('ada@example.com').length).toBe(before);
    const invalid = await post(agent, '/account/email', { email: 'not an address' });
    const shown = await agent.request(invalid.location!);
    expect(shown.body).toContain('Enter an email address');
    expect(shown.body).toMatch(/id="new-email"[^>]*autofocus aria-invalid="true"/);
  });

  test('the password changes with the current one and the rule; other sessions and app grants end, this one stays', async () => {
    const second = new UserAgent();
    await signInToAccount(running.url, 'grace.new@example.com', PASSWORD, second);
    const { tokens } = await logInWithCode(
      appConfig,
      { scope: 'openid offline_access', prompt: 'consent' },
      { email: 'grace.new@example.com', password: PASSWORD, redirectUri: APP_REDIRECT },
    );

    const wrong = await post(agent, '/account/password', { current_password: 'not it', new_password: 'a brand new passphrase' });
    const wrongPage = await agent.request(wrong.location!);
    expect(wrongPage.body).toContain('That is not your current password.');
    expect(wrongPage.body).toMatch(/id="current-password"[^>]*autofocus aria-invalid="true"/);
    const common = await post(agent, '/account/password', { current_password: PASSWORD, new_password: 'password1' });
    const commonPage = await agent.request(common.location!);
    expect(commonPage.body).toContain('one of the most common passwords');
    expect(commonPage.body).toMatch(/id="new-password"[^>]*autofocus aria-invalid="true"/);

    const changed = await post(agent, '/account/password', { current_password: PASSWORD, new_password: 'a brand new passphrase' });
    expect(changed.status).toBe(303);
    expect((await agent.request(changed.location!)).body).toContain('Your password is changed');
    expect((await agent.request(`${running.url}/account`)).status).toBe(200);
    expect((await second.request(`${running.url}/account`)).status).toBe(303);
    await expect(client.refreshTokenGrant(appConfig, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await running.server.services.users.verifyLogin('grace.new@example.com', PASSWORD)).toBeUndefined();
    expect(await running.server.services.users.verifyLogin('grace.new@example.com', 'a brand new passphrase')).toBeDefined();
    const [event] = await events('user.password_changed', userId);
    expect(JSON.stringify(event)).not.toContain('passphrase');
    // As after a reset, the address is told (someone who changed it from a session left open is seen).
    const notice = await mail.next('grace.new@example.com', { subject: /password was changed/ });
    expect(notice.text).toContain('was just changed on your account page');
    expect(notice.text).toContain(`${running.url}/forgot-password`);
    expect(notice.text).not.toContain('passphrase');
  });
});

describe('a form sent without a session', () => {
  test("is the 401 page in the catalogue's words, with a link to the account page to sign in again", async () => {
    for (const [language, words, link] of [
      ['en', 'You are not signed in, or your sign-in has ended.', 'Sign in to your account'],
      ['de', 'Sie sind nicht angemeldet, oder Ihre Anmeldung ist abgelaufen.', 'Bei Ihrem Konto anmelden'],
    ] as const) {
      const answer = await new UserAgent().request(`${running.url}/account/name`, {
        form: { csrf: 'none', name: 'x' },
        headers: { 'accept-language': language },
      });
      expect(answer.status).toBe(401);
      expect(answer.body).toContain(`<html lang="${language}">`);
      expect(answer.body).toContain(words);
      expect(answer.body).toContain(`<a href="/account">${link}</a>`);
      expect(answer.body).not.toContain('Sign in through an application');
    }
  });
});

describe('sessions and apps', () => {
  test('sign out the other sessions, after a confirmation page', async () => {
    await createUser(running.env, 'lin@example.com', PASSWORD);
    const here = new UserAgent();
    const there = new UserAgent();
    await signInToAccount(running.url, 'lin@example.com', PASSWORD, here);
    await signInToAccount(running.url, 'lin@example.com', PASSWORD, there);
    const page = await here.request(`${running.url}/account`);
    expect(page.body).toContain('This browser');
    expect(page.body).toContain('Sign out the other session');
    expect(page.body).toMatch(/Signed in on [A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2} [AP]M UTC/);
    expect(page.body).not.toMatch(/\d{4}-\d{2}-\d{2}T/);
    const confirm = await here.request(`${running.url}/account/sessions/end-others`);
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain('Sign out everywhere else?');
    const ended = await here.request(`${running.url}/account/sessions/end-others`, { form: { csrf: csrfFrom(confirm.body) } });
    expect(ended.status).toBe(303);
    expect((await here.request(ended.location!)).body).toContain('Signed out of 1 other session.');
    expect((await there.request(`${running.url}/account`)).status).toBe(303);
    expect((await here.request(`${running.url}/account`)).body).toContain('You are signed in only here.');
    expect(await events('user.sessions_ended')).toHaveLength(1);
  });

  test("apps with access in plain words; revoking asks first and ends the app's tokens", async () => {
    await createUser(running.env, 'kim@example.com', PASSWORD);
    const agent = new UserAgent();
    const { tokens } = await logInWithCode(
      appConfig,
      { scope: 'openid email offline_access', prompt: 'consent' },
      { email: 'kim@example.com', password: PASSWORD, redirectUri: APP_REDIRECT, agent },
    );
    const page = await agent.request(`${running.url}/account`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Notes App');
    expect(page.body).toContain('See your email address');
    expect(page.body).toContain('Stay connected when you are not using it');
    const confirm = await agent.request(`${running.url}/account/apps/${app.client_id}/revoke`);
    expect(confirm.body).toContain('Revoke access for Notes App?');
    const revoked = await agent.request(`${running.url}/account/apps/${app.client_id}/revoke`, { form: { csrf: csrfFrom(confirm.body) } });
    expect(revoked.status).toBe(303);
    expect((await agent.request(revoked.location!)).body).toContain('Access revoked. Notes App can no longer use your account.');
    await expect(client.refreshTokenGrant(appConfig, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await agent.request(`${running.url}/account/apps/${app.client_id}/revoke`)).status).toBe(404);
  });

  test('the page speaks German to a German browser', async () => {
    const agent = new UserAgent();
    await signInToAccount(running.url, 'kim@example.com', PASSWORD, agent);
    const page = await agent.request(`${running.url}/account`, { headers: { 'accept-language': 'de-DE,de;q=0.9' } });
    expect(page.body).toContain('<html lang="de">');
    expect(page.body).toContain('Ihr Konto');
    expect(page.body).toContain('Mein Konto löschen');
    expect(page.body).toMatch(/Angemeldet am \d{1,2}\. \S+ \d{4}, \d{2}:\d{2} UTC/);
  });
});

describe('export and deletion', () => {
  test('export my data is a JSON download of the profile, grants, key metadata and audit events about me', async () => {
    const id = await createUser(running.env, 'eve@example.com', PASSWORD, 'Eve');
    const agent = new UserAgent();
    await logInWithCode(appConfig, { scope: 'openid' }, { email: 'eve@example.com', password: PASSWORD, redirectUri: APP_REDIRECT, agent });
    const key = await running.server.services.apiKeys.create({ name: 'eve key', scope: 'x', owner_user_id: id }, { type: 'admin' });
    const download = await agent.request(`${running.url}/account/export`);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toMatch(/^application\/json/);
    expect(download.headers.get('content-disposition')).toMatch(/^attachment; filename="account-\d{4}-\d{2}-\d{2}\.json"$/);
    const document = JSON.parse(download.body) as {
      profile: Record<string, unknown>;
      grants: { client_id: string }[];
      api_keys: Record<string, unknown>[];
      audit_events: { type: string }[];
      sessions: { current: boolean }[];
    };
    expect(document.profile).toMatchObject({ id, email: 'eve@example.com', name: 'Eve' });
    expect(document.grants.map((grant) => grant.client_id)).toContain(app.client_id);
    expect(document.api_keys).toEqual([expect.objectContaining({ id: key.id, name: 'eve key' })]);
    expect(download.body).not.toContain(key.key);
    expect(document.audit_events.map((event) => event.type)).toEqual(expect.arrayContaining(['user.created', 'login']));
    expect(document.sessions).toEqual([expect.objectContaining({ current: true })]);
    expect(await events('user.data_exported', id)).toHaveLength(1);
  });

  test('delete my account: confirmed with the password; data erased, keys and grants revoked, audit kept under a pseudonym', async () => {
    const id = await createUser(running.env, 'zoe@example.com', PASSWORD, 'Zoe');
    // A failed login records what was typed: the address.
    const failed = new UserAgent();
    const start = await failed.request(`${running.url}/account`);
    const { signIn } = await import('../support/browser.ts');
    await signIn(failed, start.location!, {
      email: 'zoe@example.com',
      password: 'wrong password',
      redirectUri: `${running.url}/account/callback`,
      consent: false,
    });
    expect(await prisma().auditEvent.count({ where: { subject: 'zoe@example.com' } })).toBeGreaterThan(0);

    const agent = new UserAgent();
    const { tokens } = await logInWithCode(
      appConfig,
      { scope: 'openid offline_access', prompt: 'consent' },
      { email: 'zoe@example.com', password: PASSWORD, redirectUri: APP_REDIRECT, agent },
    );
    const key = await running.server.services.apiKeys.create({ name: 'zoe key', scope: 'x', owner_user_id: id }, { type: 'admin' });
    const confirm = await agent.request(`${running.url}/account/delete`);
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain('Delete your account?');
    expect(confirm.body).toMatch(/id="password"[^>]*type="password"/);
    const wrong = await agent.request(`${running.url}/account/delete`, { form: { csrf: csrfFrom(confirm.body), password: 'not it' } });
    expect(wrong.status).toBe(303);
    expect(wrong.location).toBe(`${running.url}/account/delete`);
    const wrongPage = await agent.request(wrong.location!);
    expect(wrongPage.body).toContain('That is not your current password.');
    expect(wrongPage.body).toMatch(/id="password"[^>]*autofocus/);
    expect(await prisma().user.count({ where: { id } })).toBe(1);

    const deleted = await agent.request(`${running.url}/account/delete`, { form: { csrf: csrfFrom(confirm.body), password: PASSWORD } });
    expect(deleted.status).toBe(303);
    expect(deleted.location).toBe(`${running.url}/account/deleted`);
    expect((await agent.request(deleted.location!)).body).toContain('Your account is deleted');
    expect(await prisma().user.count({ where: { id } })).toBe(0);
    expect(await prisma().providerArtifact.count({ where: { accountId: id } })).toBe(0);
    await expect(client.refreshTokenGrant(appConfig, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await running.server.services.apiKeys.verify(key.key)).toMatchObject({ ok: false });
    const row = (await prisma().apiKey.findUnique({ where: { id: key.id } }))!;
    expect(row.revokedAt).not.toBeNull();
    expect(row.name).not.toContain('zoe');
    // The audit log is kept: by the random id, and the address replaced by a pseudonym.
    expect(await prisma().auditEvent.count({ where: { subject: 'zoe@example.com' } })).toBe(0);
    expect(await prisma().auditEvent.count({ where: { subject: { startsWith: 'erased:' } } })).toBeGreaterThan(0);
    expect(await events('user.created', id)).toHaveLength(1);
    expect(await events('user.deleted', id)).toHaveLength(1);
    const all = JSON.stringify(await prisma().auditEvent.findMany());
    expect(all).not.toContain('zoe@example.com');
    // The address is free again, and the old session is no session.
    expect((await agent.request(`${running.url}/account`)).status).toBe(303);
  });
});
