// What a person sees of their organizations, over real HTTP on a real server and database, with a
// real SMTP server for the invitations: the account page's "Organizations" section (theirs and
// their roles; leaving one through its confirmation page; making one when
// ORGANIZATION_CREATION=people), and the page of an invitation's mailed link: shown by its GET
// (never accepted: mail scanners fetch links), signed out a sign-in that comes back to it, signed
// in an Accept button whose POST joins and lands on the account page with "You joined NAME";
// another person's, a used, an expired and an unknown invitation each on a page of its own (4xx);
// and the developer page's keys of the organizations whose keys a person's roles manage.
import { CLI_ACTOR } from '../../src/audit/index.ts';
import { csrfFrom } from '../support/browser.ts';
import { linkIn, startMailServer, type MailServer } from '../support/mail.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { signInToAccount, UserAgent } from '../account/support.ts';

const PASSWORD = 'a long and memorable passphrase';
const BILLING = 'https://billing.example.com';
let mail: MailServer;
let running: RunningServer;
let acme: { id: string };
let globex: { id: string };
let people = 0;
const services = () => running.server.services;
const prisma = () => running.db.prisma;

beforeAll(async () => {
  mail = await startMailServer();
  running = await startServer({ SMTP_URL: mail.url, SIGNUP: 'open', ORGANIZATION_CREATION: 'people', ORGANIZATION_OWNER_ROLES: 'owner' });
  const { resources, organizations } = services();
  await resources.create(
    { audience: BILLING, name: 'Billing API', scope: 'invoices:read invoices:write', personal_key_scope: 'invoices:read' },
    CLI_ACTOR,
  );
  await organizations.createRole(
    { name: 'owner', description: 'Runs the organization and its keys', permissions: [`${BILLING}:invoices:write`], manage_keys: true },
    CLI_ACTOR,
  );
  await organizations.createRole(
    { name: 'viewer', description: 'Reads the invoices', permissions: [`${BILLING}:invoices:read`] },
    CLI_ACTOR,
  );
  acme = await organizations.create({ name: 'Acme Corporation' }, CLI_ACTOR);
  globex = await organizations.create({ name: 'Globex' }, CLI_ACTOR);
});
afterAll(async () => {
  await running.stop();
  await mail.close();
});

/** A new person, members of these organizations with these roles. */
async function person(memberships: [organizationId: string, roles: string[]][] = []) {
  people += 1;
  const email = `organizations${people}@example.com`;
  const { id } = await services().users.create({ email, password: PASSWORD }, CLI_ACTOR);
  for (const [organizationId, roles] of memberships)
    await services().organizations.addMember(organizationId, { user_id: id, roles }, CLI_ACTOR);
  return { id, email };
}

/** A person signed in to their account page. */
async function signedIn(memberships: [organizationId: string, roles: string[]][] = []) {
  const who = await person(memberships);
  const agent = new UserAgent();
  await signInToAccount(running.url, who.email, PASSWORD, agent);
  return { ...who, agent };
}

/** A form POST of a signed-in agent, with the CSRF token of the page it came from. */
async function post(agent: UserAgent, path: string, form: Record<string, string>, from = '/account') {
  const page = await agent.request(`${running.url}${from}`);
  return agent.request(`${running.url}${path}`, { form: { csrf: csrfFrom(page.body), ...form } });
}

/** The text of a page, tags dropped and spaces joined, as a person reads it. */
const text = (html: string) =>
  html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#39;/g, "'")
    .replace(/\s+/g, ' ');

/** Invites `email` to `organizationId` as its administrator would, and returns the mailed link. */
async function invite(organizationId: string, email: string, roles: string[] = ['viewer']): Promise<string> {
  const before = mail.to(email).length;
  await services().organizations.invite(organizationId, { email, roles }, CLI_ACTOR);
  return linkIn(await mail.next(email, { after: before }), `${running.url}/organization-invitation?token=`);
}

