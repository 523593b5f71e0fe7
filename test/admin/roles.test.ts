// The admin API's roles (/admin/roles, their assignments, /admin/users/{id}/roles and
// /admin/clients/{id}/roles), over real HTTP with an admin bearer token: round trips in the wire's
// names, one audit event per change with the admin client as the actor, and bad input named.
import { adminRoutes } from '../../src/admin/index.ts';
import { adminCaller } from '../support/admin.ts';
import { basicAuth } from '../support/browser.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const BILLING = 'https://billing.example.com';

let running: RunningServer;
let writeToken: string;
let readToken: string;
let writerId: string;
let userId: string;
let service: { client_id: string; client_secret: string };

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

beforeAll(async () => {
  running = await startServer();
  ({ clientId: writerId, token: writeToken } = await adminCaller(running, 'admin:write'));
  readToken = (await adminCaller(running, 'admin:read')).token;
  expect((await admin('POST', '/admin/resources', { audience: BILLING, scope: 'invoices:read invoices:write', rbac: true })).status).toBe(
    201,
  );
  userId = (await admin('POST', '/admin/users', { email: 'ada@example.com', password: 'long enough password' })).body.id;
  service = (
    await admin('POST', '/admin/clients', { name: 'reporting', grant_types: ['client_credentials'], scope: 'invoices:read invoices:write' })
  ).body;
});
afterAll(() => running.stop());

test('a role: made, listed, read, changed and deleted, each change one audit event by the admin client', async () => {
  const made = await documented('POST', '/admin/roles', undefined, {
    name: 'billing-reader',
    description: 'Reads invoices',
    permissions: [`${BILLING}:invoices:read`],
  });
  expect(made).toMatchObject({
    name: 'billing-reader',
    description: 'Reads invoices',
    default: false,
    permissions: [`${BILLING}:invoices:read`],
  });
  expect((await documented('GET', '/admin/roles')).map((role: { name: string }) => role.name)).toContain('billing-reader');
  expect(await documented('GET', '/admin/roles/{name}', '/admin/roles/billing-reader')).toMatchObject({
    id: made.id,
    users: 0,
    clients: 0,
  });
  const changed = await documented('PATCH', '/admin/roles/{name}', '/admin/roles/billing-reader', {
    permissions: [`${BILLING}:invoices:write`, `${BILLING}:invoices:read`],
    default: true,
  });
  // Sorted, whatever order they were given in.
  expect(changed).toMatchObject({ default: true, permissions: [`${BILLING}:invoices:read`, `${BILLING}:invoices:write`] });
  expect(changed.description).toBe('Reads invoices');

  expect(await events('role.created', 'billing-reader')).toEqual([
    expect.objectContaining({
      actorType: 'admin',
      actorId: writerId,
      details: { permissions: [`${BILLING}:invoices:read`], default: false },
    }),
  ]);
  expect(await events('role.updated', 'billing-reader')).toEqual([expect.objectContaining({ actorType: 'admin', actorId: writerId })]);

  await documented('DELETE', '/admin/roles/{name}', '/admin/roles/billing-reader');
  expect((await admin('GET', '/admin/roles/billing-reader')).status).toBe(404);
  expect(await events('role.deleted', 'billing-reader')).toEqual([expect.objectContaining({ actorType: 'admin', actorId: writerId })]);
});

