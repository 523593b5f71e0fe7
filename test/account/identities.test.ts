// The account page's linked sign-ins over real HTTP on a real server and database: the person's
// linked identities listed, unlinked after a confirmation page (CSRF, sudo mode, an audit event),
// never the last way in (409, the link stays), never someone else's (404); a person without a
// password sets one without a current one while the sign-in is recent; the data export lists the
// links without the upstream's tokens. The links are written straight to the database (a
// connection of type oauth2 needs no upstream to exist until someone signs in through it).
import crypto from 'node:crypto';
import { csrfFrom, UserAgent } from '../support/browser.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { createUser, signInToAccount } from './support.ts';

const PASSWORD = 'a long and private passphrase';
const LAST_USED = new Date('2026-01-02T03:04:05Z');
let running: RunningServer;
let connections = 0;

beforeAll(async () => {
  running = await startServer();
});
afterAll(async () => {
  await running?.stop();
});

/** A person signed in to the account page in an agent of their own. */
async function signedIn(server: RunningServer, email: string) {
  const userId = await createUser(server.env, email, PASSWORD);
  const agent = new UserAgent();
  await signInToAccount(server.url, email, PASSWORD, agent);
  return { userId, agent };
}

/** A connection (OAuth 2.0, its three endpoints) and an identity through it linked to `userId`. */
async function link(server: RunningServer, userId: string, displayName = 'Example ID', tokens: string | null = null) {
  connections += 1;
  const connection = await server.server.services.federation.connections.create(
    {
      name: `example-${connections}`,
      type: 'oauth2',
      display_name: displayName,
      authorization_url: 'https://id.example.com/authorize',
      token_url: 'https://id.example.com/token',
      userinfo_url: 'https://id.example.com/userinfo',
      client_id: 'portcullis',
      client_secret: 'the upstream client secret',
    },
    { type: 'admin' },
  );
  const id = crypto.randomUUID();
  await server.db.prisma.federatedIdentity.create({
    data: {
      id,
      connectionId: connection.id,
      subject: `upstream-subject-${connections}`,
      userId,
      email: `person${connections}@id.example.com`,
      lastUsedAt: LAST_USED,
      tokens,
    },
  });
  return { id, connection: connection.name, email: `person${connections}@id.example.com` };
}

/** A POST with the CSRF token of the page `from`, and the page its 303 leads to. */
async function submit(server: RunningServer, agent: UserAgent, path: string, form: Record<string, string>, from = '/account') {
  const page = await agent.request(`${server.url}${from}`);
  const posted = await agent.request(`${server.url}${path}`, { form: { csrf: csrfFrom(page.body), ...form } });
  expect(posted.status).toBe(303);
  return { posted, shown: await agent.request(posted.location!) };
}

const unlinkPath = (id: string) => `/account/identities/${id}/unlink`;
const identityRow = (id: string) => running.db.prisma.federatedIdentity.findUnique({ where: { id } });
const decode = (html: string) => html.replaceAll('&#39;', "'").replaceAll('&quot;', '"').replaceAll('&amp;', '&');