describe('the account page', () => {
  test('lists my organizations by name with my roles, each with a Leave button', async () => {
    const { agent } = await signedIn([
      [acme.id, ['viewer', 'owner']],
      [globex.id, []],
    ]);
    const page = await agent.request(`${running.url}/account`);
    expect(page.status).toBe(200);
    const words = text(page.body);
    expect(words).toContain('Organizations');
    expect(words).toContain('Acme Corporation Your roles: owner, viewer');
    expect(words).toContain('Globex A member without roles');
    expect(page.body).toContain(`action="/account/organizations/${acme.id}/leave"`);
    expect(page.body).toContain('aria-label="Leave Globex"');
  });

  test('leaving: a confirmation page, then the POST ends the membership and says so once', async () => {
    const { agent, id } = await signedIn([[acme.id, ['viewer']]]);
    const confirm = await agent.request(`${running.url}/account/organizations/${acme.id}/leave`);
    expect(confirm.status).toBe(200);
    expect(text(confirm.body)).toContain('Leave Acme Corporation?');
    expect(await services().organizations.membership(id, acme.id)).toBeDefined();

    const left = await agent.request(`${running.url}/account/organizations/${acme.id}/leave`, { form: { csrf: csrfFrom(confirm.body) } });
    expect(left.status).toBe(303);
    expect(left.location).toBe(`${running.url}/account`);
    const page = await agent.request(left.location!);
    expect(text(page.body)).toContain('You left Acme Corporation.');
    expect(page.body).not.toContain(`/account/organizations/${acme.id}/leave`);
    expect(text((await agent.request(left.location!)).body)).not.toContain('You left Acme Corporation.');
    expect(await services().organizations.membership(id, acme.id)).toBeUndefined();
    const event = await prisma().auditEvent.findFirst({ where: { type: 'organization.member_left', actorId: id } });
    expect(event).toMatchObject({ subject: acme.id, actorType: 'user' });
  });

  test("an organization I am not in has no leave page (404), and its POST changes nothing; a POST without the form's token is refused", async () => {
    const { agent } = await signedIn([[acme.id, ['viewer']]]);
    const other = await person([[globex.id, ['viewer']]]);
    expect((await agent.request(`${running.url}/account/organizations/${globex.id}/leave`)).status).toBe(404);
    const refused = await post(agent, `/account/organizations/${globex.id}/leave`, {});
    expect(refused.status).toBe(303);
    expect(text((await agent.request(refused.location!)).body)).toContain('You are not a member of this organization.');
    expect(await services().organizations.membership(other.id, globex.id)).toBeDefined();
    const forged = await agent.request(`${running.url}/account/organizations/${acme.id}/leave`, { form: { csrf: 'forged' } });
    expect(forged.status).toBe(403);
  });

  test('with ORGANIZATION_CREATION=people, making an organization: its maker is its member with the owner roles', async () => {
    const { agent, id } = await signedIn();
    const page = await agent.request(`${running.url}/account`);
    expect(page.body).toContain('action="/account/organizations"');
    expect(text(page.body)).toContain('You are not a member of any organization.');
    const made = await post(agent, '/account/organizations', { name: 'Initech' });
    expect(made.status).toBe(303);
    const after = await agent.request(made.location!);
    expect(text(after.body)).toContain('You made Initech. You are its first member.');
    expect(text(after.body)).toContain('Initech Your roles: owner');
    const [mine] = await services().organizations.organizationsOf(id);
    expect(mine).toMatchObject({ name: 'Initech', roles: ['owner'], manage_keys: true });

    const empty = await post(agent, '/account/organizations', { name: '   ' });
    const refused = await agent.request(empty.location!);
    expect(text(refused.body)).toContain('The organization was not made');
    expect(refused.body).toMatch(/id="organization-name"[^>]*autofocus aria-invalid="true"/);
    expect(await services().organizations.organizationsOf(id)).toHaveLength(1);
  });
});