test('a role given to a person and to a client, read back from both sides, then taken away through the query', async () => {
  await documented('POST', '/admin/roles', undefined, { name: 'invoicing', permissions: [`${BILLING}:invoices:write`] });
  expect(await documented('POST', '/admin/roles/{name}/assignments', '/admin/roles/invoicing/assignments', { user_id: userId })).toEqual({
    assigned: true,
  });
  // Giving it again changes nothing and records nothing.
  expect(await documented('POST', '/admin/roles/{name}/assignments', '/admin/roles/invoicing/assignments', { user_id: userId })).toEqual({
    assigned: false,
  });
  await documented('POST', '/admin/roles/{name}/assignments', '/admin/roles/invoicing/assignments', { client_id: service.client_id });
  expect(await documented('GET', '/admin/users/{id}/roles', `/admin/users/${userId}/roles`)).toEqual(['invoicing']);
  expect(await documented('GET', '/admin/clients/{id}/roles', `/admin/clients/${service.client_id}/roles`)).toEqual(['invoicing']);
  expect(await admin('GET', '/admin/roles/invoicing')).toMatchObject({ body: { users: 1, clients: 1 } });
  const assigned = await events('role.assigned', 'invoicing');
  expect(assigned).toHaveLength(2);
  expect(assigned).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ actorType: 'admin', actorId: writerId, details: { user_id: userId } }),
      expect.objectContaining({ actorType: 'admin', actorId: writerId, details: { client_id: service.client_id } }),
    ]),
  );

  expect(
    await documented(
      'DELETE',
      '/admin/roles/{name}/assignments',
      `/admin/roles/invoicing/assignments?user_id=${encodeURIComponent(userId)}`,
    ),
  ).toEqual({ unassigned: true });
  expect((await admin('DELETE', `/admin/roles/invoicing/assignments?user_id=${encodeURIComponent(userId)}`)).body).toEqual({
    unassigned: false,
  });
  expect((await admin('GET', `/admin/users/${userId}/roles`)).body).toEqual([]);
  expect(await events('role.unassigned', 'invoicing')).toEqual([
    expect.objectContaining({ actorType: 'admin', actorId: writerId, details: { user_id: userId } }),
  ]);
});

test('a role made through the API gives its client the scopes of an rbac API, and no other', async () => {
  await admin('POST', '/admin/roles', { name: 'reader', permissions: [`${BILLING}:invoices:read`] });
  await admin('POST', '/admin/roles/reader/assignments', { client_id: service.client_id });
  await admin('DELETE', `/admin/roles/invoicing/assignments?client_id=${encodeURIComponent(service.client_id)}`);
  const token = (scope: string) =>
    fetch(`${running.url}/token`, {
      method: 'POST',
      headers: basicAuth(service.client_id, service.client_secret),
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: BILLING, scope }),
    });
  const granted = await token('invoices:read');
  expect(granted.status).toBe(200);
  expect(((await granted.json()) as { scope: string }).scope).toBe('invoices:read');
  // The client's own scope allows invoices:write, but no role of its gives it: refused, not narrowed.
  const refused = await token('invoices:read invoices:write');
  expect(refused.status).toBe(400);
  expect(((await refused.json()) as { error: string }).error).toBe('invalid_scope');
});

