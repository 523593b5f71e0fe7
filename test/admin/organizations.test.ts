// The admin API's organizations (/admin/organizations, /admin/organization-roles, members and
// invitations), over real HTTP with an admin bearer token and a real SMTP server for the mail:
// round trips in the wire's names, one audit event per change with the admin client as the actor,
// an invitation's mail through the outbox, and an organization that still owns keys or clients kept.
import { adminRoutes } from '../../src/admin/index.ts';
import { adminCaller } from '../support/admin.ts';
import { linkIn, startMailServer, type MailServer } from '../support/mail.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const BILLING = 'https://billing.example.com';

let running: RunningServer;
let mail: MailServer;
let writeToken: string;
let readToken: string;
let writerId: string;
let ada: string;
let grace: string;

async function admin(method: string, path: string, body?: unknown, token = writeToken) {
  const response = await fetch(`${running.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** Calls a route by its template and checks the answer against the route's documented response schema. */
async function documented(method: string, template: string, path = template, body?: unknown) {
  const route = adminRoutes.find((candidate) => candidate.method === method.toLowerCase() && candidate.path === template);
  expect(route).toBeDefined();
  const answer = await admin(method, path, body);
  expect([path, answer.status]).toEqual([path, route!.status ?? 200]);
  if (route!.response) expect([path, route!.response.safeParse(answer.body).error?.issues ?? []]).toEqual([path, []]);
  return answer.body;
}

/** The events of `type` about `subject`, newest first, as the admin API lists them. */
async function events(type: string, subject: string) {
  const page = await admin('GET', `/admin/audit-events?type=${type}&subject=${encodeURIComponent(subject)}`);
  expect(page.status).toBe(200);
  return page.body.events as { type: string; actorType: string; actorId?: string; subject: string; details?: Record<string, unknown> }[];
}

const byAdmin = (details?: Record<string, unknown>) =>
  expect.objectContaining({ actorType: 'admin', actorId: writerId, ...(details ? { details } : {}) });

async function organization(name: string): Promise<string> {
  const made = await admin('POST', '/admin/organizations', { name });
  expect(made.status).toBe(201);
  return made.body.id as string;
}

beforeAll(async () => {
  mail = await startMailServer();
  running = await startServer({ SMTP_URL: mail.url });
  ({ clientId: writerId, token: writeToken } = await adminCaller(running, 'admin:write'));
  readToken = (await adminCaller(running, 'admin:read')).token;
  expect((await admin('POST', '/admin/resources', { audience: BILLING, scope: 'invoices:read invoices:write' })).status).toBe(201);
  ada = (await admin('POST', '/admin/users', { email: 'ada@example.com', password: 'long enough password' })).body.id;
  grace = (await admin('POST', '/admin/users', { email: 'grace@example.com', password: 'long enough password' })).body.id;
  for (const role of [
    { name: 'owner', permissions: [`${BILLING}:invoices:read`, `${BILLING}:invoices:write`], manage_keys: true },
    { name: 'viewer', permissions: [`${BILLING}:invoices:read`] },
  ])
    expect((await admin('POST', '/admin/organization-roles', role)).status).toBe(201);
});
afterAll(async () => {
  await running.stop();
  await mail.close();
});

test('an organization: made, listed, read, changed and deleted, each change one audit event by the admin client', async () => {
  const made = await documented('POST', '/admin/organizations', undefined, { name: ' Acme ', description: 'First customer' });
  expect(made).toMatchObject({
    name: 'Acme',
    description: 'First customer',
    created_by: null,
    resource: `urn:portcullis:organization:${made.id}`,
  });
  expect((await documented('GET', '/admin/organizations')).map((entry: { id: string }) => entry.id)).toContain(made.id);
  expect(await documented('GET', '/admin/organizations/{id}', `/admin/organizations/${made.id}`)).toMatchObject({
    name: 'Acme',
    members: 0,
  });
  expect(
    await documented('PATCH', '/admin/organizations/{id}', `/admin/organizations/${made.id}`, { name: 'Acme Corporation' }),
  ).toMatchObject({ name: 'Acme Corporation', description: 'First customer' });
  expect(await events('organization.created', made.id)).toEqual([byAdmin({ name: 'Acme' })]);
  expect(await events('organization.updated', made.id)).toEqual([byAdmin({ name: 'Acme Corporation' })]);
  await documented('DELETE', '/admin/organizations/{id}', `/admin/organizations/${made.id}`);
  expect((await admin('GET', `/admin/organizations/${made.id}`)).status).toBe(404);
  expect(await events('organization.deleted', made.id)).toEqual([byAdmin()]);
});

test('the template of organization roles: made, listed, read, changed and deleted', async () => {
  const made = await documented('POST', '/admin/organization-roles', undefined, {
    name: 'auditor',
    description: 'Reads the books',
    permissions: [`${BILLING}:invoices:read`],
  });
  expect(made).toMatchObject({ name: 'auditor', manage_keys: false, permissions: [`${BILLING}:invoices:read`] });
  expect((await documented('GET', '/admin/organization-roles')).map((role: { name: string }) => role.name)).toEqual([
    'auditor',
    'owner',
    'viewer',
  ]);
  expect(await documented('GET', '/admin/organization-roles/{name}', '/admin/organization-roles/auditor')).toEqual(made);
  expect(
    await documented('PATCH', '/admin/organization-roles/{name}', '/admin/organization-roles/auditor', {
      manage_keys: true,
      permissions: [],
    }),
  ).toMatchObject({ manage_keys: true, permissions: [], description: 'Reads the books' });
  expect(await events('organization_role.created', 'auditor')).toEqual([
    byAdmin({ permissions: [`${BILLING}:invoices:read`], manage_keys: false }),
  ]);
  expect(await events('organization_role.updated', 'auditor')).toEqual([byAdmin({ permissions: [], manage_keys: true })]);
  await documented('DELETE', '/admin/organization-roles/{name}', '/admin/organization-roles/auditor');
  expect((await admin('GET', '/admin/organization-roles/auditor')).status).toBe(404);
  expect(await events('organization_role.deleted', 'auditor')).toEqual([byAdmin()]);
});

test('members: added with roles, listed, their roles replaced, removed', async () => {
  const id = await organization('Members Inc');
  const added = await documented('POST', '/admin/organizations/{id}/members', `/admin/organizations/${id}/members`, {
    user_id: ada,
    roles: ['viewer'],
  });
  expect(added).toMatchObject({ user_id: ada, email: 'ada@example.com', roles: ['viewer'] });
  await documented('POST', '/admin/organizations/{id}/members', `/admin/organizations/${id}/members`, { user_id: grace });
  expect(await documented('GET', '/admin/organizations/{id}/members', `/admin/organizations/${id}/members`)).toEqual([
    expect.objectContaining({ user_id: ada, roles: ['viewer'] }),
    expect.objectContaining({ user_id: grace, roles: [] }),
  ]);
  expect((await admin('GET', `/admin/organizations/${id}`)).body.members).toBe(2);
  expect(
    await documented('PATCH', '/admin/organizations/{id}/members/{user_id}', `/admin/organizations/${id}/members/${ada}`, {
      roles: ['viewer', 'owner'],
    }),
  ).toMatchObject({ user_id: ada, roles: ['owner', 'viewer'] });
  // What the token endpoint reads for the organization's tokens.
  expect(await running.server.services.organizations.membership(ada, id)).toMatchObject({ roles: ['owner', 'viewer'], manageKeys: true });
  await documented('DELETE', '/admin/organizations/{id}/members/{user_id}', `/admin/organizations/${id}/members/${grace}`);
  expect((await admin('GET', `/admin/organizations/${id}/members`)).body.map((member: { user_id: string }) => member.user_id)).toEqual([
    ada,
  ]);

  expect(await events('organization.member_added', id)).toEqual([
    byAdmin({ user_id: grace, roles: [] }),
    byAdmin({ user_id: ada, roles: ['viewer'] }),
  ]);
  expect(await events('organization.member_roles_changed', id)).toEqual([byAdmin({ user_id: ada, roles: ['owner', 'viewer'] })]);
  expect(await events('organization.member_removed', id)).toEqual([byAdmin({ user_id: grace })]);
});

test('an invitation: a mail through the outbox with a link that works, listed, then revoked', async () => {
  const id = await organization('Invitations Ltd');
  const invited = await documented('POST', '/admin/organizations/{id}/invitations', `/admin/organizations/${id}/invitations`, {
    email: 'Linus@Example.com',
    roles: ['viewer'],
    expires_in_seconds: 3600,
  });
  expect(invited).toMatchObject({
    organization_id: id,
    email: 'linus@example.com',
    roles: ['viewer'],
    accepted_at: null,
    revoked_at: null,
  });
  expect(Date.parse(invited.expires_at) - Date.now()).toBeLessThanOrEqual(3600 * 1000);
  // Written to the outbox with the invitation, then sent.
  expect(await running.db.prisma.outboxMessage.count({ where: { purpose: 'organization-invitation' } })).toBeGreaterThan(0);
  await running.server.services.outbox.flush();
  const received = await mail.next('linus@example.com');
  expect(received.text).toContain('Invitations Ltd');
  const link = new URL(linkIn(received, `${running.url}/organization-invitation?token=`));
  const token = link.searchParams.get('token')!;
  expect(await running.server.services.organizations.checkInvitation(token)).toMatchObject({
    ok: true,
    invitation: { id: invited.id, organizationId: id, email: 'linus@example.com', roles: ['viewer'] },
  });
  // The link is in the mail alone: neither the answer nor the list shows it.
  const listed = await documented('GET', '/admin/organizations/{id}/invitations', `/admin/organizations/${id}/invitations`);
  expect(listed).toEqual([invited]);
  expect(JSON.stringify(listed)).not.toContain(token);
  expect(await events('organization.invitation_sent', id)).toEqual([byAdmin({ invitation: invited.id, roles: ['viewer'] })]);

  await documented(
    'DELETE',
    '/admin/organizations/{id}/invitations/{invitation_id}',
    `/admin/organizations/${id}/invitations/${invited.id}`,
  );
  expect(await running.server.services.organizations.checkInvitation(token)).toEqual({ ok: false, reason: 'unknown' });
  expect((await admin('GET', `/admin/organizations/${id}/invitations`)).body[0].revoked_at).toEqual(expect.any(String));
  expect(await events('organization.invitation_revoked', id)).toEqual([byAdmin({ invitation: invited.id })]);
  // Revoked once: a second time there is no open invitation of that id.
  expect((await admin('DELETE', `/admin/organizations/${id}/invitations/${invited.id}`)).status).toBe(404);
});

test("an invitation's mail is in the language asked for", async () => {
  const id = await organization('Sprachen GmbH');
  expect((await admin('POST', `/admin/organizations/${id}/invitations`, { email: 'karl@example.com', lang: 'de' })).status).toBe(201);
  await running.server.services.outbox.flush();
  const german = await mail.next('karl@example.com');
  expect((await admin('POST', `/admin/organizations/${id}/invitations`, { email: 'kate@example.com' })).status).toBe(201);
  await running.server.services.outbox.flush();
  const english = await mail.next('kate@example.com');
  expect(german.subject).toMatch(/^Treten Sie Sprachen GmbH bei .+ bei$/);
  expect(english.subject).toMatch(/^Join Sprachen GmbH on /);
});

test('an organization is kept (409) while a live API key or a client belongs to it', async () => {
  const id = await organization('Keyholders');
  const key = await admin('POST', '/admin/api-keys', {
    name: 'team key',
    scope: 'invoices:read',
    audiences: [BILLING],
    organization_id: id,
  });
  expect(key.status).toBe(201);
  expect(key.body).toMatchObject({ owner: null, organization_id: id });
  const kept = await admin('DELETE', `/admin/organizations/${id}`);
  expect(kept).toMatchObject({ status: 409, body: { error: 'conflict' } });
  expect((await admin('POST', `/admin/api-keys/${key.body.id}/revoke`)).status).toBe(200);

  const client = await admin('POST', '/admin/clients', { name: 'team app', grant_types: ['client_credentials'], organization_id: id });
  expect(client.status).toBe(201);
  expect((await admin('GET', `/admin/clients/${client.body.client_id}`)).body.organization_id).toBe(id);
  expect((await admin('DELETE', `/admin/organizations/${id}`)).status).toBe(409);
  expect((await admin('PATCH', `/admin/clients/${client.body.client_id}`, { organization_id: null })).status).toBe(200);

  expect((await admin('DELETE', `/admin/organizations/${id}`)).status).toBe(204);
  expect(await events('organization.deleted', id)).toEqual([byAdmin()]);
});

describe('bad input is a 400 naming the field; unknown is a 404; a conflict is a 409', () => {
  test.each([
    ['an organization without a name', '/admin/organizations', { name: '  ' }, 'name'],
    ['an organization with an unknown field', '/admin/organizations', { name: 'x', plan: 'gold' }, 'plan'],
    [
      'a template role naming no API',
      '/admin/organization-roles',
      { name: 'r', permissions: ['https://nowhere.example.com:x'] },
      'permissions[0]',
    ],
    [
      'a template role with a scope the API lacks',
      '/admin/organization-roles',
      { name: 'r', permissions: [`${BILLING}:invoices:read`, `${BILLING}:refunds`] },
      'permissions[1]',
    ],
    ['a template role with a bad name', '/admin/organization-roles', { name: 'two words' }, 'name'],
    ['a template role with manage_keys not a boolean', '/admin/organization-roles', { name: 'r', manage_keys: 'yes' }, 'manage_keys'],
  ])('%s', async (_case, path, body, field) => {
    const response = await admin('POST', path, body);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: 'invalid_input', field });
  });

  test.each([
    ['a missing user', () => ({ user_id: 'no-such-user' }), 'user_id'],
    ['no user', () => ({ roles: ['viewer'] }), 'user_id'],
    ['given a role not in the template', () => ({ user_id: ada, roles: ['viewer', 'emperor'] }), 'roles[1]'],
  ])('a member who is %s', async (_case, body, field) => {
    const id = await organization('Bad members');
    const response = await admin('POST', `/admin/organizations/${id}/members`, body());
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: 'invalid_input', field });
  });

  test.each([
    ['no address', { roles: [] }, 'email'],
    ['an address that is not one', { email: 'not an address' }, 'email'],
    ['a role not in the template', { email: 'x@example.com', roles: ['emperor'] }, 'roles[0]'],
    ['too short a life', { email: 'x@example.com', expires_in_seconds: 60 }, 'expires_in_seconds'],
    ['too long a life', { email: 'x@example.com', expires_in_seconds: 31 * 86_400 }, 'expires_in_seconds'],
    ['a language we do not write', { email: 'x@example.com', lang: 'fr' }, 'lang'],
  ])('an invitation with %s', async (_case, body, field) => {
    const id = await organization('Bad invitations');
    const response = await admin('POST', `/admin/organizations/${id}/invitations`, body);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: 'invalid_input', field });
  });

  test("a member's roles replaced with one not in the template", async () => {
    const id = await organization('Bad roles');
    await admin('POST', `/admin/organizations/${id}/members`, { user_id: ada });
    expect(await admin('PATCH', `/admin/organizations/${id}/members/${ada}`, { roles: ['emperor'] })).toMatchObject({
      status: 400,
      body: { field: 'roles[0]' },
    });
    expect(await admin('PATCH', `/admin/organizations/${id}/members/${ada}`, {})).toMatchObject({ status: 400, body: { field: 'roles' } });
  });

  test('a member added twice, a template role made twice: 409', async () => {
    const id = await organization('Twice');
    expect((await admin('POST', `/admin/organizations/${id}/members`, { user_id: ada })).status).toBe(201);
    expect(await admin('POST', `/admin/organizations/${id}/members`, { user_id: ada })).toMatchObject({
      status: 409,
      body: { error: 'conflict' },
    });
    expect(await admin('POST', '/admin/organization-roles', { name: 'viewer' })).toMatchObject({
      status: 409,
      body: { error: 'conflict' },
    });
  });

  test('an unknown organization, template role, member or invitation is a 404 everywhere', async () => {
    const id = await organization('Known');
    for (const [method, path, body] of [
      ['GET', '/admin/organizations/nowhere', undefined],
      ['PATCH', '/admin/organizations/nowhere', { name: 'x' }],
      ['DELETE', '/admin/organizations/nowhere', undefined],
      ['GET', '/admin/organizations/nowhere/members', undefined],
      ['POST', '/admin/organizations/nowhere/members', { user_id: ada }],
      ['PATCH', `/admin/organizations/nowhere/members/${ada}`, { roles: [] }],
      ['DELETE', `/admin/organizations/nowhere/members/${ada}`, undefined],
      ['GET', '/admin/organizations/nowhere/invitations', undefined],
      ['POST', '/admin/organizations/nowhere/invitations', { email: 'x@example.com' }],
      ['DELETE', '/admin/organizations/nowhere/invitations/none', undefined],
      ['PATCH', `/admin/organizations/${id}/members/${grace}`, { roles: [] }],
      ['DELETE', `/admin/organizations/${id}/members/${grace}`, undefined],
      ['DELETE', `/admin/organizations/${id}/invitations/none`, undefined],
      ['GET', '/admin/organization-roles/nobody', undefined],
      ['GET', '/admin/organization-roles/two%20words', undefined],
      ['PATCH', '/admin/organization-roles/nobody', { manage_keys: true }],
      ['DELETE', '/admin/organization-roles/nobody', undefined],
    ] as const) {
      const response = await admin(method, path, body);
      expect([method, path, response.status, response.body?.error]).toEqual([method, path, 404, 'not_found']);
    }
  });

  test('NUL bytes and control characters are a 400, never a 500', async () => {
    const id = await organization('Controls');
    for (const [method, path, body] of [
      ['POST', '/admin/organizations', { name: 'a\u0000b' }],
      ['POST', '/admin/organization-roles', { name: 'nul', description: '\u0000' }],
      ['POST', `/admin/organizations/${id}/members`, { user_id: 'u\u0000' }],
      ['POST', `/admin/organizations/${id}/invitations`, { email: 'a\u0000@example.com' }],
      ['GET', `/admin/organizations/${encodeURIComponent('o\u0000')}`, undefined],
    ] as const) {
      const response = await admin(method, path, body);
      expect([path, response.status]).toEqual([path, 400]);
    }
  });
});

test('admin:read reads organizations but does not change them', async () => {
  const id = await organization('Read only');
  for (const path of [
    '/admin/organizations',
    `/admin/organizations/${id}`,
    `/admin/organizations/${id}/members`,
    '/admin/organization-roles',
  ])
    expect([path, (await admin('GET', path, undefined, readToken)).status]).toEqual([path, 200]);
  for (const [method, path, body] of [
    ['POST', '/admin/organizations', { name: 'x' }],
    ['POST', `/admin/organizations/${id}/members`, { user_id: ada }],
    ['POST', `/admin/organizations/${id}/invitations`, { email: 'x@example.com' }],
    ['DELETE', `/admin/organizations/${id}`, undefined],
  ] as const)
    expect([path, (await admin(method, path, body, readToken)).status]).toEqual([path, 403]);
});

test('the OpenAPI document lists the organization routes', async () => {
  const document = (await (await fetch(`${running.url}/admin/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  const methods = (path: string) => Object.keys(document.paths[path] ?? {}).sort();
  expect(methods('/admin/organizations')).toEqual(['get', 'post']);
  expect(methods('/admin/organizations/{id}')).toEqual(['delete', 'get', 'patch']);
  expect(methods('/admin/organization-roles')).toEqual(['get', 'post']);
  expect(methods('/admin/organization-roles/{name}')).toEqual(['delete', 'get', 'patch']);
  expect(methods('/admin/organizations/{id}/members')).toEqual(['get', 'post']);
  expect(methods('/admin/organizations/{id}/members/{user_id}')).toEqual(['delete', 'patch']);
  expect(methods('/admin/organizations/{id}/invitations')).toEqual(['get', 'post']);
  expect(methods('/admin/organizations/{id}/invitations/{invitation_id}')).toEqual(['delete']);
});
