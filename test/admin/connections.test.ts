// The admin API's connections (/admin/connections) and a person's linked identities
// (/admin/users/{id}/identities), over real HTTP with an admin bearer token. The OpenID Connect
// upstream is a second Portcullis: its discovery document is the one the service fetches and checks.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminRoutes } from '../../src/admin/index.ts';
import { CLI_ACTOR } from '../../src/audit/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { migrate, openDatabase, type Database } from '../../src/db/index.ts';
import { createServices, type Services } from '../../src/services.ts';
import { adminCaller } from '../support/admin.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const SECRET = 'upstream-secret-Hx72ka9Lqe';

let running: RunningServer;
let upstream: RunningServer;
let writeToken: string;
let readToken: string;
let writerId: string;
let impostor: http.Server;
let impostorUrl: string;

async function admin(method: string, path: string, body?: unknown, token = writeToken) {
  const response = await fetch(`${running.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, text, body: text ? JSON.parse(text) : undefined };
}

/** Calls a route by its template and checks the answer against the route's documented response schema. */
async function documented(method: string, template: string, path = template, body?: unknown) {
  const route = adminRoutes.find((candidate) => candidate.method === method.toLowerCase() && candidate.path === template);
  expect(route?.response).toBeDefined();
  const answer = await admin(method, path, body);
  expect([path, answer.status]).toEqual([path, route!.status ?? 200]);
  expect([path, route!.response!.safeParse(answer.body).error?.issues ?? []]).toEqual([path, []]);
  return answer;
}

const oidc = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  type: 'oidc' as const,
  display_name: 'Upstream',
  issuer: upstream.url,
  client_id: 'downstream',
  client_secret: SECRET,
  ...extra,
});

const oauth2 = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  type: 'oauth2' as const,
  display_name: 'Plain OAuth',
  authorization_url: 'https://oauth.example.com/authorize',
  token_url: 'https://oauth.example.com/token',
  userinfo_url: 'https://oauth.example.com/me',
  client_id: 'plain',
  client_secret: SECRET,
  ...extra,
});

beforeAll(async () => {
  running = await startServer();
  upstream = await startServer();
  ({ clientId: writerId, token: writeToken } = await adminCaller(running, 'admin:write'));
  readToken = (await adminCaller(running, 'admin:read')).token;
  impostor = http.createServer((request, response) => {
    if (request.url !== '/.well-known/openid-configuration') return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        issuer: 'https://someone-else.example.com',
        authorization_endpoint: 'https://someone-else.example.com/auth',
        token_endpoint: 'https://someone-else.example.com/token',
        jwks_uri: 'https://someone-else.example.com/jwks',
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
      }),
    );
  });
  await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
  impostorUrl = `http://127.0.0.1:${(impostor.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => impostor.close(() => resolve()));
  await upstream.stop();
  await running.stop();
});

