// The admin API over HTTP: its authorization, every resource's operations, the OpenAPI
// document, and bad input. Tokens come from Portcullis itself (client credentials).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { adminRoutes } from '../../src/admin/index.ts';
import { createAdapterFactory } from '../../src/artifacts/index.ts';
import { seal } from '../../src/crypto/index.ts';
import { adminCaller } from '../support/admin.ts';
import { cli } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { logInWithCode } from '../support/browser.ts';

let running: RunningServer;
let writeToken: string;
let readToken: string;
/** The client behind writeToken: the actor of every change these tests make. */
let writerId: string;

async function tokenFor(scope: string, resource?: string): Promise<string> {
  return (await adminCaller(running, scope, resource)).token;
}

async function admin(method: string, path: string, body?: unknown, token = writeToken, contentType = 'application/json') {
  const response = await fetch(`${running.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': contentType } : {}) },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  // Invitations (POST /admin/users/invitations) need SIGNUP=invite; their mail lands in a folder of this test's own.
  running = await startServer({ SIGNUP: 'invite', MAIL_OUTBOX_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-admin-outbox-')) });
  ({ clientId: writerId, token: writeToken } = await adminCaller(running, 'admin:write'));
  readToken = await tokenFor('admin:read');
});
afterAll(() => running.stop());

describe('authorization', () => {
  test('no token is 401 with a Bearer challenge', async () => {
    const response = await fetch(`${running.url}/admin/clients`);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="portcullis-admin"');
  });

  test('a token for another audience is 401 invalid_token', async () => {
    await cli(['resource', 'create', '--audience', 'https://elsewhere.example.com', '--scope', 'admin:write', '--json'], running.env);
    const other = await tokenFor('admin:write', 'https://elsewhere.example.com');
    const response = await admin('GET', '/admin/clients', undefined, other);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    expect((await admin('GET', '/admin/clients', undefined, 'not.a.jwt')).status).toBe(401);
  });

  test('admin:read reads but cannot write (403 insufficient_scope)', async () => {
    expect((await admin('GET', '/admin/clients', undefined, readToken)).status).toBe(200);
    const refused = await admin('POST', '/admin/users', { email: 'x@example.com', password: 'long enough password' }, readToken);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
    expect(refused.headers.get('www-authenticate')).toMatch(/scope="admin:write"/);
  });
});

describe('resources', () => {
  test('clients: create, read, update, rotate the secret, delete', async () => {
    const created = await admin('POST', '/admin/clients', { name: 'billing', grant_types: ['client_credentials'], scope: 'a' });
    expect(created.status).toBe(201);
    const { client_id, client_secret } = created.body;
    expect(client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await admin('GET', `/admin/clients/${client_id}`)).body).toMatchObject({ client_id, name: 'billing', scope: 'a' });
    expect((await admin('PATCH', `/admin/clients/${client_id}`, { name: 'billing v2', scope: 'a b' })).body).toMatchObject({
      name: 'billing v2',
      scope: 'a b',
    });
    const rotated = await admin('POST', `/admin/clients/${client_id}/secret`, { grace_seconds: 0 });
    expect(rotated.body.client_secret).not.toBe(client_secret);
    expect((await admin('GET', '/admin/clients')).body.map((c: { client_id: string }) => c.client_id)).toContain(client_id);
    expect(JSON.stringify((await admin('GET', '/admin/clients')).body)).not.toContain(rotated.body.client_secret);
    expect((await admin('DELETE', `/admin/clients/${client_id}`)).status).toBe(204);
    expect((await admin('GET', `/admin/clients/${client_id}`)).status).toBe(404);
  });

  test('users: create, disable, enable, reset password, list sessions', async () => {
    const created = await admin('POST', '/admin/users', { email: 'ops@example.com', password: 'long enough password', name: 'Ops' });
    expect(created.status).toBe(201);
    const { id } = created.body;
    expect((await admin('POST', `/admin/users/${id}/disable`)).body).toMatchObject({ id, disabled: true });
    expect((await admin('POST', `/admin/users/${id}/enable`)).body).toMatchObject({ disabled: false });
    expect((await admin('POST', `/admin/users/${id}/password`, { password: 'another long password' })).status).toBe(204);
    const user = await running.db.prisma.user.findUniqueOrThrow({ where: { id } });
    expect(user.passwordHash).toMatch(/^\$argon2id\$/);
    expect((await admin('GET', `/admin/users/${id}/sessions`)).body).toEqual([]);
    expect((await admin('GET', '/admin/users/nobody/sessions')).status).toBe(404);
    expect((await admin('GET', '/admin/users')).body.map((u: { email: string }) => u.email)).toContain('ops@example.com');
  });

  test('API resources, API keys and signing keys', async () => {
    expect((await admin('POST', '/admin/resources', { audience: 'https://api.example.com', scope: 'r w', ttl: 600 })).status).toBe(201);
    expect((await admin('GET', '/admin/resources')).body.map((r: { audience: string }) => r.audience)).toContain('https://api.example.com');
    const key = await admin('POST', '/admin/api-keys', {
      name: 'k',
      scope: 'r',
      audiences: ['https://api.example.com'],
      rate_limit: '10/1m',
    });
    expect(key.status).toBe(201);
    expect(key.body.key).toMatch(/^pcl_test_/);
    const rotated = await admin('POST', `/admin/api-keys/${key.body.id}/rotate`, { grace_seconds: 0 });
    expect(rotated.body.key).not.toBe(key.body.key);
    expect((await admin('POST', `/admin/api-keys/${rotated.body.id}/revoke`)).body.revoked_at).toBeTruthy();
    expect(JSON.stringify((await admin('GET', '/admin/api-keys')).body)).not.toContain(key.body.key);
    const keys = (await admin('GET', '/admin/signing-keys')).body as { state: string }[];
    expect(keys.map((k) => k.state).sort()).toEqual(['current', 'next']);
    const rotation = await admin('POST', '/admin/signing-keys/rotate', { force: true });
    expect(rotation.status).toBe(200);
    expect(rotation.body).toMatchObject({ current: expect.any(String), previous: expect.any(String) });
  });

  test('grants: list by user or client, and revoke with everything issued from them', async () => {
    // Stored the way oidc-provider stores them, through the adapter.
    const adapterFor = createAdapterFactory({
      statements: running.db.statements,
      pepper: running.config.hashPepper,
      findClient: async () => undefined,
    });
    const grantId = 'grant-for-admin-test';
    const tokenId = 'token-from-that-grant-0123456789abcdef';
    await adapterFor('Grant').upsert(
      grantId,
      { jti: grantId, accountId: 'acct-1', clientId: 'client-1', openid: { scope: 'openid' } },
      3600,
    );
    await adapterFor('AccessToken').upsert(tokenId, { jti: tokenId, grantId, accountId: 'acct-1', clientId: 'client-1' }, 3600);
    const listed = await admin('GET', '/admin/grants?client_id=client-1');
    expect(listed.body).toEqual([expect.objectContaining({ id: grantId, account_id: 'acct-1', client_id: 'client-1' })]);
    expect((await admin('GET', '/admin/grants?account_id=acct-2')).body).toEqual([]);
    expect((await admin('POST', '/admin/grants/revoke', {})).status).toBe(400);

    expect((await admin('POST', '/admin/grants/revoke', { client_id: 'client-1' })).body).toEqual({ revoked: 1 });
    expect((await admin('GET', '/admin/grants?client_id=client-1')).body).toEqual([]);
    expect(await adapterFor('AccessToken').find(tokenId)).toBeUndefined();
  });

  test('audit events: filtered by type, paged with a cursor', async () => {
    for (let i = 0; i < 5; i += 1)
      await running.server.services.audit.record({ type: 'test.page', actorType: 'system', subject: `s${i}`, outcome: 'success' });
    const first = await admin('GET', '/admin/audit-events?type=test.page&limit=2');
    expect(first.body.events).toHaveLength(2);
    const second = await admin('GET', `/admin/audit-events?type=test.page&limit=2&cursor=${first.body.next_cursor}`);
    const third = await admin('GET', `/admin/audit-events?type=test.page&limit=2&cursor=${second.body.next_cursor}`);
    const subjects = [...first.body.events, ...second.body.events, ...third.body.events].map((event: { subject: string }) => event.subject);
    expect(new Set(subjects).size).toBe(5);
    expect(third.body.next_cursor).toBeNull();
    const admins = await admin('GET', '/admin/audit-events?type=user.disabled');
    expect(admins.body.events[0]).toMatchObject({ actorType: 'admin', actorId: expect.any(String) });
  });

  test("each change writes one event, the service's, naming the admin client and its address", async () => {
    const created = await admin('POST', '/admin/users', { email: 'audited@example.com', password: 'long enough password' });
    const events = (await admin('GET', `/admin/audit-events?subject=${created.body.id}`)).body.events;
    expect(events).toEqual([
      expect.objectContaining({ type: 'user.created', actorType: 'admin', actorId: writerId, ip: expect.any(String) }),
    ]);
    const resource = await admin('POST', '/admin/resources', { audience: 'https://audited.example.com', scope: 'r' });
    const audience = encodeURIComponent(resource.body.audience);
    expect((await admin('GET', `/admin/audit-events?actor=${writerId}&subject=${audience}`)).body.events).toEqual([
      expect.objectContaining({ type: 'resource.created', actorType: 'admin', ip: expect.any(String) }),
    ]);
    // The router's own record of every write is gone: the service's event says who.
    expect((await admin('GET', '/admin/audit-events?type=admin.action')).body.events).toEqual([]);
  });
});

describe('the OpenAPI document', () => {
  test('is OpenAPI 3.1 and describes every route, with its scope, valid examples and its response', async () => {
    const response = await fetch(`${running.url}/admin/openapi.json`);
    expect(response.status).toBe(200);
    const document = (await response.json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          { requestBody?: unknown; security: unknown; responses: Record<string, { content?: Record<string, { schema: unknown }> }> }
        >
      >;
    };
    expect(document.openapi).toBe('3.1.0');
    for (const route of adminRoutes) {
      const operation = document.paths[route.path]?.[route.method];
      expect(operation).toBeDefined();
      expect(operation!.security).toEqual([{ bearer: [route.access === 'read' ? 'admin:read' : 'admin:write'] }]);
      const success = operation!.responses[String(route.status ?? 200)];
      expect(success).toBeDefined();
      if (route.response) expect(success!.content?.['application/json']?.schema).toBeDefined();
      else expect(route.status).toBe(204);
      if (route.body) {
        expect(operation!.requestBody).toBeDefined();
        expect(route.example).toBeDefined();
        expect(route.body.strict().safeParse(route.example).success).toBe(true);
      }
    }
    const documented = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method} ${path}`),
    );
    expect(documented.sort()).toEqual(adminRoutes.map((route) => `${route.method} ${route.path}`).sort());
  });
});