describe('linked sign-ins', () => {
  test('listed on the account page: the connection, the upstream address, when linked and last used', async () => {
    const { userId, agent } = await signedIn(running, 'listed@example.com');
    const before = await agent.request(`${running.url}/account`);
    // Nothing linked: no section.
    expect(before.body).not.toContain('Linked sign-ins');

    const identity = await link(running, userId, 'Acme Workforce');
    const page = await agent.request(`${running.url}/account`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<h2 id="identities-heading">Linked sign-ins</h2>');
    expect(page.body).toContain('<strong>Acme Workforce</strong>');
    expect(page.body).toContain(identity.email);
    expect(page.body).toMatch(/Linked [A-Z][a-z]{2} \d{1,2}, 20\d\d/);
    expect(page.body).toMatch(/last used Jan 2, 2026/);
    expect(page.body).toContain(`action="${unlinkPath(identity.id)}"`);
    expect(page.body).toContain('aria-label="Unlink Acme Workforce"');

    const german = await agent.request(`${running.url}/account`, { headers: { 'accept-language': 'de' } });
    expect(german.body).toContain('Verknüpfte Anmeldungen');
    expect(german.body).toContain('Verknüpft am');
  });

  test('unlinked after a confirmation page; refused without the CSRF token; an audit event', async () => {
    const { userId, agent } = await signedIn(running, 'unlink@example.com');
    const identity = await link(running, userId, 'Acme Workforce');

    const confirm = await agent.request(`${running.url}${unlinkPath(identity.id)}`);
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain('Unlink Acme Workforce?');
    expect(confirm.body).toContain(`action="${unlinkPath(identity.id)}"`);
    // A recent sign-in: no password asked.
    expect(confirm.body).not.toContain('id="password"');
    expect(await identityRow(identity.id)).not.toBeNull();

    const forged = await agent.request(`${running.url}${unlinkPath(identity.id)}`, { form: { csrf: 'not-the-token' } });
    expect(forged.status).toBe(403);
    const missing = await agent.request(`${running.url}${unlinkPath(identity.id)}`, { form: {} });
    expect(missing.status).toBe(403);
    expect(await identityRow(identity.id)).not.toBeNull();

    const unlinked = await submit(running, agent, unlinkPath(identity.id), {}, unlinkPath(identity.id));
    expect(unlinked.posted.location).toBe(`${running.url}/account`);
    expect(unlinked.shown.status).toBe(200);
    expect(unlinked.shown.body).toContain('Acme Workforce is unlinked: you can no longer sign in with it.');
    expect(unlinked.shown.body).not.toContain('Linked sign-ins');
    expect(await identityRow(identity.id)).toBeNull();
    const events = await running.db.prisma.auditEvent.findMany({ where: { type: 'identity.unlinked', subject: userId } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actorType: 'user', actorId: userId, outcome: 'success' });
    expect(events[0]!.details).toEqual({ connection: identity.connection });

    // Gone: its confirmation page is not found.
    expect((await agent.request(`${running.url}${unlinkPath(identity.id)}`)).status).toBe(404);
  });

  test('the last way in (no password, no passkey, no other link) is refused with 409 and stays', async () => {
    const { userId, agent } = await signedIn(running, 'last@example.com');
    const identity = await link(running, userId, 'Acme Workforce');
    await running.db.prisma.user.update({ where: { id: userId }, data: { passwordHash: null } });

    const confirm = await agent.request(`${running.url}${unlinkPath(identity.id)}`);
    expect(confirm.status).toBe(200);
    // Nothing to type: the person has no password.
    expect(confirm.body).not.toContain('id="password"');

    const refused = await submit(running, agent, unlinkPath(identity.id), {}, unlinkPath(identity.id));
    expect(refused.posted.location).toBe(`${running.url}/account`);
    expect(refused.shown.status).toBe(409);
    expect(decode(refused.shown.body)).toContain(
      'Acme Workforce is your only way to sign in: you have no password, no passkey and no other linked sign-in. Set a password first, then unlink it.',
    );
    expect(refused.shown.body).toContain('role="alert"');
    expect(await identityRow(identity.id)).not.toBeNull();
    expect(await running.db.prisma.auditEvent.count({ where: { type: 'identity.unlinked', subject: userId } })).toBe(0);
    // The status belongs to the refusal: a reload is the page as usual.
    expect((await agent.request(`${running.url}/account`)).status).toBe(200);

    // With another link, this one may go (the other is a way in).
    const other = await link(running, userId, 'Other ID');
    const unlinked = await submit(running, agent, unlinkPath(identity.id), {}, unlinkPath(identity.id));
    expect(unlinked.shown.status).toBe(200);
    expect(await identityRow(identity.id)).toBeNull();
    // The other is now the last one.
    const last = await submit(running, agent, unlinkPath(other.id), {}, unlinkPath(other.id));
    expect(last.shown.status).toBe(409);
    expect(await identityRow(other.id)).not.toBeNull();
  });

  test("a person cannot see or unlink another person's linked sign-in (404)", async () => {
    const owner = await signedIn(running, 'owner@example.com');
    const identity = await link(running, owner.userId, 'Acme Workforce');
    const other = await signedIn(running, 'other@example.com');

    expect((await other.agent.request(`${running.url}/account`)).body).not.toContain('Acme Workforce');
    const confirm = await other.agent.request(`${running.url}${unlinkPath(identity.id)}`);
    expect(confirm.status).toBe(404);
    expect(confirm.body).toContain('There is no such linked sign-in on your account.');
    const page = await other.agent.request(`${running.url}/account`);
    const posted = await other.agent.request(`${running.url}${unlinkPath(identity.id)}`, { form: { csrf: csrfFrom(page.body) } });
    expect(posted.status).toBe(404);
    expect(await identityRow(identity.id)).not.toBeNull();
    expect(await running.db.prisma.auditEvent.count({ where: { type: 'identity.unlinked', subject: owner.userId } })).toBe(0);
  });

  test('the data export lists the linked sign-ins, never the upstream tokens', async () => {
    const { userId, agent } = await signedIn(running, 'export@example.com');
    const identity = await link(running, userId, 'Acme Workforce', 'sealed-upstream-tokens-marker');
    const download = await agent.request(`${running.url}/account/export`);
    expect(download.status).toBe(200);
    expect(download.body).not.toContain('sealed-upstream-tokens-marker');
    const document = JSON.parse(download.body) as { linked_identities: Record<string, unknown>[] };
    expect(document.linked_identities).toEqual([
      {
        id: identity.id,
        connection: identity.connection,
        display_name: 'Acme Workforce',
        subject: expect.stringMatching(/^upstream-subject-/),
        email: identity.email,
        created_at: expect.stringMatching(/^20\d\d-/),
        last_used_at: LAST_USED.toISOString(),
      },
    ]);
  });
});

describe('a person without a password', () => {
  test('sets one without a current password while the sign-in is recent, and signs in with it', async () => {
    const { userId, agent } = await signedIn(running, 'nopassword@example.com');
    await running.db.prisma.user.update({ where: { id: userId }, data: { passwordHash: null } });
    const page = await agent.request(`${running.url}/account`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Your account has no password');
    expect(page.body).not.toContain('id="current-password"');
    expect(page.body).toContain('>Set a password</button>');

    const weak = await submit(running, agent, '/account/password', { new_password: 'short' });
    expect(weak.shown.body).toContain('at least 8 characters');
    expect((await running.db.prisma.user.findUnique({ where: { id: userId } }))!.passwordHash).toBeNull();

    const set = await submit(running, agent, '/account/password', { new_password: 'a brand new passphrase' });
    expect(set.shown.status).toBe(200);
    expect(set.shown.body).toContain('Your password is set.');
    expect(await running.server.services.users.verifyLogin('nopassword@example.com', 'a brand new passphrase')).toBeTruthy();
    expect(await running.db.prisma.auditEvent.count({ where: { type: 'user.password_changed', subject: userId } })).toBe(1);
    // Now it has one, changing it needs it.
    const after = await agent.request(`${running.url}/account`);
    expect(after.body).toContain('id="current-password"');
    const without = await submit(running, agent, '/account/password', { new_password: 'yet another passphrase' });
    expect(without.shown.body).toContain('That is not your current password.');
  });

  test('deletes their account without a password while the sign-in is recent', async () => {
    const { userId, agent } = await signedIn(running, 'delete-nopassword@example.com');
    await running.db.prisma.user.update({ where: { id: userId }, data: { passwordHash: null } });
    const identity = await link(running, userId);
    const confirm = await agent.request(`${running.url}/account/delete`);
    expect(confirm.status).toBe(200);
    expect(confirm.body).not.toContain('id="password"');
    const page = await agent.request(`${running.url}/account/delete`);
    const posted = await agent.request(`${running.url}/account/delete`, { form: { csrf: csrfFrom(page.body) } });
    expect(posted.status).toBe(303);
    expect(posted.location).toBe(`${running.url}/account/deleted`);
    expect(await running.db.prisma.user.count({ where: { id: userId } })).toBe(0);
    // Its links went with it.
    expect(await identityRow(identity.id)).toBeNull();
  });
});

describe('sudo mode (a sign-in more than RECENT_SIGN_IN_SECONDS ago)', () => {
  let sudo: RunningServer;
  let withPassword: { userId: string; agent: UserAgent };
  let withoutPassword: { userId: string; agent: UserAgent };
  beforeAll(async () => {
    sudo = await startServer({ RECENT_SIGN_IN_SECONDS: '1' });
    withPassword = await signedIn(sudo, 'sudo-password@example.com');
    withoutPassword = await signedIn(sudo, 'sudo-none@example.com');
    await sudo.db.prisma.user.update({ where: { id: withoutPassword.userId }, data: { passwordHash: null } });
    await new Promise((resolve) => setTimeout(resolve, 2100));
  });
  afterAll(async () => {
    await sudo?.stop();
  });

  test('unlinking needs the password again', async () => {
    const { userId, agent } = withPassword;
    const identity = await link(sudo, userId);
    const path = unlinkPath(identity.id);
    const confirm = await agent.request(`${sudo.url}${path}`);
    expect(confirm.body).toMatch(/id="password" name="password" type="password"/);
    const refused = await submit(sudo, agent, path, { password: 'not it' }, path);
    expect(refused.posted.location).toBe(`${sudo.url}${path}`);
    expect(refused.shown.body).toContain('Confirm it is you: enter your password.');
    expect(await sudo.db.prisma.federatedIdentity.count({ where: { id: identity.id } })).toBe(1);
    const unlinked = await submit(sudo, agent, path, { password: PASSWORD }, path);
    expect(unlinked.posted.location).toBe(`${sudo.url}/account`);
    expect(await sudo.db.prisma.federatedIdentity.count({ where: { id: identity.id } })).toBe(0);
  });

  test('without a password: no unlink and no new password until a new sign-in; the page says how', async () => {
    const { userId, agent } = withoutPassword;
    const identity = await link(sudo, userId);
    await link(sudo, userId, 'Second ID');
    const path = unlinkPath(identity.id);
    const confirm = await agent.request(`${sudo.url}${path}`);
    expect(confirm.status).toBe(200);
    expect(confirm.body).not.toContain('id="password"');
    expect(confirm.body).toContain('Sign out and sign in again to do this.');
    const refused = await submit(sudo, agent, path, {}, path);
    expect(refused.posted.location).toBe(`${sudo.url}${path}`);
    expect(refused.shown.body).toContain('Sign out and sign in again to do this.');
    expect(await sudo.db.prisma.federatedIdentity.count({ where: { id: identity.id } })).toBe(1);

    const page = await agent.request(`${sudo.url}/account`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('sign out and sign in again to set a password here');
    expect(page.body).not.toContain('name="new_password"');
    const set = await submit(sudo, agent, '/account/password', { new_password: 'a brand new passphrase' });
    expect(set.shown.status).toBe(200);
    expect(set.shown.body).toContain('sign out and sign in again to set a password here');
    expect((await sudo.db.prisma.user.findUnique({ where: { id: userId } }))!.passwordHash).toBeNull();

    // Nor a deletion: the sign-in is not recent and there is no password to ask for.
    const deletion = await submit(sudo, agent, '/account/delete', {}, '/account/delete');
    expect(deletion.posted.location).toBe(`${sudo.url}/account/delete`);
    expect(deletion.shown.body).toContain('sign out and sign in again to delete your account');
    expect(await sudo.db.prisma.user.count({ where: { id: userId } })).toBe(1);
  });
});