describe('connections', () => {
  test('create an OpenID Connect connection: 201, its callback_url, no secret in the answer or the table', async () => {
    const created = await documented('POST', '/admin/connections', undefined, oidc('upstream', { claim_mapping: { email: 'mail' } }));
    expect(created.body).toMatchObject({
      name: 'upstream',
      type: 'oidc',
      issuer: upstream.url,
      scope: 'openid email profile',
      claim_mapping: { subject: 'sub', email: 'mail' },
      callback_url: `${running.url}/federation/upstream/callback`,
    });
    expect(created.text).not.toContain(SECRET);
    const row = await running.db.prisma.connection.findUniqueOrThrow({ where: { name: 'upstream' } });
    expect(row.clientSecret).not.toContain(SECRET);
    expect(JSON.stringify(await running.db.prisma.connection.findMany())).not.toContain(SECRET);
    // What was sealed unseals to the secret itself.
    expect((await running.server.services.federation.connections.byId(row.id))?.clientSecret).toBe(SECRET);
  });

  test('create an OAuth 2.0 connection with its three endpoints, and one from the github preset', async () => {
    const plain = await documented('POST', '/admin/connections', undefined, oauth2('plain', { position: 5 }));
    expect(plain.body).toMatchObject({ type: 'oauth2', issuer: null, token_url: 'https://oauth.example.com/token', position: 5 });
    const github = await documented('POST', '/admin/connections', undefined, {
      name: 'github',
      preset: 'github',
      client_id: 'gh',
      client_secret: SECRET,
    });
    expect(github.body).toMatchObject({
      type: 'oauth2',
      preset: 'github',
      display_name: 'GitHub',
      userinfo_url: 'https://api.github.com/user',
      token_endpoint_auth_method: 'client_secret_post',
    });
  });

  test('list in login-page order and read one, never a secret; admin:read may', async () => {
    const listed = await documented('GET', '/admin/connections');
    const names = listed.body.map((view: { name: string }) => view.name);
    expect(names.indexOf('upstream')).toBeLessThan(names.indexOf('plain'));
    expect(names).toContain('github');
    expect(listed.text).not.toContain(SECRET);
    const one = await admin('GET', '/admin/connections/plain', undefined, readToken);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ name: 'plain', client_id: 'plain' });
    expect(one.body).not.toHaveProperty('client_secret');
    expect((await admin('POST', '/admin/connections', oauth2('by-reader'), readToken)).status).toBe(403);
  });

  test('update changes what is given and keeps the rest; a new secret is sealed too', async () => {
    const updated = await documented('PATCH', '/admin/connections/{name}', '/admin/connections/plain', {
      display_name: 'Plain v2',
      enabled: false,
      claim_mapping: { subject: 'id' },
      client_secret: 'a-replaced-secret',
    });
    expect(updated.body).toMatchObject({ display_name: 'Plain v2', enabled: false, claim_mapping: { subject: 'id' }, position: 5 });
    expect(updated.text).not.toContain('a-replaced-secret');
    const row = await running.db.prisma.connection.findUniqueOrThrow({ where: { name: 'plain' } });
    expect(row.clientSecret).not.toContain('a-replaced-secret');
    expect((await running.server.services.federation.connections.byId(row.id))?.clientSecret).toBe('a-replaced-secret');
  });

  test('each change writes one audit event naming the admin client, and none holds the secret', async () => {
    await admin('POST', '/admin/connections', oauth2('audited'));
    await admin('PATCH', '/admin/connections/audited', { client_secret: 'audited-new-secret', position: 2 });
    await admin('DELETE', '/admin/connections/audited');
    const events = (await admin('GET', '/admin/audit-events?subject=audited')).body.events as { type: string; actorId: string }[];
    expect(events.map((event) => event.type).sort()).toEqual(['connection.created', 'connection.deleted', 'connection.updated']);
    for (const event of events) expect(event).toMatchObject({ actorType: 'admin', actorId: writerId });
    expect(JSON.stringify(events)).not.toContain(SECRET);
    expect(JSON.stringify(events)).not.toContain('audited-new-secret');
  });

  test('unknown is 404, the same name twice is 409', async () => {
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { display_name: 'x' }],
      ['DELETE', undefined],
    ] as const)
      expect([method, (await admin(method, '/admin/connections/nothing-here', body)).status]).toEqual([method, 404]);
    expect((await admin('GET', '/admin/connections/Not-A-Name')).status).toBe(404);
    const again = await admin('POST', '/admin/connections', oauth2('plain'));
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: 'conflict' });
  });

  test('delete removes it and its links, and answers how many links went', async () => {
    await admin('POST', '/admin/connections', oauth2('doomed'));
    const user = await admin('POST', '/admin/users', { email: 'linked@example.com', password: 'long enough password' });
    const doomed = await running.server.services.federation.connections.get('doomed');
    await running.server.services.federation.identities.link(
      user.body.id,
      {
        connectionId: doomed.id,
        connectionName: 'doomed',
        displayName: doomed.display_name,
        profile: { subject: 'upstream-7', email: 'linked@example.com', emailVerified: false },
      },
      CLI_ACTOR,
    );
    const identities = await documented('GET', '/admin/users/{id}/identities', `/admin/users/${user.body.id}/identities`);
    expect(identities.body).toEqual([
      expect.objectContaining({ connection: 'doomed', display_name: 'Plain OAuth', email: 'linked@example.com' }),
    ]);
    expect((await admin('GET', '/admin/users/nobody/identities')).status).toBe(404);

    const deleted = await documented('DELETE', '/admin/connections/{name}', '/admin/connections/doomed');
    expect(deleted.body).toEqual({ identities: 1 });
    expect((await admin('GET', '/admin/connections/doomed')).status).toBe(404);
    expect((await admin('GET', `/admin/users/${user.body.id}/identities`)).body).toEqual([]);
    expect((await documented('DELETE', '/admin/connections/{name}', '/admin/connections/github')).body).toEqual({ identities: 0 });
  });
});