describe('the response schemas', () => {
  test('accept what the running server answers, for every route that has one', async () => {
    const answered = new Set<string>();
    /** Calls a route by its template and checks the answer against the route's response schema. */
    async function call(method: string, template: string, path = template, body?: unknown) {
      const route = adminRoutes.find((candidate) => candidate.method === method.toLowerCase() && candidate.path === template);
      expect(route?.response).toBeDefined();
      const answer = await admin(method, path, body);
      expect([path, answer.status]).toEqual([path, route!.status ?? 200]);
      const checked = route!.response!.safeParse(answer.body);
      expect([path, checked.error?.issues ?? []]).toEqual([path, []]);
      answered.add(`${route!.method} ${route!.path}`);
      return answer.body;
    }
    const client = await call('POST', '/admin/clients', undefined, { name: 'shapes', grant_types: ['client_credentials'], scope: 'a' });
    await call('GET', '/admin/clients');
    await call('POST', '/admin/registration-tokens', undefined, { uses: 1, scope: 'a' });
    await call('GET', '/admin/registration-tokens');
    await call('GET', '/admin/clients/{id}', `/admin/clients/${client.client_id}`);
    await call('PATCH', '/admin/clients/{id}', `/admin/clients/${client.client_id}`, { name: 'shapes v2' });
    await call('POST', '/admin/clients/{id}/secret', `/admin/clients/${client.client_id}/secret`, {});
    const user = await call('POST', '/admin/users', undefined, { email: 'shapes@example.com', password: 'long enough password' });
    await call('GET', '/admin/users');
    await call('POST', '/admin/users/invitations', undefined, { email: 'invitee@example.com', name: 'Invitee', expires_in: 3600 });
    await call('POST', '/admin/users/{id}/disable', `/admin/users/${user.id}/disable`);
    await call('POST', '/admin/users/{id}/enable', `/admin/users/${user.id}/enable`);
    await call('GET', '/admin/users/{id}/sessions', `/admin/users/${user.id}/sessions`);
    await call('PATCH', '/admin/users/{id}', `/admin/users/${user.id}`, { mfa_required: true });
    await call('GET', '/admin/users/{id}/factors', `/admin/users/${user.id}/factors`);
    await call('POST', '/admin/users/{id}/factors/reset', `/admin/users/${user.id}/factors/reset`, { which: 'all' });
    // Connections (an OAuth 2.0 one needs no upstream), and an identity linked through one with its
    // upstream tokens kept, sealed as the sign-in seals them.
    const connection = await call('POST', '/admin/connections', undefined, {
      name: 'shapes',
      type: 'oauth2',
      display_name: 'Shapes',
      authorization_url: 'https://shapes.example.com/authorize',
      token_url: 'https://shapes.example.com/token',
      userinfo_url: 'https://shapes.example.com/me',
      client_id: 'shapes',
      client_secret: 'shapes-secret',
      store_tokens: true,
    });
    await call('GET', '/admin/connections');
    await call('GET', '/admin/connections/{name}', '/admin/connections/shapes');
    await call('PATCH', '/admin/connections/{name}', '/admin/connections/shapes', { display_name: 'Shapes v2' });
    const sealingKey = Buffer.from(running.config.keyEncryptionKey).toString('base64url');
    await running.db.prisma.federatedIdentity.create({
      data: {
        id: 'shapes-identity',
        connectionId: connection.id,
        subject: 'shapes-subject',
        userId: user.id,
        tokens: seal(
          sealingKey,
          running.config.hashPepper,
          'upstream-tokens:shapes-identity',
          JSON.stringify({ access_token: 'upstream-at' }),
        ),
      },
    });
    expect(await call('GET', '/admin/users/{id}/identities', `/admin/users/${user.id}/identities`)).toMatchObject([{ has_tokens: true }]);
    expect(
      await call('GET', '/admin/users/{id}/identities/{identity}/tokens', `/admin/users/${user.id}/identities/shapes-identity/tokens`),
    ).toEqual({ access_token: 'upstream-at' });
    await call('DELETE', '/admin/connections/{name}', '/admin/connections/shapes');
    const resource = await call('POST', '/admin/resources', undefined, {
      audience: 'https://shapes.example.com',
      scope: 'r',
      name: 'Shapes',
    });
    await call('GET', '/admin/resources');
    await call('PATCH', '/admin/resources/{id}', `/admin/resources/${resource.id}`, { personal_key_scope: 'r', rbac: true });
    // Roles, and organizations with their template, members and invitations (test/admin/roles.test.ts
    // and organizations.test.ts go through their rules).
    await call('POST', '/admin/roles', undefined, { name: 'shapes', permissions: ['https://shapes.example.com:r'] });
    await call('GET', '/admin/roles');
    await call('GET', '/admin/roles/{name}', '/admin/roles/shapes');
    await call('PATCH', '/admin/roles/{name}', '/admin/roles/shapes', { description: 'Shapes' });
    await call('POST', '/admin/roles/{name}/assignments', '/admin/roles/shapes/assignments', { user_id: user.id });
    await call('GET', '/admin/users/{id}/roles', `/admin/users/${user.id}/roles`);
    await call('GET', '/admin/clients/{id}/roles', `/admin/clients/${client.client_id}/roles`);
    await call('DELETE', '/admin/roles/{name}/assignments', `/admin/roles/shapes/assignments?user_id=${user.id}`);
    const organization = await call('POST', '/admin/organizations', undefined, { name: 'Shapes' });
    await call('GET', '/admin/organizations');
    await call('GET', '/admin/organizations/{id}', `/admin/organizations/${organization.id}`);
    await call('PATCH', '/admin/organizations/{id}', `/admin/organizations/${organization.id}`, { description: 'Shapes' });
    await call('POST', '/admin/organization-roles', undefined, { name: 'shapes', permissions: ['https://shapes.example.com:r'] });
    await call('GET', '/admin/organization-roles');
    await call('GET', '/admin/organization-roles/{name}', '/admin/organization-roles/shapes');
    await call('PATCH', '/admin/organization-roles/{name}', '/admin/organization-roles/shapes', { manage_keys: true });
    const members = `/admin/organizations/${organization.id}/members`;
    await call('POST', '/admin/organizations/{id}/members', members, { user_id: user.id });
    await call('GET', '/admin/organizations/{id}/members', members);
    await call('PATCH', '/admin/organizations/{id}/members/{user_id}', `${members}/${user.id}`, { roles: ['shapes'] });
    const invitations = `/admin/organizations/${organization.id}/invitations`;
    await call('POST', '/admin/organizations/{id}/invitations', invitations, { email: 'shapes@example.com', roles: ['shapes'] });
    await call('GET', '/admin/organizations/{id}/invitations', invitations);
    const key = await call('POST', '/admin/api-keys', undefined, {
      name: 'shapes',
      scope: 'r',
      owner_user_id: user.id,
      rate_limit: '5/1m',
    });
    const rotated = await call('POST', '/admin/api-keys/{id}/rotate', `/admin/api-keys/${key.id}/rotate`, { grace_seconds: 0 });
    await call('POST', '/admin/api-keys/{id}/revoke', `/admin/api-keys/${rotated.id}/revoke`);
    await call('GET', '/admin/api-keys');
    await call('GET', '/admin/signing-keys');
    await call('POST', '/admin/signing-keys/rotate', undefined, { force: true });
    const adapterFor = createAdapterFactory({
      statements: running.db.statements,
      pepper: running.config.hashPepper,
      findClient: async () => undefined,
    });
    await adapterFor('Grant').upsert(
      'grant-for-shapes',
      {
        jti: 'grant-for-shapes',
        accountId: user.id,
        clientId: client.client_id,
        openid: { scope: 'openid' },
        resources: { 'https://shapes.example.com': 'r' },
      },
      3600,
    );
    expect(await call('GET', '/admin/grants', `/admin/grants?account_id=${user.id}`)).toHaveLength(1);
    await call('POST', '/admin/grants/revoke', undefined, { account_id: user.id });
    await call('GET', '/admin/audit-events', '/admin/audit-events?limit=100');
    expect([...answered].sort()).toEqual(
      adminRoutes
        .filter((route) => route.response)
        .map((route) => `${route.method} ${route.path}`)
        .sort(),
    );
  });
});