describe('bad input is a 400 naming the field; unknown is a 404; a second of a name is a 409', () => {
  test.each([
    ['a permission naming no registered API', { name: 'r1', permissions: ['https://nowhere.example.com:read'] }, 'permissions[0]'],
    ['a scope the API does not have', { name: 'r2', permissions: [`${BILLING}:invoices:read`, `${BILLING}:refunds`] }, 'permissions[1]'],
    ['a permission without an audience', { name: 'r3', permissions: ['invoices:read'] }, 'permissions[0]'],
    ['a name that is not one', { name: 'two words' }, 'name'],
    ['no name', { permissions: [] }, 'name'],
    ['an unknown field', { name: 'r4', colour: 'red' }, 'colour'],
    ['a default that is not a boolean', { name: 'r5', default: 'yes' }, 'default'],
  ])('making a role with %s', async (_case, body, field) => {
    const response = await admin('POST', '/admin/roles', body);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: 'invalid_input', field });
  });

  test('a permission naming no API, on a change', async () => {
    await admin('POST', '/admin/roles', { name: 'changing' });
    const response = await admin('PATCH', '/admin/roles/changing', { permissions: ['https://nowhere.example.com:read'] });
    expect(response).toMatchObject({ status: 400, body: { field: 'permissions[0]' } });
  });

  test.each([
    ['a missing user', () => ({ user_id: 'no-such-user' }), 'user_id'],
    ['a missing client', () => ({ client_id: 'no-such-client' }), 'client_id'],
    ['both a user and a client', () => ({ user_id: userId, client_id: service.client_id }), 'client_id'],
    ['nobody', () => ({}), 'user_id'],
    ['an unknown field', () => ({ group_id: 'x' }), 'group_id'],
  ])('an assignment to %s', async (_case, body, field) => {
    await admin('POST', '/admin/roles', { name: 'assignable' });
    const response = await admin('POST', '/admin/roles/assignable/assignments', body());
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: 'invalid_input', field });
    expect((await admin('DELETE', `/admin/roles/assignable/assignments?${new URLSearchParams(body())}`)).body).toMatchObject({ field });
  });

  test('an unknown role, however spelled, is a 404 everywhere', async () => {
    for (const [method, path, body] of [
      ['GET', '/admin/roles/nobody', undefined],
      ['GET', '/admin/roles/two%20words', undefined],
      ['PATCH', '/admin/roles/nobody', { default: true }],
      ['DELETE', '/admin/roles/nobody', undefined],
      ['POST', '/admin/roles/nobody/assignments', { user_id: userId }],
      ['DELETE', `/admin/roles/nobody/assignments?user_id=${userId}`, undefined],
      ['GET', '/admin/users/nobody/roles', undefined],
      ['GET', '/admin/clients/nobody/roles', undefined],
    ] as const) {
      const response = await admin(method, path, body);
      expect([method, path, response.status, response.body?.error]).toEqual([method, path, 404, 'not_found']);
    }
  });

  test('a second role of the same name is a 409', async () => {
    await admin('POST', '/admin/roles', { name: 'twice' });
    expect(await admin('POST', '/admin/roles', { name: 'twice' })).toMatchObject({ status: 409, body: { error: 'conflict' } });
  });

  test('NUL bytes and control characters are a 400, never a 500', async () => {
    for (const [method, path, body] of [
      ['POST', '/admin/roles', { name: 'nul', description: 'a\u0000b' }],
      ['POST', '/admin/roles', { name: 'nul', permissions: [`${BILLING}:\u0000`] }],
      ['POST', '/admin/roles/twice/assignments', { user_id: 'u\u0000' }],
      ['DELETE', `/admin/roles/twice/assignments?client_id=${encodeURIComponent('c\u0000')}`, undefined],
    ] as const) {
      const response = await admin(method, path, body);
      expect([path, response.status]).toEqual([path, 400]);
    }
  });
});

test('admin:read reads roles but does not change them', async () => {
  expect((await admin('GET', '/admin/roles', undefined, readToken)).status).toBe(200);
  expect((await admin('GET', `/admin/users/${userId}/roles`, undefined, readToken)).status).toBe(200);
  expect((await admin('POST', '/admin/roles', { name: 'sneaky' }, readToken)).status).toBe(403);
  expect((await admin('POST', '/admin/roles/twice/assignments', { user_id: userId }, readToken)).status).toBe(403);
  expect((await admin('DELETE', `/admin/roles/twice/assignments?user_id=${userId}`, undefined, readToken)).status).toBe(403);
});

test('the OpenAPI document lists the role routes, the assignment to take away in the query', async () => {
  const document = (await (await fetch(`${running.url}/admin/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: unknown }>>;
  };
  expect(Object.keys(document.paths['/admin/roles']!).sort()).toEqual(['get', 'post']);
  expect(Object.keys(document.paths['/admin/roles/{name}']!).sort()).toEqual(['delete', 'get', 'patch']);
  expect(Object.keys(document.paths['/admin/roles/{name}/assignments']!).sort()).toEqual(['delete', 'post']);
  expect(document.paths['/admin/roles/{name}/assignments']!.delete!.parameters).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ name: 'name', in: 'path' }),
      expect.objectContaining({ name: 'user_id', in: 'query' }),
      expect.objectContaining({ name: 'client_id', in: 'query' }),
    ]),
  );
  expect(document.paths['/admin/roles/{name}/assignments']!.delete!.requestBody).toBeUndefined();
  expect(document.paths['/admin/users/{id}/roles']!.get).toBeDefined();
  expect(document.paths['/admin/clients/{id}/roles']!.get).toBeDefined();
});