describe('bad connections are refused when saved: 400 naming the field', () => {
  test.each([
    ['a discovery document that names another issuer', () => oidc('impostor', { issuer: impostorUrl }), 'issuer'],
    ['a claim mapping onto an unknown field', () => oauth2('bad-claim', { claim_mapping: { phone: 'x' } }), 'claim_mapping'],
    ['an OpenID Connect scope without openid', () => oidc('no-openid', { scope: 'email profile' }), 'scope'],
    ['OAuth 2.0 without a token URL', () => ({ ...oauth2('no-token'), token_url: undefined }), 'token_url'],
    [
      'the microsoft preset without an issuer',
      () => ({ name: 'entra', preset: 'microsoft', client_id: 'x', client_secret: 'y' }),
      'issuer',
    ],
    ['OpenID Connect with OAuth 2.0 endpoints', () => oidc('mixed', { token_url: 'https://oauth.example.com/token' }), 'token_url'],
    ['an unknown field', () => oauth2('colour', { colour: 'red' }), 'colour'],
    ['a bad name', () => oauth2('Upper Case'), 'name'],
    ['a missing secret', () => ({ ...oauth2('no-secret'), client_secret: undefined }), 'client_secret'],
  ])('%s', async (_name, bodyOf, field) => {
    const body = bodyOf();
    const answer = await admin('POST', '/admin/connections', body);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'invalid_input', field });
    expect(await running.db.prisma.connection.findUnique({ where: { name: body.name } })).toBeNull();
  });

  test('PATCH refuses what POST refuses', async () => {
    const answer = await admin('PATCH', '/admin/connections/upstream', { scope: 'email' });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'invalid_input', field: 'scope' });
    expect((await admin('PATCH', '/admin/connections/upstream', { issuer: impostorUrl })).body).toMatchObject({ field: 'issuer' });
    expect((await admin('PATCH', '/admin/connections/upstream', { position: 'first' })).body).toMatchObject({ field: 'position' });
    expect((await running.db.prisma.connection.findUniqueOrThrow({ where: { name: 'upstream' } })).issuer).toBe(upstream.url);
  });

  test('a non-https issuer in production is refused naming issuer', async () => {
    // The connection service of a production configuration, on a database of its own: an http:
    // issuer is refused before anything is fetched.
    const testDatabase: TestDatabase = await createTestDatabase();
    const config = loadConfig({
      NODE_ENV: 'production',
      ISSUER: 'https://auth.example.com',
      COOKIE_KEYS: 'a-production-cookie-key-that-is-long-enough-1',
      KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64url'),
      HASH_PEPPER: 'a-production-pepper-that-is-long-enough-1234',
      DATABASE_URL: testDatabase.url,
      LOG_LEVEL: 'silent',
    });
    await migrate(config.databaseUrl);
    const db: Database = openDatabase(config.databaseUrl, config);
    const services: Services = createServices({ config, db });
    try {
      const refused = await services.federation.connections.create(oidc('insecure'), CLI_ACTOR).then(
        () => undefined,
        (error: { field?: string; message: string }) => error,
      );
      expect(refused).toMatchObject({ field: 'issuer', message: 'issuer: must be an https: URL in production' });
      expect(await db.prisma.connection.count()).toBe(0);
    } finally {
      await services.close();
      await db.close();
      await testDatabase.drop();
    }
  });
});

describe('the OpenAPI document', () => {
  test('lists the connection routes with their bodies and responses, and no secret in any response', async () => {
    const document = (await (await fetch(`${running.url}/admin/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, { content?: unknown }> }>>;
    };
    expect(Object.keys(document.paths['/admin/connections'] ?? {}).sort()).toEqual(['get', 'post']);
    expect(Object.keys(document.paths['/admin/connections/{name}'] ?? {}).sort()).toEqual(['delete', 'get', 'patch']);
    expect(document.paths['/admin/users/{id}/identities']?.get?.responses['200']?.content).toBeDefined();
    expect(document.paths['/admin/connections']?.post?.requestBody).toBeDefined();
    const created = document.paths['/admin/connections']?.post?.responses['201']?.content as {
      'application/json': { schema: { properties: Record<string, unknown> } };
    };
    const fields = Object.keys(created['application/json'].schema.properties);
    expect(fields).toContain('callback_url');
    expect(fields.filter((field) => /secret/.test(field))).toEqual([]);
  });
});