describe('bad input', () => {
  test.each([
    ['a missing field', { grant_types: ['client_credentials'] }, 'name'],
    ['a wrongly typed field', { name: 'x', grant_types: 'client_credentials' }, 'grant_types'],
    ['an unknown field', { name: 'x', grant_types: ['client_credentials'], colour: 'red' }, 'colour'],
    ['a value outside the schema', { name: 'x', grant_types: ['password'] }, 'grant_types'],
    [
      'a rule of the service',
      { name: 'x', grant_types: ['client_credentials'], redirect_uris: ['http://example.com/cb'] },
      'redirect_uris',
    ],
  ])('%s is a 400 naming the field', async (_name, body, field) => {
    const response = await admin('POST', '/admin/clients', body);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: 'invalid_input', field });
  });

  test('invalid JSON is 400, another content type 415, a huge body 413, never a 500', async () => {
    expect((await admin('POST', '/admin/clients', '{"name": ', undefined, 'application/json')).status).toBe(400);
    expect((await admin('POST', '/admin/clients', 'name=x', undefined, 'application/x-www-form-urlencoded')).status).toBe(415);
    expect((await admin('POST', '/admin/clients', JSON.stringify({ name: 'x'.repeat(100_000) }))).status).toBe(413);
    expect((await admin('GET', '/admin/audit-events?limit=nine')).status).toBe(400);
    expect((await admin('GET', '/admin/audit-events?since=yesterday')).body).toMatchObject({ field: 'since' });
  });
});