describe('an invitation', () => {
  test('signed out: the page explains and offers a sign-in that comes back to it; Accept joins and lands on the account page', async () => {
    const invitee = await person();
    const link = await invite(acme.id, invitee.email, ['viewer']);
    const agent = new UserAgent();
    // The link, fetched twice (a mail scanner, then the person): it only shows.
    await new UserAgent().request(link);
    const page = await agent.request(link);
    expect(page.status).toBe(200);
    const words = text(page.body);
    expect(words).toContain('Join Acme Corporation');
    expect(words).toContain(`The invitation was sent to ${invitee.email}`);
    expect(words).toContain('viewer Reads the invoices');
    expect(page.body).toContain('href="/account/organization-invitation"');
    // Sign-up is open here: an account can be made for the address.
    expect(page.body).toContain('href="/signup"');
    expect(page.body).not.toContain('name="token"');
    expect(await services().organizations.membership(invitee.id, acme.id)).toBeUndefined();
    // The token waits for the way back in a sealed cookie of the invitation page, not in a URL.
    const kept = (await agent.jar.getCookies(`${running.url}/account/organization-invitation`)).find(
      (cookie) => cookie.key === 'portcullis.organization-invitation',
    );
    expect(kept?.httpOnly).toBe(true);
    expect(kept?.value).not.toContain(new URL(link).searchParams.get('token')!);

    const back = await signInToAccount(running.url, invitee.email, PASSWORD, agent, '/account/organization-invitation');
    expect(back.location).toBe(`${running.url}/account/organization-invitation`);
    const signedIn = await agent.request(back.location!);
    expect(signedIn.status).toBe(200);
    expect(text(signedIn.body)).toContain(`You are signed in as ${invitee.email}`);
    expect(signedIn.body).toContain('>Join Acme Corporation</button>');

    const accepted = await agent.request(`${running.url}/account/organization-invitation`, {
      form: { csrf: csrfFrom(signedIn.body), token: new URL(link).searchParams.get('token')! },
    });
    expect(accepted.status).toBe(303);
    expect(accepted.location).toBe(`${running.url}/account`);
    const account = await agent.request(accepted.location!);
    expect(text(account.body)).toContain('You joined Acme Corporation.');
    expect(text(account.body)).toContain('Acme Corporation Your roles: viewer');
    expect(await services().organizations.membership(invitee.id, acme.id)).toMatchObject({ roles: ['viewer'] });
    // Used, the link says so (410), signed in or not.
    const used = await agent.request(link);
    expect(used.status).toBe(410);
    expect(text(used.body)).toContain('This invitation was already accepted.');
    // And the kept token is gone with its acceptance.
    expect((await agent.request(`${running.url}/account/organization-invitation`)).status).toBe(400);
  });

  test('signed in already: the link shows the Accept button at once', async () => {
    const { agent, email, id } = await signedIn([[acme.id, ['viewer']]]);
    const link = await invite(globex.id, email, ['owner', 'viewer']);
    const page = await agent.request(link);
    expect(page.status).toBe(200);
    expect(text(page.body)).toContain('owner Runs the organization and its keys');
    expect(await services().organizations.membership(id, globex.id)).toBeUndefined();
    const accepted = await agent.request(`${running.url}/account/organization-invitation`, {
      form: { csrf: csrfFrom(page.body), token: new URL(link).searchParams.get('token')! },
    });
    expect(accepted.status).toBe(303);
    expect(text((await agent.request(accepted.location!)).body)).toContain('You joined Globex.');
    expect(await services().organizations.membership(id, globex.id)).toMatchObject({ roles: ['owner', 'viewer'], manageKeys: true });
  });

  test("another person's invitation: a page that says whose it is (403), and its POST joins nobody", async () => {
    const invitee = await person();
    const { agent, id, email } = await signedIn();
    const link = await invite(acme.id, invitee.email);
    const page = await agent.request(link);
    expect(page.status).toBe(403);
    expect(text(page.body)).toContain(`You are signed in as ${email}, but this invitation was sent to ${invitee.email}.`);
    expect(page.body).not.toContain('name="token"');
    const account = await agent.request(`${running.url}/account`);
    const posted = await agent.request(`${running.url}/account/organization-invitation`, {
      form: { csrf: csrfFrom(account.body), token: new URL(link).searchParams.get('token')! },
    });
    expect(posted.status).toBe(403);
    expect(await services().organizations.membership(id, acme.id)).toBeUndefined();
    expect(await services().organizations.membership(invitee.id, acme.id)).toBeUndefined();
    // Still open for the person it was sent to.
    expect((await new UserAgent().request(link)).status).toBe(200);
  });

  test('an expired, an unknown, a withdrawn invitation and a lost token each have a page of their own (4xx), never a 500', async () => {
    const invitee = await person();
    const link = await invite(acme.id, invitee.email);
    const [invitation] = await services().organizations.invitations(acme.id);
    await prisma().organizationInvitation.update({ where: { id: invitation!.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const expired = await new UserAgent().request(link);
    expect(expired.status).toBe(410);
    expect(text(expired.body)).toContain('This invitation has expired.');

    const unknown = await new UserAgent().request(`${running.url}/organization-invitation?token=not-a-token-we-ever-sent-out`);
    expect(unknown.status).toBe(400);
    expect(text(unknown.body)).toContain('The link is incomplete');
    expect((await new UserAgent().request(`${running.url}/organization-invitation`)).status).toBe(400);

    const withdrawn = await invite(globex.id, invitee.email);
    const open = (await services().organizations.invitations(globex.id)).find((item) => !item.revoked_at && !item.accepted_at);
    await services().organizations.revokeInvitation(globex.id, open!.id, CLI_ACTOR);
    expect((await new UserAgent().request(withdrawn)).status).toBe(400);

    // Signed in, with no invitation kept for this browser: open the link again.
    const { agent } = await signedIn();
    const lost = await agent.request(`${running.url}/account/organization-invitation`);
    expect(lost.status).toBe(400);
    expect(text(lost.body)).toContain('Open the link in the mail again.');
    const account = await agent.request(`${running.url}/account`);
    const forged = await agent.request(`${running.url}/account/organization-invitation`, {
      form: { csrf: csrfFrom(account.body), token: 'x'.repeat(43) },
    });
    expect(forged.status).toBe(400);
  });

  test('in German, the invitation page is in German', async () => {
    const invitee = await person();
    const link = await invite(acme.id, invitee.email);
    const page = await new UserAgent().request(link, { headers: { 'accept-language': 'de' } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<html lang="de">');
    expect(text(page.body)).toContain('Acme Corporation beitreten');
  });
});

describe('the developer page', () => {
  test('on an API that decides by roles, the form for a key of my own offers only the scopes my roles give', async () => {
    const audience = 'https://reports.example.com';
    await services().resources.create(
      { audience, name: 'Reports API', scope: 'reports:read reports:write', personal_key_scope: 'reports:read reports:write', rbac: true },
      CLI_ACTOR,
    );
    try {
      const { agent, id } = await signedIn();
      const mine = (page: string) => page.split('Keys of ')[0]!;
      // No role: the API is not offered for a key of one's own at all.
      expect(mine((await agent.request(`${running.url}/account/keys`)).body)).not.toContain('Reports API');
      await services().roles.create({ name: 'report-reader', permissions: [`${audience}:reports:read`] }, CLI_ACTOR);
      await services().roles.assign('report-reader', { user_id: id }, CLI_ACTOR);
      const page = mine((await agent.request(`${running.url}/account/keys`)).body);
      expect(page).toContain('Reports API');
      expect(page).toContain('value="reports:read"');
      expect(page).not.toContain('value="reports:write"');
    } finally {
      await services()
        .roles.delete('report-reader', CLI_ACTOR)
        .catch(() => undefined);
      await services().resources.delete({ audience }, CLI_ACTOR);
    }
  });

  test("a member whose roles manage the organization's keys lists, creates (shown once) and revokes them", async () => {
    const { agent, id } = await signedIn([
      [acme.id, ['owner']],
      [globex.id, ['viewer']],
    ]);
    const page = await agent.request(`${running.url}/account/keys`);
    expect(page.status).toBe(200);
    expect(text(page.body)).toContain('Keys of Acme Corporation');
    expect(text(page.body)).toContain('This organization has no API keys yet.');
    // Globex: a viewer there manages no keys.
    expect(page.body).not.toContain('Keys of Globex');
    expect(page.body).toContain(`name="organization_id" value="${acme.id}"`);

    const created = await agent.request(`${running.url}/account/keys`, {
      form: {
        csrf: csrfFrom(page.body),
        form: 'o0-0',
        audience: BILLING,
        organization_id: acme.id,
        name: 'Acme nightly',
        scope: 'invoices:read',
        expires: String(30 * 86_400),
      },
    });
    expect(created.status).toBe(303);
    const shown = await agent.request(created.location!);
    const key = /id="new-key"[^>]*value="([^"]+)"/.exec(shown.body)?.[1];
    expect(key).toMatch(/^pcl_/);
    expect(text(shown.body)).toContain('Acme nightly');
    // Shown once.
    expect((await agent.request(created.location!)).body).not.toContain(key!);
    const [made] = await services().apiKeys.list({ organizationId: acme.id });
    expect(made).toMatchObject({ name: 'Acme nightly', organization_id: acme.id, owner: null, scope: 'invoices:read' });
    expect(await services().apiKeys.list({ ownerUserId: id })).toEqual([]);
    expect((await services().apiKeys.verify(key)).ok).toBe(true);

    const confirm = await agent.request(`${running.url}/account/keys/${made!.id}/revoke`);
    expect(confirm.status).toBe(200);
    expect(text(confirm.body)).toContain('Revoke the key Acme nightly?');
    const revoked = await agent.request(`${running.url}/account/keys/${made!.id}/revoke`, { form: { csrf: csrfFrom(confirm.body) } });
    expect(revoked.status).toBe(303);
    expect(text((await agent.request(revoked.location!)).body)).toContain('Revoked Acme nightly.');
    expect((await services().apiKeys.list({ organizationId: acme.id }))[0]!.revoked_at).not.toBeNull();
  });

  test('a member whose roles do not manage the keys is refused: no section, a refusal for a forged form, no revoke page', async () => {
    const key = await services().apiKeys.create(
      { name: 'Globex sync', scope: 'invoices:read', audiences: [BILLING], organization_id: globex.id },
      CLI_ACTOR,
    );
    const { agent } = await signedIn([[globex.id, ['viewer']]]);
    const page = await agent.request(`${running.url}/account/keys`);
    expect(page.body).not.toContain('Globex sync');
    const forged = await agent.request(`${running.url}/account/keys`, {
      form: {
        csrf: csrfFrom(page.body),
        form: 'o0-0',
        audience: BILLING,
        organization_id: globex.id,
        name: 'Mine now',
        scope: 'invoices:read',
      },
    });
    expect(forged.status).toBe(303);
    const refused = await agent.request(forged.location!);
    expect(text(refused.body)).toContain('your roles in this organization do not manage its keys');
    expect(await services().apiKeys.list({ organizationId: globex.id })).toHaveLength(1);
    expect((await agent.request(`${running.url}/account/keys/${key.id}/revoke`)).status).toBe(404);
    const revoked = await agent.request(`${running.url}/account/keys/${key.id}/revoke`, { form: { csrf: csrfFrom(page.body) } });
    expect(text((await agent.request(revoked.location!)).body)).toContain('There is no such key.');
    expect((await services().apiKeys.list({ organizationId: globex.id }))[0]!.revoked_at).toBeNull();
  });
});