describe('who may not use the admin API', () => {
  test("a person's token from a login is refused, even with admin scopes", async () => {
    const client = await import('openid-client');
    const redirect = 'http://127.0.0.1:8128/callback';
    await cli(['user', 'create', '--email', 'person@example.com', '--password-stdin', '--json'], running.env, 'person passphrase');
    const app = (
      await cli(
        [
          'client',
          'create',
          '--name',
          'console',
          '--grant',
          'authorization_code',
          '--redirect-uri',
          redirect,
          '--scope',
          'admin:write',
          '--json',
        ],
        running.env,
      )
    ).json<{ client_id: string; client_secret: string }>();
    const config = await client.discovery(new URL(running.url), app.client_id, app.client_secret, undefined, {
      execute: [client.allowInsecureRequests],
    });
    const { tokens } = await logInWithCode(
      config,
      { scope: 'openid admin:write', resource: `${running.url}/admin` },
      { email: 'person@example.com', password: 'person passphrase', redirectUri: redirect },
    );
    expect(tokens.scope).toContain('admin:write');
    const refused = await admin('GET', '/admin/clients', undefined, tokens.access_token);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/invalid_token/);
  });

  test('a token exchanged from an API key is refused', async () => {
    const exchanger = (
      await cli(
        [
          'client',
          'create',
          '--name',
          'x',
          '--public',
          '--grant',
          'urn:ietf:params:oauth:grant-type:token-exchange',
          '--scope',
          'admin:write',
          '--json',
        ],
        running.env,
      )
    ).json<{ client_id: string }>();
    const { key } = (await cli(['apikey', 'create', '--name', 'k', '--scope', 'admin:write', '--json'], running.env)).json<{
      key: string;
    }>();
    const response = await fetch(`${running.url}/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        client_id: exchanger.client_id,
        subject_token: key,
        subject_token_type: 'urn:portcullis:params:oauth:token-type:api_key',
        resource: `${running.url}/admin`,
      }),
    });
    const { access_token } = (await response.json()) as { access_token: string };
    expect((await admin('GET', '/admin/clients', undefined, access_token)).status).toBe(401);
  });

  test("a deleted client's token stops working at once; so does a scope taken away", async () => {
    const created = (
      await cli(['client', 'create', '--name', 'temp', '--grant', 'client_credentials', '--scope', 'admin:write', '--json'], running.env)
    ).json<{ client_id: string; client_secret: string }>();
    const response = await fetch(`${running.url}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${created.client_id}:${created.client_secret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${running.url}/admin` }),
    });
    const { access_token } = (await response.json()) as { access_token: string };
    expect((await admin('GET', '/admin/clients', undefined, access_token)).status).toBe(200);
    expect((await admin('PATCH', `/admin/clients/${created.client_id}`, { scope: 'admin:read' })).status).toBe(200);
    expect((await admin('POST', '/admin/resources', { audience: 'https://t.example.com', scope: 'x' }, access_token)).status).toBe(403);
    expect((await admin('DELETE', `/admin/clients/${created.client_id}`)).status).toBe(204);
    expect((await admin('GET', '/admin/clients', undefined, access_token)).status).toBe(401);
  });

  test('NUL bytes and control characters anywhere are a 400, never a 500', async () => {
    for (const [method, path, body] of [
      ['POST', '/admin/clients', { name: 'a\u0000b', grant_types: ['client_credentials'] }],
      ['POST', '/admin/users', { email: 'n@example.com', password: 'long enough password', name: 'x\u0000' }],
      ['POST', '/admin/resources', { audience: 'https://nul.example.com', scope: 'x', name: '\u0000' }],
      ['POST', '/admin/api-keys', { name: 'k\u0000', scope: 'x' }],
      ['POST', '/admin/api-keys', { name: 'k', scope: 'x', owner_user_id: 'u\u0000' }],
      ['POST', '/admin/grants/revoke', { account_id: 'a\u0000' }],
      ['GET', `/admin/grants?account_id=${encodeURIComponent('a\u0000')}`, undefined],
      ['GET', `/admin/audit-events?type=${encodeURIComponent('t\u0000')}`, undefined],
      ['GET', '/admin/audit-events?since=0000-01-01T00:00:00Z', undefined],
      ['GET', '/admin/audit-events?cursor=no-such-event', undefined],
    ] as const) {
      const response = await admin(method, path, body);
      expect([path, response.status]).toEqual([path, 400]);
    }
  });
});
